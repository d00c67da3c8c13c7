import type { Publisher } from '../../client/publisher.js';
import { monotonicUs } from '../../media/timing-mark.js';
import { DueHeap } from './due-heap.js';

/** Publishers send frames due within this much of now: the timer's resolution is 1 ms. */
const PACING_LOOKAHEAD_US = 1000;

/** Longest sleep of the pacing timer, so a stop is noticed soon. */
const MAX_WAIT_MS = 50;

/**
 * One timer drives every publisher of a worker: a heap by next due time, so a wake touches
 * only the publishers that are due, and frames due within the timer's resolution go now rather
 * than a millisecond late (their marks carry the intended time; latency is measured from the
 * later of the two, so sending early flatters nothing).
 */
export class Pacer {
  private readonly heap = new DueHeap<Publisher>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly again: Publisher[] = [];

  private started = false;

  /** Adds a publisher (a new publication while the pacer runs is paced at once). */
  add(p: Publisher): void {
    this.heap.push(p);
    if (this.started && !this.stopped && this.timer === null) this.timer = setTimeout(() => this.pace(), 0);
  }

  start(): void {
    this.started = true;
    if (this.heap.size > 0) this.pace();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private pace(): void {
    this.timer = null;
    const horizon = monotonicUs() + PACING_LOOKAHEAD_US;
    const again = this.again;
    for (let p = this.heap.popDue(horizon); p !== undefined; p = this.heap.popDue(horizon)) {
      p.pump(horizon);
      if (!p.closed) again.push(p);
    }
    for (const p of again) this.heap.push(p);
    again.length = 0;
    if (this.stopped || this.heap.size === 0) return;
    const waitMs = Math.min(MAX_WAIT_MS, Math.max(0, (this.heap.nextUs - PACING_LOOKAHEAD_US - monotonicUs()) / 1000));
    this.timer = setTimeout(() => this.pace(), waitMs);
  }
}
