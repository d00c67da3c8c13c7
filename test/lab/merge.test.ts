import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeRuns } from '../../src/lab/merge.js';
import { resolveScenario } from '../../src/load/scenario.js';
import {
  decodeHistogram,
  mergeEncoded,
  METRICS,
  Recorder,
  type EncodedHistograms,
  type MetricName,
  type HistogramKey,
} from '../../src/metrics/histograms.js';
import type { IntervalHistogram } from '../../src/metrics/hlog.js';
import { parseHlog } from '../../src/metrics/hlog.js';
import { newCounters, type Counters } from '../../src/results/counters.js';
import { loadRun, newResultsDir, writeRunFolder } from '../../src/results/folder.js';
import { buildSummary } from '../../src/results/summary.js';

const root = mkdtempSync(join(tmpdir(), 'rtmpbench-merge-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A results folder holding exactly these recorded values (µs) and counters. */
function fakeRun(
  name: string,
  values: Partial<Record<MetricName, number[]>>,
  counters: Partial<Counters>,
  perSecond: number,
): string {
  const rec = new Recorder();
  const intervals = new Map<HistogramKey, IntervalHistogram[]>();
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
  const scenario = resolveScenario({
    name: 'merge-me',
    thresholds: ['latency.endToEnd.p99 < 50ms', 'frames.lost == 0'],
  }).scenario!;
  const summary = buildSummary({
    scenario,
    target: 'rtmp://127.0.0.1:1935/live',
    targetKind: 'external',
    startedAt: new Date('2026-01-01T00:00:00Z'),
    durationMs: 30_000,
    counters: c,
    expectedSource: 'none',
    failures: {},
    histograms: mergeEncoded([encoded]),
    generator: { cpuSeconds: 1, maxRssBytes: 100, workers: 2 },
  });
  const dir = newResultsDir(join(root, name), new Date(), 'merge-me');
  writeRunFolder(dir, { summary, timeline: [], histograms: encoded, counters: c, failures: {}, intervals });
  return dir;
}

describe('merge', () => {
  it('of two shards equals the single run that recorded every value: histograms, percentiles, counters and per-second logs', () => {
    // Values like real latencies: a body and a tail, different on each shard.
    const shardA = Array.from({ length: 5000 }, (_, i) => 800 + ((i * 7919) % 20_000));
    const shardB = Array.from({ length: 3000 }, (_, i) => 1500 + ((i * 104_729) % 90_000));
    const ff = (n: number, k: number) => Array.from({ length: n }, (_, i) => 2000 + ((i * k) % 300_000));
    const a = fakeRun(
      'a',
      { endToEnd: shardA, firstFrame: ff(40, 31) },
      { framesReceived: 5000, lost: 0, playersPlanned: 40, playersConnected: 40, playersFailed: 0 },
      1000,
    );
    const b = fakeRun(
      'b',
      { endToEnd: shardB, firstFrame: ff(60, 17) },
      { framesReceived: 3000, lost: 2, playersPlanned: 60, playersConnected: 59, playersFailed: 1 },
      1000,
    );
    const single = fakeRun(
      'single',
      { endToEnd: [...shardA, ...shardB], firstFrame: [...ff(40, 31), ...ff(60, 17)] },
      {},
      1000,
    );

    const { summary, dir } = mergeRuns([loadRun(a), loadRun(b)], join(root, 'out'));
    const merged = loadRun(dir);
    const whole = loadRun(single);
    for (const m of ['endToEnd', 'firstFrame'] as const) {
      expect(merged.histograms[m]).toBe(whole.histograms[m]); // the same histogram, bit for bit
      expect(summary.latencyMs[m]).toEqual(whole.summary.latencyMs[m]);
    }
    expect(summary.sessions.players).toEqual({ planned: 100, connected: 99, failed: 1, ended: 0, tooLateToJudge: 0 });
    expect(summary.frames.lost).toBe(2);
    expect(summary.throughput.framesReceived).toBe(8000);
    const { leak, ...generator } = summary.generator;
    expect(generator).toEqual({ cpuSeconds: 2, maxRssBytes: 100, workers: 4 });
    // Judged on the merged timeline as a single run's is (these shares' seconds have no RSS samples).
    expect(leak?.verdict).toBeDefined();
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
