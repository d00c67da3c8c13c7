import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { encodeHistogram, mergeEncoded, METRICS, newHistogram, type EncodedHistograms, type Histogram, type MetricName } from '../metrics/histograms.js';
import { parseHlog, type IntervalHistogram } from '../metrics/hlog.js';
import { UsageError } from '../protocol/errors.js';
import type { LoadedRun } from '../report/results.js';
import type { TimelinePoint } from './orchestrator.js';
import { newResultsDir, writeResultFiles } from './results-folder.js';
import { buildSummary, sumCounters, sumFailures, type RunSummary } from './summary.js';
import { evaluateThresholds, parseThreshold, type Threshold } from './thresholds.js';

/**
 * Merging runs made apart (on several machines, or `run --shard I/N` each) into one result.
 * Histograms and counters are added exactly (HdrHistograms merge without loss), so the merged
 * percentiles are those of one run that recorded every value; the thresholds are judged again
 * on the whole. Time series are aligned on seconds since each run's start.
 */

export interface MergeOutcome {
  summary: RunSummary;
  dir: string;
  /** Differences between the runs worth a warning (scenario, start times). */
  warnings: string[];
}

function sameScenario(a: RunSummary, b: RunSummary): boolean {
  return JSON.stringify(a.scenario) === JSON.stringify(b.scenario);
}

function readIntervals(dir: string, metric: MetricName): IntervalHistogram[] {
  const path = join(dir, `${metric}.hlog`);
  return existsSync(path) ? parseHlog(readFileSync(path, 'utf8')) : [];
}

/** Merges interval histograms that cover the same second (by their start, rounded). */
function mergeIntervals(lists: IntervalHistogram[][]): IntervalHistogram[] {
  const bySec = new Map<number, Histogram>();
  for (const list of lists) {
    for (const i of list) {
      const sec = Math.round(i.startSec);
      let h = bySec.get(sec);
      if (h === undefined) bySec.set(sec, (h = newHistogram()));
      h.add(i.histogram);
    }
  }
  return [...bySec.entries()].sort((a, b) => a[0] - b[0]).map(([sec, histogram]) => ({ startSec: sec, endSec: sec + 1, histogram }));
}

function mergeTimelines(runs: readonly LoadedRun[], e2e: IntervalHistogram[]): TimelinePoint[] {
  const secs = [...new Set(runs.flatMap((r) => r.timeline.map((p) => p.tSec)))].sort((a, b) => a - b);
  const sum = (sec: number, f: (p: TimelinePoint) => number | null | undefined): number | null => {
    let total: number | null = null;
    for (const r of runs) {
      const v = f(r.timeline.find((p) => p.tSec === sec) ?? ({} as TimelinePoint));
      if (typeof v === 'number') total = (total ?? 0) + v;
    }
    return total;
  };
  return secs.map((sec) => {
    const h = e2e.find((i) => i.endSec === sec)?.histogram;
    const pct = (p: number) => (h !== undefined && h.totalCount > 0 ? h.getValueAtPercentile(p) / 1000 : null);
    return {
      tSec: sec,
      publishersUp: sum(sec, (p) => p.publishersUp) ?? 0,
      playersUp: sum(sec, (p) => p.playersUp) ?? 0,
      mbpsReceived: Math.round((sum(sec, (p) => p.mbpsReceived) ?? 0) * 1000) / 1000,
      framesReceived: sum(sec, (p) => p.framesReceived) ?? 0,
      errors: sum(sec, (p) => p.errors) ?? 0,
      endToEndP50Ms: pct(50),
      endToEndP99Ms: pct(99),
      endToEndP999Ms: pct(99.9),
      generatorCpuPct: sum(sec, (p) => p.generatorCpuPct),
      serverCpuPct: sum(sec, (p) => p.serverCpuPct),
      serverRssBytes: sum(sec, (p) => p.serverRssBytes),
    };
  });
}

/** Merges the runs into a new results folder under `root`. */
export function mergeRuns(runs: readonly LoadedRun[], root: string, name?: string): MergeOutcome {
  if (runs.length < 2) throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', 'merge needs at least two results folders');
  const warnings: string[] = [];
  for (const r of runs) {
    if (r.counters === null || Object.keys(r.histograms).length === 0) {
      throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `${r.dir} has no counters.json / histograms.json (made by an older rtmpbench?): it cannot be merged exactly`);
    }
  }
  const first = runs[0]!.summary;
  for (const r of runs.slice(1)) {
    if (!sameScenario(first, r.summary)) {
      throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `${basename(r.dir)} ran a different scenario than ${basename(runs[0]!.dir)} (merge shares of one scenario: run --shard I/N with the same file and flags)`);
    }
  }
  const starts = runs.map((r) => Date.parse(r.summary.startedAt));
  const spreadS = (Math.max(...starts) - Math.min(...starts)) / 1000;
  if (spreadS > 5) warnings.push(`the runs started ${spreadS.toFixed(0)} s apart; time series are aligned on seconds since each run's start`);
  const targets = new Set(runs.map((r) => r.summary.target));
  if (targets.size > 1) warnings.push(`the runs had different targets (${[...targets].join(', ')})`);

  const histograms = mergeEncoded(runs.map((r) => r.histograms));
  const encoded: EncodedHistograms = {};
  for (const [m, h] of histograms) encoded[m] = encodeHistogram(h);
  const counters = sumCounters(runs.map((r) => r.counters!.counters));
  const failures = sumFailures(runs.map((r) => r.counters!.failures));
  const servers = runs.map((r) => r.summary.server).filter((s): s is NonNullable<RunSummary['server']> => s !== undefined);
  const distinctServers = new Set(servers.map((s) => `${s.pid}`));
  const server =
    servers.length === 0
      ? undefined
      : {
          // One server measured from several machines counts once; servers of their own add up.
          cpuSeconds: distinctServers.size === 1 ? Math.max(...servers.map((s) => s.cpuSeconds)) : servers.reduce((a, s) => a + s.cpuSeconds, 0),
          maxRssBytes: Math.max(...servers.map((s) => s.maxRssBytes)),
          pid: servers[0]!.pid,
        };
  const summary = buildSummary({
    scenario: first.scenario,
    target: first.target,
    targetKind: first.targetKind,
    startedAt: new Date(Math.min(...starts)),
    durationMs: Math.max(...runs.map((r) => r.summary.durationMs)),
    counters,
    failures,
    histograms,
    generator: {
      cpuSeconds: Math.round(runs.reduce((a, r) => a + r.summary.generator.cpuSeconds, 0) * 1000) / 1000,
      maxRssBytes: Math.max(...runs.map((r) => r.summary.generator.maxRssBytes)),
      workers: runs.reduce((a, r) => a + r.summary.generator.workers, 0),
    },
    ...(server !== undefined ? { server } : {}),
  });
  const thresholds = first.scenario.thresholds.map((t) => parseThreshold(t)).filter((t): t is Threshold => typeof t !== 'string');
  summary.thresholds = evaluateThresholds(thresholds, summary, histograms);
  summary.mergedFrom = runs.map((r) => basename(r.dir));

  const intervals = new Map<MetricName, IntervalHistogram[]>();
  for (const m of METRICS) intervals.set(m, mergeIntervals(runs.map((r) => readIntervals(r.dir, m))));
  const timeline = mergeTimelines(runs, intervals.get('endToEnd') ?? []);
  const dir = newResultsDir(root, new Date(Math.min(...starts)), name ?? `${first.name}-merged`);
  writeResultFiles(dir, { summary, timeline, histograms: encoded, counters: { counters, failures }, intervals });
  return { summary, dir, warnings };
}
