import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expandVariants, schedule } from '../../src/load/compare.js';
import { mergeRuns } from '../../src/load/merge.js';
import { newResultsDir, writeResultFiles } from '../../src/load/results-folder.js';
import { resolveScenario } from '../../src/load/scenario.js';
import { newCounters, type ShardCounters } from '../../src/load/shard.js';
import { buildSummary } from '../../src/load/summary.js';
import { decodeHistogram, mergeEncoded, METRICS, Recorder, type EncodedHistograms, type MetricName } from '../../src/metrics/histograms.js';
import type { IntervalHistogram } from '../../src/metrics/hlog.js';
import { parseHlog } from '../../src/metrics/hlog.js';
import { mean, meanInterval, pairedRatio, stdev, studentTCdf, studentTQuantile, welchTest } from '../../src/metrics/stats.js';
import { loadRun } from '../../src/report/results.js';

const root = mkdtempSync(join(tmpdir(), 'rtmpbench-merge-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

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

describe('comparison plans', () => {
  it('expands a matrix into every combination of built-in settings, plus each other server', () => {
    const spec = { servers: ['builtin' as const], matrix: { chunkSize: [128, 4096, 65536], gopCache: [true, false] }, repeat: 3 };
    expect(expandVariants(spec).map((v) => v.name)).toEqual([
      'chunkSize=128,gopCache=true',
      'chunkSize=128,gopCache=false',
      'chunkSize=4096,gopCache=true',
      'chunkSize=4096,gopCache=false',
      'chunkSize=65536,gopCache=true',
      'chunkSize=65536,gopCache=false',
    ]);
    const mixed = expandVariants({ servers: ['builtin', 'nginx-rtmp', { name: 'mine', url: 'rtmp://127.0.0.1:1940/live' }], matrix: { mergeWriteMs: [0, 50] }, repeat: 1 });
    expect(mixed.map((v) => [v.name, v.server, v.settings])).toEqual([
      ['builtin:mergeWriteMs=0', 'builtin', { mergeWriteMs: 0 }],
      ['builtin:mergeWriteMs=50', 'builtin', { mergeWriteMs: 50 }],
      ['nginx-rtmp', 'nginx-rtmp', {}],
      ['mine', 'mine', {}],
    ]);
  });

  it('interleaves repeats, reversing every other round (A B C, C B A, A B C)', () => {
    const v = expandVariants({ servers: ['builtin'], matrix: { chunkSize: [1, 2, 3] }, repeat: 3 });
    expect(schedule(v, 3).map((x) => `${x.round}:${x.variant.settings.chunkSize}`)).toEqual(['0:1', '0:2', '0:3', '1:3', '1:2', '1:1', '2:1', '2:2', '2:3']);
  });
});

/** A results folder holding exactly these recorded values (µs) and counters. */
function fakeRun(name: string, values: Partial<Record<MetricName, number[]>>, counters: Partial<ShardCounters>, perSecond: number): string {
  const rec = new Recorder();
  const intervals = new Map<MetricName, IntervalHistogram[]>();
  // Spread values over seconds, one interval per second, as a run writes them.
  let sec = 0;
  const all = Object.entries(values) as [MetricName, number[]][];
  const longest = Math.max(...all.map(([, v]) => v.length));
  for (let i = 0; i < longest; i += perSecond) {
    for (const [m, v] of all) for (const x of v.slice(i, i + perSecond)) rec.record(m, x);
    const interval = rec.takeInterval();
    sec++;
    for (const [m, enc] of Object.entries(interval) as [MetricName, string][]) {
      const list = intervals.get(m) ?? [];
      list.push({ startSec: sec - 1, endSec: sec, histogram: decodeHistogram(enc) });
      intervals.set(m, list);
    }
  }
  const encoded: EncodedHistograms = rec.encodeTotal();
  const c = { ...newCounters(), ...counters };
  const scenario = resolveScenario({ name: 'merge-me', thresholds: ['latency.endToEnd.p99 < 50ms', 'frames.lost == 0'] }).scenario!;
  const summary = buildSummary({
    scenario,
    target: 'rtmp://127.0.0.1:1935/live',
    targetKind: 'external',
    startedAt: new Date('2026-01-01T00:00:00Z'),
    durationMs: 30_000,
    counters: c,
    failures: {},
    histograms: mergeEncoded([encoded]),
    generator: { cpuSeconds: 1, maxRssBytes: 100, workers: 2 },
  });
  const dir = newResultsDir(join(root, name), new Date(), 'merge-me');
  writeResultFiles(dir, { summary, timeline: [], histograms: encoded, counters: { counters: c, failures: {} }, intervals });
  return dir;
}

describe('merge', () => {
  it('of two shards equals the single run that recorded every value: histograms, percentiles, counters and per-second logs', () => {
    // Values like real latencies: a body and a tail, different on each shard.
    const shardA = Array.from({ length: 5000 }, (_, i) => 800 + ((i * 7919) % 20_000));
    const shardB = Array.from({ length: 3000 }, (_, i) => 1500 + ((i * 104_729) % 90_000));
    const ff = (n: number, k: number) => Array.from({ length: n }, (_, i) => 2000 + ((i * k) % 300_000));
    const a = fakeRun('a', { endToEnd: shardA, firstFrame: ff(40, 31) }, { framesReceived: 5000, lost: 0, players: { planned: 40, connected: 40, failed: 0 } }, 1000);
    const b = fakeRun('b', { endToEnd: shardB, firstFrame: ff(60, 17) }, { framesReceived: 3000, lost: 2, players: { planned: 60, connected: 59, failed: 1 } }, 1000);
    const single = fakeRun('single', { endToEnd: [...shardA, ...shardB], firstFrame: [...ff(40, 31), ...ff(60, 17)] }, {}, 1000);

    const { summary, dir } = mergeRuns([loadRun(a), loadRun(b)], join(root, 'out'));
    const merged = loadRun(dir);
    const whole = loadRun(single);
    for (const m of ['endToEnd', 'firstFrame'] as const) {
      expect(merged.histograms[m]).toBe(whole.histograms[m]); // the same histogram, bit for bit
      expect(summary.latencyMs[m]).toEqual(whole.summary.latencyMs[m]);
    }
    expect(summary.sessions.players).toEqual({ planned: 100, connected: 99, failed: 1 });
    expect(summary.frames.lost).toBe(2);
    expect(summary.throughput.framesReceived).toBe(8000);
    expect(summary.generator).toEqual({ cpuSeconds: 2, maxRssBytes: 100, workers: 4 });
    expect(summary.mergedFrom).toHaveLength(2);
    // Thresholds judged again on the whole.
    expect(summary.thresholds.map((t) => [t.expression, t.passed])).toEqual([
      ['latency.endToEnd.p99 < 50ms', summary.latencyMs.endToEnd.p99 < 50],
      ['frames.lost == 0', false],
    ]);
    // Second by second, the merged log holds the union of both shards' seconds.
    const log = parseHlog(readFileSync(join(dir, 'endToEnd.hlog'), 'utf8'));
    // (5000 values over 5 s from one, 3000 over 3 s from the other.)
    expect(log.map((i) => i.histogram.totalCount)).toEqual([2000, 2000, 2000, 1000, 1000]);
    for (const m of METRICS) if (whole.histograms[m] === undefined) expect(merged.histograms[m]).toBeUndefined();
  });

  it('refuses runs of different scenarios and folders without exact totals', () => {
    const a = fakeRun('c', { endToEnd: [1000] }, {}, 10);
    const other = loadRun(fakeRun('d', { endToEnd: [1000] }, {}, 10));
    other.summary.scenario = { ...other.summary.scenario, streamNames: ['x'] };
    expect(() => mergeRuns([loadRun(a), other], join(root, 'out'))).toThrow(/ran a different scenario/);
    const bare = loadRun(a);
    bare.counters = null;
    expect(() => mergeRuns([bare, loadRun(a)], join(root, 'out'))).toThrow(/cannot be merged exactly/);
    expect(() => mergeRuns([loadRun(a)], join(root, 'out'))).toThrow(/at least two/);
  });
});
