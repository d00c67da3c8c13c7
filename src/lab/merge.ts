import { basename } from 'node:path';
import { UsageError } from '../input/usage-error.js';
import type { ProtocolKey } from '../protocol/delivery.js';
import { encodeHistogram, mergeEncoded, METRICS, newHistogram, type EncodedHistograms, type Histogram, type HistogramKey } from '../metrics/histograms.js';
import type { IntervalHistogram } from '../metrics/hlog.js';
import { addCounters, newCounters, sumCounters, type Counters } from '../results/counters.js';
import { groupFigures, namedGroups } from '../results/groups.js';
import { newResultsDir, readIntervals, writeRunFolder, type LoadedRun } from '../results/folder.js';
import { buildSummary, protocolFigures, protocolHttpErrors, sumFailures, type RunSummary } from '../results/summary.js';
import { evaluateThresholds, parseThresholds } from '../results/thresholds.js';
import { sumUpByProtocol, type TimelinePoint } from '../results/timeline.js';

/**
 * Merging runs made apart (on several machines, or `run --shard I/N` each) into one result.
 * Histograms and counters are added exactly (HdrHistograms merge without loss), so the merged
 * percentiles are those of one run that recorded every value; the thresholds are judged again
 * on the whole. Time series are aligned on seconds since each run's start; a second that only
 * some runs have is marked partial.
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

/** Merges interval histograms that cover the same second (by their end, rounded). */
function mergeIntervals(lists: IntervalHistogram[][]): IntervalHistogram[] {
  const bySec = new Map<number, { startSec: number; endSec: number; histogram: Histogram }>();
  for (const list of lists) {
    for (const i of list) {
      const sec = Math.round(i.endSec);
      let m = bySec.get(sec);
      if (m === undefined) bySec.set(sec, (m = { startSec: i.startSec, endSec: i.endSec, histogram: newHistogram() }));
      m.histogram.add(i.histogram);
    }
  }
  return [...bySec.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Viewers up by protocol over the machines' points for one second, where any of them has the count (RTMP alone otherwise). */
function upByProtocol(points: readonly TimelinePoint[]): Pick<TimelinePoint, 'playersUpByProtocol'> {
  if (!points.some((p) => p.playersUpByProtocol !== undefined)) return {};
  return { playersUpByProtocol: sumUpByProtocol(points.map((p) => p.playersUpByProtocol ?? { rtmp: p.playersUp })) };
}

function mergeTimelines(runs: readonly LoadedRun[], e2e: IntervalHistogram[]): TimelinePoint[] {
  const secs = [...new Set(runs.flatMap((r) => r.timeline.map((p) => p.tSec)))].sort((a, b) => a - b);
  return secs.map((sec) => {
    const points = runs.map((r) => r.timeline.find((p) => p.tSec === sec)).filter((p): p is TimelinePoint => p !== undefined);
    const sum = (f: (p: TimelinePoint) => number | null | undefined): number | null => {
      let total: number | null = null;
      for (const p of points) {
        const v = f(p);
        if (typeof v === 'number') total = (total ?? 0) + v;
      }
      return total;
    };
    const max = (f: (p: TimelinePoint) => number | null | undefined): number | null => {
      const vs = points.map(f).filter((v): v is number => typeof v === 'number');
      return vs.length > 0 ? Math.max(...vs) : null;
    };
    const h = e2e.find((i) => Math.round(i.endSec) === Math.round(sec))?.histogram;
    const pct = (p: number) => (h !== undefined && h.totalCount > 0 ? h.getValueAtPercentile(p) / 1000 : null);
    const partial = points.length < runs.length || points.some((p) => p.partial === true);
    const duration = points.find((p) => p.durationSec !== undefined)?.durationSec;
    return {
      tSec: sec,
      publishersUp: sum((p) => p.publishersUp) ?? 0,
      playersUp: sum((p) => p.playersUp) ?? 0,
      ...upByProtocol(points),
      mbpsReceived: round3(sum((p) => p.mbpsReceived) ?? 0),
      framesReceived: sum((p) => p.framesReceived) ?? 0,
      errors: sum((p) => p.errors) ?? 0,
      endToEndP50Ms: pct(50),
      endToEndP99Ms: pct(99),
      endToEndP999Ms: pct(99.9),
      generatorCpuPct: sum((p) => p.generatorCpuPct),
      // One server measured from several machines: its figures are the same in each run.
      serverCpuPct: max((p) => p.serverCpuPct),
      serverRssBytes: max((p) => p.serverRssBytes),
      generatorRssBytes: max((p) => p.generatorRssBytes),
      generatorEventLoopUtilization: max((p) => p.generatorEventLoopUtilization),
      generatorEventLoopDelayP99Ms: max((p) => p.generatorEventLoopDelayP99Ms),
      ...(partial ? { partial: true, workersReporting: points.length } : {}),
      ...(duration !== undefined ? { durationSec: duration } : {}),
    };
  });
}

/** Merges the runs into a new results folder under `root`. */
export function mergeRuns(runs: readonly LoadedRun[], root: string, name?: string): MergeOutcome {
  if (runs.length < 2) throw new UsageError('merge needs at least two results folders');
  const warnings: string[] = [];
  for (const r of runs) {
    if (r.counters === null || Object.keys(r.histograms).length === 0) {
      throw new UsageError(`${r.dir} has no counters.json / histograms.json (made by an older rtmpbench?): it cannot be merged exactly`);
    }
  }
  const first = runs[0]!.summary;
  for (const r of runs.slice(1)) {
    if (!sameScenario(first, r.summary)) {
      throw new UsageError(`${basename(r.dir)} ran a different scenario than ${basename(runs[0]!.dir)} (merge shares of one scenario: run --shard I/N with the same file and flags)`);
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
  const loops = runs.map((r) => r.summary.generator.eventLoop).filter((e) => e !== undefined);
  const summary = buildSummary({
    scenario: first.scenario,
    target: first.target,
    targetKind: first.targetKind,
    startedAt: new Date(Math.min(...starts)),
    durationMs: Math.max(...runs.map((r) => r.summary.durationMs)),
    counters,
    // Each share accounted for the viewers of the streams it published itself.
    expectedSource: runs.every((r) => r.summary.frames.expectedSource === 'send-logs') ? 'send-logs' : 'none',
    failures,
    histograms,
    generator: {
      cpuSeconds: round3(runs.reduce((a, r) => a + r.summary.generator.cpuSeconds, 0)),
      maxRssBytes: Math.max(...runs.map((r) => r.summary.generator.maxRssBytes)),
      workers: runs.reduce((a, r) => a + r.summary.generator.workers, 0),
      ...(loops.length === runs.length
        ? {
            eventLoop: {
              utilization: Math.max(...loops.map((e) => e.utilization)),
              delayP99Ms: Math.max(...loops.map((e) => e.delayP99Ms)),
              delayMaxMs: Math.max(...loops.map((e) => e.delayMaxMs)),
              workers: loops.flatMap((e) => e.workers),
              main: loops.reduce((a, e) => (e.main.utilization > a.utilization ? e.main : a), loops[0]!.main),
            },
          }
        : {}),
    },
    ...(server !== undefined ? { server } : {}),
  });
  // Each protocol's viewers apart, where every share wrote its counters per protocol.
  let byProtocol: Partial<Record<ProtocolKey, Counters>> | undefined;
  let httpErrors: Record<string, number> | undefined;
  if (runs.every((r) => r.counters?.byProtocol !== undefined)) {
    byProtocol = {};
    for (const r of runs) for (const [k, c] of Object.entries(r.counters!.byProtocol!) as [ProtocolKey, Counters][]) byProtocol[k] = addCounters(byProtocol[k] ?? newCounters(), c);
    httpErrors = sumFailures(runs.map((r) => r.counters!.httpErrors ?? {}));
    summary.byProtocol = {};
    for (const [k, c] of Object.entries(byProtocol) as [ProtocolKey, Counters][]) {
      summary.byProtocol[k] = protocolFigures(k, c, histograms, summary.durationMs, summary.frames.expectedSource ?? 'none', protocolHttpErrors(httpErrors, k));
    }
  }

  const intervals = new Map<HistogramKey, IntervalHistogram[]>();
  const groupKeys = namedGroups(first.scenario).map((g): HistogramKey => `${g.name}.endToEnd`);
  for (const m of [...METRICS, ...groupKeys]) intervals.set(m, mergeIntervals(runs.map((r) => readIntervals(r.dir, m))));
  const byGroup = groupFigures(first.scenario, histograms, intervals, summary.durationMs / 1000);
  if (byGroup !== undefined) summary.byGroup = byGroup;
  summary.thresholds = evaluateThresholds(parseThresholds(first.scenario.thresholds), summary, histograms);
  summary.mergedFrom = runs.map((r) => basename(r.dir));
  const timeline = mergeTimelines(runs, intervals.get('endToEnd') ?? []);
  const dir = newResultsDir(root, new Date(Math.min(...starts)), name ?? `${first.name}-merged`);
  writeRunFolder(dir, { summary, timeline, histograms: encoded, counters, failures, ...(byProtocol !== undefined ? { byProtocol, httpErrors: httpErrors ?? {} } : {}), intervals });
  return { summary, dir, warnings };
}
