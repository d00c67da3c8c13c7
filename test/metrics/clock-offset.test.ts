import { describe, expect, it } from 'vitest';
import { ClockOffsetEstimator, type ClockExchange } from '../../src/metrics/clock-offset.js';
import { seededRandom } from '../../src/metrics/robust-slope.js';

/**
 * Exchanges with a simulated remote clock: `offsetUs` ahead of ours at local 0, running
 * `driftPpm` fast, over paths whose two directions take different, random times.
 */
function exchanges(n: number, offsetUs: number, driftPpm: number, seed: number, everyUs = 1_000_000): ClockExchange[] {
  const rnd = seededRandom(seed);
  const out: ClockExchange[] = [];
  for (let i = 0; i < n; i++) {
    const sentUs = 5_000_000 + i * everyUs;
    const there = 50 + rnd() * (rnd() < 0.2 ? 20_000 : 400); // a few slow requests
    const back = 50 + rnd() * (rnd() < 0.2 ? 20_000 : 400);
    const readAt = sentUs + there;
    out.push({ sentUs, remoteUs: readAt + offsetUs + (driftPpm * readAt) / 1e6, receivedUs: readAt + back });
  }
  return out;
}

const truth = (offsetUs: number, driftPpm: number, atUs: number) => offsetUs + (driftPpm * atUs) / 1e6;

describe('the clock offset estimator', () => {
  it('holds the true offset within its bound for clocks seconds and hours apart', () => {
    for (const [offset, seed] of [
      [3_000_000, 1],
      [-7_200_000_000, 2],
      [0, 3],
      [123_456_789_012, 4],
    ] as const) {
      const est = new ClockOffsetEstimator();
      for (const e of exchanges(20, offset, 0, seed)) est.add(e);
      const o = est.estimate()!;
      expect(Math.abs(o.offsetUs - offset)).toBeLessThanOrEqual(o.boundUs);
      // Twenty exchanges with 50–450 µs legs, whatever the rate between the clocks: well under a millisecond.
      expect(o.boundUs).toBeLessThan(1000);
    }
  });

  it('follows a clock that runs 40 ppm fast over ten minutes, bound included', () => {
    const est = new ClockOffsetEstimator();
    const list = exchanges(600, 2_500_000, 40, 7);
    for (const e of list) est.add(e);
    for (const at of [list[100]!.sentUs, list[599]!.receivedUs]) {
      const o = est.estimate(at)!;
      expect(Math.abs(o.offsetUs - truth(2_500_000, 40, at))).toBeLessThanOrEqual(o.boundUs);
      expect(o.driftPpm!).toBeGreaterThan(35);
      expect(o.driftPpm!).toBeLessThan(45);
    }
  });

  it('never leaves the true offset outside its bound, over many clocks, rates and paths', () => {
    const rnd = seededRandom(42);
    for (let k = 0; k < 200; k++) {
      const offset = Math.round((rnd() - 0.5) * 2e10);
      const drift = (rnd() - 0.5) * 300;
      const list = exchanges(5 + Math.floor(rnd() * 60), offset, drift, 100 + k, 200_000 + rnd() * 2_000_000);
      const est = new ClockOffsetEstimator();
      for (const e of list) est.add(e);
      const at = list[Math.floor(rnd() * list.length)]!.receivedUs;
      const o = est.estimate(at)!;
      expect(Math.abs(o.offsetUs - truth(offset, drift, at)), `case ${k}`).toBeLessThanOrEqual(o.boundUs + 1);
    }
  });

  it('uses the fastest exchange when the intervals do not meet (a stepped clock)', () => {
    const est = new ClockOffsetEstimator(60_000_000);
    for (const e of exchanges(5, 1_000_000, 0, 9)) est.add(e);
    // The remote clock is stepped 10 ms ahead: old and new exchanges no longer agree.
    for (const e of exchanges(5, 1_010_000, 0, 10, 1_000_000).map((x) => ({
      ...x,
      sentUs: x.sentUs + 6e6,
      receivedUs: x.receivedUs + 6e6,
      remoteUs: x.remoteUs + 6e6,
    })))
      est.add(e);
    const o = est.estimate()!;
    expect(o.exchanges).toBe(1);
    expect(o.boundUs).toBe(Math.ceil(o.minRttUs / 2));
  });

  it('ignores an exchange whose answer came back before it left, and says nothing before any', () => {
    const est = new ClockOffsetEstimator();
    expect(est.estimate()).toBeNull();
    est.add({ sentUs: 10, receivedUs: 5, remoteUs: 100 });
    expect(est.count).toBe(0);
  });
});
