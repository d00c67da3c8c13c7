/** How far back a missing sequence number is remembered (a later arrival is then out of order). */
const MISSING_WINDOW = 4096;

export interface SequenceCounters {
  /** Frames missing between marks' sequence numbers (server drops, losses). */
  lost: number;
  duplicated: number;
  outOfOrder: number;
}

/**
 * Loss, duplicates and reordering from the marks' sequence numbers, counted into the viewer's
 * own counters. A gap counts as lost until the frame turns up (then it is out of order);
 * gaps older than a window of 4096 numbers are forgotten (a frame that late counts as a
 * duplicate). A new publication restarts the count: a mark of another epoch (a republished
 * stream numbers from 0 again), or, for marks without epochs, number 0 after higher ones.
 */
export class SequenceTracker {
  private readonly counters: SequenceCounters;
  private highest = -1;
  private epoch = -1;
  private readonly missing = new Set<number>();

  constructor(counters: SequenceCounters) {
    this.counters = counters;
  }

  /** A new publication (or a jump the viewer made on purpose) restarts the numbering. */
  reset(): void {
    this.highest = -1;
    this.missing.clear();
  }

  /** The highest sequence number seen, or -1. */
  get highestSeq(): number {
    return this.highest;
  }

  track(seq: number, epoch = 0): void {
    const c = this.counters;
    if (epoch !== this.epoch) {
      if (this.epoch >= 0) this.reset();
      this.epoch = epoch;
    }
    if (seq === 0 && this.highest > 0) this.reset();
    if (this.highest < 0 || seq === this.highest + 1) {
      this.highest = seq;
      return;
    }
    if (seq > this.highest) {
      c.lost += seq - this.highest - 1;
      for (let s = Math.max(this.highest + 1, seq - MISSING_WINDOW); s < seq; s++) this.missing.add(s);
      if (this.missing.size > MISSING_WINDOW) {
        const it = this.missing.values();
        while (this.missing.size > MISSING_WINDOW) this.missing.delete(it.next().value!);
      }
      this.highest = seq;
      return;
    }
    if (this.missing.delete(seq)) {
      c.lost--;
      c.outOfOrder++;
    } else {
      c.duplicated++;
    }
  }
}
