import { RingQueue } from '../buffers/ring-queue.js';
import { updateCoarseClock } from './coarse-clock.js';
import type { SharedMessage } from './shared-message.js';

/** What one flush of a stream brought: its messages, and their wire bytes as one buffer. */
export interface Batch {
  /**
   * The messages' wire bytes, concatenated once (the same object as `messages[0]` when alone).
   * The batch holds one reference to it and one to each message.
   */
  readonly wire: SharedMessage;
  readonly messages: readonly SharedMessage[];
  /** The smallest queue share any message of the batch may fill (priority-drop). */
  readonly minShare: number;
}

/** What the fan-out needs of a player's send queue. */
export interface MemberQueue {
  /** Messages wait to be written. */
  readonly pending: boolean;
  /** Writes what waits (one burst's worth, or everything with `all`). */
  flush(all?: boolean): void;
}

/** A player as the fan-out sees it; `nextSeq` is the first batch it has not been given. */
export interface FanOutMember {
  readonly queue: MemberQueue;
  nextSeq: number;
  /** Gives the player the batches it has not had (the stream decides how). */
  take(batches: BatchWindow, from: number, to: number): void;
}

/** The batches a visit may read, by sequence number. */
export interface BatchWindow {
  at(seq: number): Batch;
}

/**
 * Time one slice of a pass may take before the loop gets a turn, in ms. A pass over 2000
 * players takes about 10 ms of write calls on this kind of machine; in slices, the publisher's
 * next read is taken in between, and every player the pass has not reached yet gets both
 * batches in one write instead of one write each, a little earlier than it would otherwise.
 */
const SLICE_MS = 1;
/** Players visited between two looks at the clock. */
const CLOCK_EVERY = 32;

/**
 * The fan-out of one stream: batches go to every player in passes. A pass visits each player
 * once, in order, and gives it everything published since its last visit in one write (its
 * queue's flush). A pass runs in slices of about a millisecond and yields to the event loop
 * between them, so what the publisher sends meanwhile joins the pass under way: players not
 * yet visited take it in the same write as the earlier batch, and the pass goes round again for
 * those already visited. Nobody gets anything later than a pass per batch would give it, and
 * the busier the server, the more batches share a write (no timer, no added delay).
 *
 * Batches stay until every player has had them (the end of the pass that started after them).
 */
export class FanOut implements BatchWindow {
  private readonly members: (FanOutMember | null)[] = [];
  private holes = 0;
  private readonly batches = new RingQueue<Batch>(64);
  /** Sequence number of `batches.at(0)`. */
  private firstSeq = 0;
  /** Sequence number the next batch gets. */
  private nextSeq = 0;
  private cursor = 0;
  /** The newest batch when the current pass started: the pass delivers everything up to it. */
  private passHead = -1;
  private inPass = false;
  private scheduled = false;
  private readonly runBound = () => {
    this.scheduled = false;
    if (this.inPass) this.run(true);
  };
  /** Passes and slices run so far (for tests and stats). */
  passes = 0;
  slices = 0;

  /** A pass is under way (or waits for its next slice). */
  get running(): boolean {
    return this.inPass;
  }

  get size(): number {
    return this.members.length - this.holes;
  }

  /** The first sequence number a member added now will get. */
  get head(): number {
    return this.nextSeq;
  }

  at(seq: number): Batch {
    return this.batches.at(seq - this.firstSeq)!;
  }

  /**
   * A new member; with `waiting`, it has messages queued (a joiner's GOP cache) and gets its
   * first visit soon, in a pass of its own if none is under way.
   */
  add(m: FanOutMember, waiting = false): void {
    m.nextSeq = this.nextSeq;
    this.members.push(m);
    if (waiting && !this.inPass) {
      this.startPass();
      this.schedule();
    }
  }

  remove(m: FanOutMember): void {
    const i = this.members.indexOf(m);
    if (i < 0) return;
    this.members[i] = null;
    this.holes++;
    if (!this.inPass) this.compact();
  }

  forEach(fn: (m: FanOutMember) => void): void {
    for (const m of this.members) if (m !== null) fn(m);
  }

  /** Hands a batch to every member (taking over the caller's references to its buffers). */
  publish(batch: Batch): void {
    this.batches.push(batch);
    this.nextSeq++;
    if (this.inPass) return; // the pass under way takes it
    this.startPass();
    this.run(true);
  }

  /**
   * Completes any pass under way now, without yielding, and hands every member's queue to its
   * socket (before control messages to all players, and when the stream ends).
   */
  drain(): void {
    if (this.inPass) this.run(false);
    for (const m of this.members) if (m !== null) m.queue.flush(true);
  }

  /** Releases every batch (the stream is going away). */
  dispose(): void {
    while (this.batches.length > 0) release(this.batches.shift()!);
    this.firstSeq = this.nextSeq;
    this.inPass = false;
  }

  private startPass(): void {
    this.inPass = true;
    this.passHead = this.nextSeq - 1;
    this.cursor = 0;
    this.passes++;
  }

  private run(slice: boolean): void {
    this.slices++;
    const members = this.members;
    const now = updateCoarseClock();
    const deadline = slice ? now + SLICE_MS : Infinity;
    for (;;) {
      while (this.cursor < members.length) {
        const m = members[this.cursor++];
        if (m === null || m === undefined) continue;
        if (m.nextSeq < this.nextSeq) {
          m.take(this, m.nextSeq, this.nextSeq);
          m.nextSeq = this.nextSeq;
          m.queue.flush();
        } else if (m.queue.pending) {
          m.queue.flush(); // a joiner's GOP cache, or a backlog: one burst's worth per pass
        }
        if (slice && (this.cursor & (CLOCK_EVERY - 1)) === 0 && performance.now() > deadline) {
          this.schedule();
          return;
        }
      }
      // Every member has had everything up to passHead.
      while (this.firstSeq <= this.passHead) {
        release(this.batches.shift()!);
        this.firstSeq++;
      }
      this.compact();
      if (this.nextSeq - 1 === this.passHead) {
        this.inPass = false;
        return;
      }
      // Batches came during the pass: members visited before them still need them.
      this.startPass();
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.runBound);
  }

  private compact(): void {
    if (this.holes === 0) return;
    let w = 0;
    const members = this.members;
    for (let r = 0; r < members.length; r++) {
      const m = members[r];
      if (m !== null && m !== undefined) members[w++] = m;
    }
    members.length = w;
    this.holes = 0;
  }
}

function release(b: Batch): void {
  b.wire.release();
  for (const m of b.messages) m.release();
}
