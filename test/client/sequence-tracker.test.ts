import { describe, expect, it } from 'vitest';
import { PlayoutClock } from '../../src/client/hls-playout.js';
import { SequenceTracker } from '../../src/client/sequence-tracker.js';

function track(seqs: number[]) {
  const c = { lost: 0, duplicated: 0, outOfOrder: 0 };
  const t = new SequenceTracker(c);
  for (const s of seqs) t.track(s);
  return c;
}

describe('SequenceTracker', () => {
  it('counts nothing for a run in order, from any first number', () => {
    expect(track([7, 8, 9, 10])).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0 });
  });

  it('counts a gap as lost until the frame turns up, then as out of order', () => {
    expect(track([1, 2, 5, 6])).toEqual({ lost: 2, duplicated: 0, outOfOrder: 0 });
    expect(track([1, 2, 5, 3, 6])).toEqual({ lost: 1, duplicated: 0, outOfOrder: 1 });
  });

  it('counts a number seen twice as duplicated', () => {
    expect(track([1, 2, 2, 3, 1])).toEqual({ lost: 0, duplicated: 2, outOfOrder: 0 });
  });

  it('restarts at number 0 after higher ones (a new publication), counting nothing lost', () => {
    expect(track([40, 41, 42, 0, 1, 2])).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0 });
  });

  it('starts a new count in a new epoch (a republished stream), whatever the numbers', () => {
    const c = { lost: 0, duplicated: 0, outOfOrder: 0 };
    const t = new SequenceTracker(c);
    for (const s of [10, 11, 12]) t.track(s, 0);
    for (const s of [3, 4, 6]) t.track(s, 1); // joined the new publication at 3; 5 lost
    expect(c).toEqual({ lost: 1, duplicated: 0, outOfOrder: 0 });
  });
});

describe('PlayoutClock', () => {
  it('starts playing when the first segment is in and shows frames on the media clock', () => {
    const p = new PlayoutClock();
    p.beginSegment(1000, 2, 5_000_000, true);
    expect(p.at(1000)).toBe(5_000_000);
    expect(p.at(1040)).toBe(5_040_000);
    // The next segment arrives before it is due: no stall, same clock.
    p.beginSegment(3000, 2, 6_500_000, true);
    expect(p.at(3000)).toBe(7_000_000);
    expect(p.rebuffers).toBe(0);
  });

  it('stalls when a segment arrives after its first frame was due, and plays on from its arrival', () => {
    const p = new PlayoutClock();
    p.beginSegment(0, 2, 1_000_000, true);
    p.beginSegment(2000, 2, 3_600_000, true); // due at 3.0 s
    expect(p.rebuffers).toBe(1);
    expect(p.rebufferUs).toBe(600_000);
    expect(p.at(2040)).toBe(3_640_000);
  });

  it('starts at a point past the first part when the part holding it is in, with no rebuffer', () => {
    // LL-HLS: 200 ms parts from the keyframe at 5000 ms; the start point is 800 ms in (part 4).
    const p = new PlayoutClock();
    p.seekIntoFirst(800);
    p.beginSegment(5000, 0.2, 1_000_000, true);
    p.beginSegment(5200, 0.2, 1_020_000, true);
    p.beginSegment(5400, 0.2, 1_040_000, true);
    p.beginSegment(5600, 0.2, 1_060_000, true);
    expect(p.rebuffers).toBe(0);
    p.beginSegment(5800, 0.2, 1_080_000, true); // holds 5800: the clock starts at its arrival
    expect(p.at(5800)).toBe(1_080_000);
    expect(p.at(5900)).toBe(1_180_000);
    // The next part, on time: same clock; late: a rebuffer as usual.
    p.beginSegment(6000, 0.2, 1_200_000, true);
    expect(p.at(6000)).toBe(1_280_000);
    p.beginSegment(6200, 0.2, 1_600_000, true); // due at 1.48 s
    expect(p.rebuffers).toBe(1);
    expect(p.rebufferUs).toBe(120_000);
  });

  it('starts at once when the first part holds the start point', () => {
    const p = new PlayoutClock();
    p.seekIntoFirst(150);
    p.beginSegment(5000, 0.2, 1_000_000, true);
    expect(p.at(5150)).toBe(1_000_000);
    p.beginSegment(5200, 0.2, 1_010_000, true);
    expect(p.at(5200)).toBe(1_050_000);
    expect(p.rebuffers).toBe(0);
  });

  it('plays a segment after a discontinuity right after the previous one, whatever its timestamps', () => {
    const p = new PlayoutClock();
    p.beginSegment(0, 2, 1_000_000, true);
    p.beginSegment(90_000, 2, 1_500_000, false);
    expect(p.at(90_000)).toBe(3_000_000);
    expect(p.rebuffers).toBe(0);
  });
});
