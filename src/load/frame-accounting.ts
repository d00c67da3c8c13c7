import type { ProtocolKey } from '../protocol/delivery.js';
import { newCounters, type Counters } from '../results/counters.js';
import type { SendLogChunk, ViewerRecord } from './worker-protocol.js';

/**
 * Frame accounting: what each viewer should have received, from the publishers' own send logs,
 * independently of the marks' sequence numbers the viewers count losses from. On a clean run
 * the two agree: frames received + frames lost == frames expected.
 *
 * - A viewer that got video should have had every frame from its first received one until
 *   its last, and, at the end of the run, until the publisher stopped. One that left while
 *   frames were still coming was due no more: what had not reached it was in flight, or
 *   queued behind the GOP cache it was still catching up on. One that had gone longer than
 *   the stall threshold without a frame when it left was due what was sent until its last
 *   latency before it left: those frames stalled on their way, and count as expected.
 * - A viewer that got none should have had every frame from the first keyframe after its play
 *   started (the latest point any server should start it) until it left; those count as lost.
 *
 * Send logs are kept for a sliding window only, and a viewer's record waits only until the log
 * covers the time it left: memory follows the sessions alive, not those that ever lived.
 */

/** How far back send logs are kept. */
const LOG_WINDOW_MS = 120_000;

class SendLog {
  /** Send times (ms since the run start) of seqs base .. base + times.length - 1. */
  private times: number[] = [];
  private base = 0;
  /** Keyframe seqs within the window, ascending. */
  private keyframes: number[] = [];
  /** Highest seq sent, -1 before any; the first seq the publication sent. */
  lastSeq = -1;
  firstSeq = 0;
  lastTimeMs = -Infinity;

  add(c: SendLogChunk): void {
    if (this.times.length === 0 && this.lastSeq < 0) this.base = this.firstSeq = c.firstSeq;
    // Chunks of one publisher arrive in order and without gaps.
    for (let i = 0; i < c.sentMs.length; i++) {
      const seq = c.firstSeq + i;
      if (seq !== this.base + this.times.length) continue;
      this.times.push(c.sentMs[i]!);
    }
    for (const k of c.keyframes) this.keyframes.push(k);
    if (c.sentMs.length > 0) {
      this.lastSeq = Math.max(this.lastSeq, c.firstSeq + c.sentMs.length - 1);
      this.lastTimeMs = Math.max(this.lastTimeMs, c.sentMs[c.sentMs.length - 1]!);
    }
    this.trim();
  }

  private trim(): void {
    const cutMs = this.lastTimeMs - LOG_WINDOW_MS;
    let drop = 0;
    while (drop < this.times.length - 1 && this.times[drop]! < cutMs) drop++;
    if (drop > 1024 || drop > this.times.length / 2) {
      this.times = this.times.slice(drop);
      this.base += drop;
      this.keyframes = this.keyframes.filter((k) => k >= this.base);
    }
  }

  /** The highest seq sent at or before `tMs` (base - 1 when none in the window). */
  seqSentBy(tMs: number): number {
    let lo = 0;
    let hi = this.times.length; // first index with time > tMs
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid]! <= tMs) lo = mid + 1;
      else hi = mid;
    }
    return this.base + lo - 1;
  }

  /** The first keyframe sent at or after `tMs`, or null. */
  keyframeFrom(tMs: number): number | null {
    for (const k of this.keyframes) {
      const t = this.times[k - this.base];
      if (t !== undefined && t >= tMs) return k;
    }
    return null;
  }
}

export class FrameAccounting {
  private readonly logs = new Map<string, SendLog>();
  private pending: ViewerRecord[] = [];
  /** What accounting adds to the run's counters: expected frames, and the lost frames of viewers without video. */
  readonly added: Counters = newCounters();
  /** The same for each viewer protocol. */
  readonly addedBy = new Map<ProtocolKey, Counters>();
  /** A viewer watched a stream this run did not publish: expected frames are not known. */
  private unknown = false;

  constructor(
    private readonly publishedHere: ReadonlySet<number>,
    /** A viewer without a frame for longer than this when it left had stalled (the scenario's stall threshold). */
    private readonly stallMs = 1000,
  ) {}

  get source(): 'send-logs' | 'none' {
    return this.unknown ? 'none' : 'send-logs';
  }

  addSends(chunks: readonly SendLogChunk[]): void {
    for (const c of chunks) {
      const key = `${c.stream}:${c.epoch}`;
      let log = this.logs.get(key);
      if (log === undefined) {
        log = new SendLog();
        this.logs.set(key, log);
      }
      log.add(c);
    }
    this.settle(false);
  }

  addViewers(records: readonly ViewerRecord[]): void {
    for (const r of records) {
      if (!this.publishedHere.has(r.stream)) this.unknown = true;
      else this.pending.push(r);
    }
    this.settle(false);
  }

  /** The run is over and every log is in: settle every record left. */
  finish(): Counters {
    this.settle(true);
    return this.added;
  }

  private settle(final: boolean): void {
    if (this.pending.length === 0) return;
    const waiting: ViewerRecord[] = [];
    for (const r of this.pending) {
      const log = this.logs.get(`${r.stream}:${r.epoch}`);
      // A publication's log is whole once the run is over or the stream's next publication began.
      const whole = final || this.logs.has(`${r.stream}:${r.epoch + 1}`);
      if (!whole && (r.atEnd || log === undefined || log.lastTimeMs < r.leftMs)) {
        waiting.push(r);
        continue;
      }
      this.account(r, log);
    }
    this.pending = waiting;
  }

  private account(r: ViewerRecord, log: SendLog | undefined): void {
    if (log === undefined) return; // the stream's publisher sent nothing
    let into = this.addedBy.get(r.protocol);
    if (into === undefined) {
      into = newCounters();
      this.addedBy.set(r.protocol, into);
    }
    for (const c of [this.added, into]) this.add(c, r, log);
  }

  private add(c: Counters, r: ViewerRecord, log: SendLog): void {
    let expected: number;
    if (r.firstSeq >= 0) {
      let end = r.lastSeq;
      if (!r.dueUntilLastFrame) {
        if (r.atEnd) end = log.lastSeq;
        else if (r.leftMs - r.lastFrameMs > this.stallMs) end = log.seqSentBy(r.leftMs - r.lastLatencyMs);
      }
      // A viewer that followed the stream into this publication was due it from its first frame.
      const from = r.followed ? Math.min(r.firstSeq, log.firstSeq) : r.firstSeq;
      expected = Math.max(end, r.lastSeq) - from + 1;
    } else {
      const from = log.keyframeFrom(r.playSentMs);
      const end = r.atEnd ? log.lastSeq : log.seqSentBy(r.leftMs);
      expected = from === null || from > end ? 0 : end - from + 1;
      if (r.slow) c.slowLost += expected;
      else c.lost += expected;
    }
    if (r.slow) c.slowExpected += expected;
    else c.expected += expected;
  }
}
