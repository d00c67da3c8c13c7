import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeHistogram,
  encodeHistogram,
  mergeEncoded,
  newHistogram,
  Recorder,
  summarize,
} from '../../src/metrics/histograms.js';
import { formatHlog, parseHlog } from '../../src/metrics/hlog.js';

describe('histogram merge', () => {
  it('merging encoded histograms from several workers equals recording everything in one place', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 5_000_000 }), { maxLength: 300 }), { minLength: 1, maxLength: 6 }),
        (workers) => {
          const one = newHistogram();
          const encoded = workers.map((values) => {
            const r = new Recorder();
            for (const v of values) {
              r.record('endToEnd', v);
              one.recordValue(v);
            }
            return r.encodeTotal();
          });
          const merged = mergeEncoded(encoded).get('endToEnd');
          if (one.totalCount === 0) {
            expect(merged).toBeUndefined();
            return;
          }
          expect(merged!.totalCount).toBe(one.totalCount);
          expect(summarize(merged)).toEqual(summarize(one));
          expect(encodeHistogram(merged!)).toBe(encodeHistogram(one));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('round-trips interval histograms through an .hlog file', () => {
    const a = newHistogram();
    const b = newHistogram();
    for (let i = 1; i <= 100; i++) a.recordValue(i * 1000);
    for (let i = 1; i <= 50; i++) b.recordValue(i * 2000);
    const text = formatHlog(
      [
        { startSec: 0, endSec: 1, histogram: a },
        { startSec: 1, endSec: 2, histogram: b },
      ],
      Date.UTC(2026, 0, 1),
      'test',
    );
    expect(text).toMatch(/^#\[Histogram log format version 1\.3\]$/m);
    const back = parseHlog(text);
    expect(back.map((i) => i.histogram.totalCount)).toEqual([100, 50]);
    expect(back[1]!.startSec).toBeCloseTo(1);
    expect(summarize(back[0]!.histogram)).toEqual(summarize(a));
  });

  it('summarizes in milliseconds', () => {
    const h = newHistogram();
    for (const us of [1000, 2000, 3000, 4000, 100_000]) h.recordValue(us);
    // Percentiles are the upper ends of HdrHistogram buckets (3 significant digits).
    expect(summarize(h)).toMatchObject({ count: 5, min: 1, max: 100.031, p50: 3.001 });
    expect(summarize(undefined)).toMatchObject({ count: 0, p99: 0 });
    expect(decodeHistogram(encodeHistogram(h)).totalCount).toBe(5);
  });
});
