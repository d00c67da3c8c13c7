import { describe, expect, it } from 'vitest';
import { leakVerdict, type LeakSample } from '../../src/metrics/leak.js';
import { leakFigures } from '../../src/results/leak.js';

const series = (bytesPerSession: number): LeakSample[] =>
  Array.from({ length: 91 }, (_, t) => ({
    tSec: t,
    sessionsEnded: 10 * t,
    rssBytes: 60e6 + bytesPerSession * 10 * t + (t % 7) * 50_000,
    fds: 30,
  }));

describe('server.leak in summary.json', () => {
  it('carries the verdict, detected as 1 or 0, and whole bytes', () => {
    const leak = leakFigures(leakVerdict(series(8192)));
    expect(leak.verdict).toBe('leak');
    expect(leak.detected).toBe(1);
    expect(Number.isInteger(leak.bytesPerSession!.estimate)).toBe(true);
    expect(leak.bytesPerSession!.low).toBeGreaterThan(leak.marginBytesPerSession);
    expect(leak.fdsPerSession).toEqual({ estimate: 0, low: 0, high: 0 });
    const clean = leakFigures(leakVerdict(series(0)));
    expect(clean.verdict).toBe('no-leak');
    expect(clean.detected).toBe(0);
    expect(JSON.parse(JSON.stringify(clean))).toEqual(clean);
  });

  it('has null figures, never NaN, when there was too little to judge', () => {
    const none = leakFigures(leakVerdict([]));
    expect(none.verdict).toBe('inconclusive');
    expect(none.detected).toBe(0);
    expect(none.bytesPerSession).toBeNull();
    expect(JSON.stringify(none)).not.toMatch(/NaN|Infinity/);
  });
});
