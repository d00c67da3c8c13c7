import { describe, expect, it } from 'vitest';
import {
  mean,
  meanInterval,
  pairedRatio,
  stdev,
  studentTCdf,
  studentTQuantile,
  welchTest,
} from '../../src/metrics/stats.js';

describe('statistics for repeated runs', () => {
  it('matches published values of Student’s t', () => {
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.7062, 3);
    expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.2281, 3);
    expect(studentTQuantile(0.975, 30)).toBeCloseTo(2.0423, 3);
    expect(studentTQuantile(0.995, 5)).toBeCloseTo(4.0321, 3);
    expect(studentTQuantile(0.975, 1e6)).toBeCloseTo(1.96, 2);
    expect(studentTCdf(0, 7)).toBeCloseTo(0.5, 12);
    expect(studentTCdf(2.2281, 10)).toBeCloseTo(0.975, 4);
  });

  it('runs Welch’s test as in the textbook example (t = 2.46, df = 24.9, p = 0.021)', () => {
    const a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
    const b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];
    const w = welchTest(a, b)!;
    expect(w.t).toBeCloseTo(2.46, 2);
    expect(w.df).toBeGreaterThan(24.9);
    expect(w.df).toBeLessThan(25.1);
    expect(w.p).toBeCloseTo(0.021, 3);
    expect(w.low).toBeGreaterThan(0);
    expect(welchTest([1], [2, 3])).toBeNull();
  });

  it('gives means, spreads and paired ratios with intervals', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(stdev([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(2.138, 3);
    const ci = meanInterval([10, 12, 11, 13, 9])!;
    expect(ci.estimate).toBe(11);
    expect(ci.high - ci.estimate).toBeCloseTo(2.7764 * (Math.sqrt(2.5) / Math.sqrt(5)), 3);
    expect(pairedRatio([2, 4, 6], [1, 2, 3])).toEqual({ estimate: 2, low: 2, high: 2, n: 3 });
    const r = pairedRatio([1.9, 2.1, 2.0, 2.2], [1, 1, 1, 1])!;
    expect(r.low).toBeLessThan(r.estimate);
    expect(r.high).toBeGreaterThan(r.estimate);
    expect(pairedRatio([0, 0], [1, 1])).toBeNull();
  });
});
