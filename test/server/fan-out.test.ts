import { describe, expect, it } from 'vitest';
import { FanOut, type Batch, type BatchWindow, type FanOutMember } from '../../src/server/fan-out.js';
import { MessageClass, SharedMessage } from '../../src/server/shared-message.js';

/** A member that records the batch numbers it took and the flushes it got. */
class Recorder implements FanOutMember {
  nextSeq = 0;
  readonly taken: number[] = [];
  /** Batches taken per visit (a visit ends with a flush). */
  readonly visits: number[][] = [];
  flushes = 0;
  private current: number[] = [];
  readonly queue = {
    pending: false,
    flush: () => {
      this.flushes++;
      this.visits.push(this.current);
      this.current = [];
    },
  };

  constructor(private readonly costUs = 0) {}

  take(window: BatchWindow, from: number, to: number): void {
    for (let s = from; s < to; s++) {
      const b = window.at(s);
      expect(b.wire.released).toBe(false);
      const n = b.wire.wire.readUInt32BE(0);
      this.taken.push(n);
      this.current.push(n);
    }
    if (this.costUs > 0) {
      const until = performance.now() + this.costUs / 1000;
      while (performance.now() < until);
    }
  }
}

/** Batch number `n`: one message whose wire bytes carry the number; counts its releases. */
function batch(n: number, released: number[]): Batch {
  const wire = Buffer.alloc(4);
  wire.writeUInt32BE(n);
  const msg = new SharedMessage(wire, MessageClass.VIDEO_INTER, n, {
    acquire: (s) => Buffer.alloc(s),
    release: () => released.push(n),
  });
  return { wire: msg.retain(), messages: [msg], minShare: 1 };
}

const turn = () => new Promise((r) => setImmediate(r));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('FanOut', () => {
  it('gives every member every batch once, in order, whether batches come between passes or during them', async () => {
    const fan = new FanOut();
    const members = Array.from({ length: 300 }, () => new Recorder(5));
    for (const m of members) fan.add(m);
    const released: number[] = [];
    for (let n = 0; n < 40; n++) {
      fan.publish(batch(n, released));
      if (n % 3 === 0) await turn(); // sometimes mid-pass, sometimes after it
    }
    while (fan.running) await turn();
    for (const m of members) expect(m.taken).toEqual(range(40));
    // Each batch's buffer went back (its last reference released) once every member had it.
    expect(released.sort((a, b) => a - b)).toEqual(range(40));
  });

  it('yields to the event loop during a long pass, and members not yet visited take a batch published meanwhile in the same write', async () => {
    const fan = new FanOut();
    const members = Array.from({ length: 400 }, () => new Recorder(20)); // ~8 ms a pass: several slices
    for (const m of members) fan.add(m);
    const released: number[] = [];
    fan.publish(batch(0, released));
    expect(fan.running).toBe(true); // the first slice ran at once; the rest waits for the loop
    const visitedFirst = members.filter((m) => m.flushes === 1).length;
    expect(visitedFirst).toBeGreaterThan(0);
    expect(visitedFirst).toBeLessThan(members.length);
    fan.publish(batch(1, released)); // arrives while the pass is under way
    while (fan.running) await turn();
    for (const m of members) expect(m.taken).toEqual([0, 1]);
    // Visited before batch 1: a write each; the rest: one write with both.
    expect(members.slice(0, visitedFirst).every((m) => m.visits.length === 2)).toBe(true);
    expect(members.slice(visitedFirst).every((m) => m.visits.length === 1 && m.visits[0]!.length === 2)).toBe(true);
    expect(fan.slices).toBeGreaterThan(1);
  });

  it('starts a member added during a pass at the next batch, and passes over one removed during it', async () => {
    const fan = new FanOut();
    const members = Array.from({ length: 300 }, () => new Recorder(20));
    for (const m of members) fan.add(m);
    const released: number[] = [];
    fan.publish(batch(0, released));
    const late = new Recorder();
    fan.add(late);
    const gone = members[members.length - 1]!;
    fan.remove(gone);
    fan.publish(batch(1, released));
    while (fan.running) await turn();
    expect(late.taken).toEqual([1]);
    expect(gone.taken).toEqual([]);
    expect(members[0]!.taken).toEqual([0, 1]);
    expect(fan.size).toBe(300);
  });

  it('drain completes the pass under way at once', () => {
    const fan = new FanOut();
    const members = Array.from({ length: 300 }, () => new Recorder(20));
    for (const m of members) fan.add(m);
    fan.publish(batch(0, []));
    expect(fan.running).toBe(true);
    fan.drain();
    expect(fan.running).toBe(false);
    for (const m of members) expect(m.taken).toEqual([0]);
  });

  it('visits a member with messages waiting (a joiner) even when no batch comes', async () => {
    const fan = new FanOut();
    const joiner = new Recorder();
    joiner.queue.pending = true;
    fan.add(joiner, true);
    await turn();
    expect(joiner.flushes).toBe(1);
  });
});
