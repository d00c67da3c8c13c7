import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type FoldedStacks, parseFolded, sampleCount } from '../metrics/stack-samples.js';
import { writeServerProfile } from '../load/server-profiler.js';
import { UsageError } from '../input/usage-error.js';
import { PROTOCOL_KEYS, type ProtocolKey, type ViewerProtocol } from '../protocol/delivery.js';
import {
  encodeHistogram,
  mergeEncoded,
  METRICS,
  newHistogram,
  type EncodedHistograms,
  type Histogram,
  type HistogramKey,
} from '../metrics/histograms.js';
import type { IntervalHistogram } from '../metrics/hlog.js';
import { MAX_BROWSER_ERRORS, type BrowserData, type BrowserGroupTotals } from '../results/browser.js';
import { addCounters, newCounters, sumCounters, type Counters } from '../results/counters.js';
import { namedGroups } from '../results/groups.js';
import { newResultsDir, readIntervals, writeRunFolder, type LoadedRun } from '../results/folder.js';
import { summarizeRun } from '../results/run-data.js';
import { checkShares, reaccount } from './merge-shares.js';
import { scenarioHash } from '../results/share.js';
import { sumFailures, type RunSummary } from '../results/summary.js';
import { mergeTimelinePoint, type TimelinePoint } from '../results/timeline.js';
import { round3 } from '../metrics/round.js';

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
  return scenarioHash(a.scenario) === scenarioHash(b.scenario);
}

/** Merges interval histograms that cover the same second (by their end, rounded). */
function mergeIntervals(lists: IntervalHistogram[][]): IntervalHistogram[] {
  const bySec = new Map<number, { startSec: number; endSec: number; histogram: Histogram }>();
  for (const list of lists) {
    for (const i of list) {
      const sec = Math.round(i.endSec);
      let m = bySec.get(sec);
      if (m === undefined) {
        m = { startSec: i.startSec, endSec: i.endSec, histogram: newHistogram() };
        bySec.set(sec, m);
      }
      m.histogram.add(i.histogram);
    }
  }
  return [...bySec.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** Seconds of the shares' timelines, each second's points merged by the timeline table's rules. */
function mergeTimelines(runs: readonly LoadedRun[], e2e: IntervalHistogram[]): TimelinePoint[] {
  const secs = [...new Set(runs.flatMap((r) => r.timeline.map((p) => p.tSec)))].sort((a, b) => a - b);
  return secs.map((sec) => {
    const points = runs
      .map((r) => r.timeline.find((p) => p.tSec === sec))
      .filter((p): p is TimelinePoint => p !== undefined);
    const h = e2e.find((i) => Math.round(i.endSec) === Math.round(sec))?.histogram;
    return mergeTimelinePoint(points, h, runs.length);
  });
}

type ServerFigures = NonNullable<RunSummary['server']>;

/** Adds or takes the larger of two records of counts, key by key. */
function combine<T extends Readonly<Record<string, number>>>(
  records: readonly (T | undefined)[],
  how: 'sum' | 'max',
): T | undefined {
  const present = records.filter((r): r is T => r !== undefined);
  if (present.length === 0) return undefined;
  const out: Record<string, number> = {};
  for (const r of present)
    for (const [k, v] of Object.entries(r)) out[k] = how === 'sum' ? (out[k] ?? 0) + v : Math.max(out[k] ?? v, v);
  return out as T;
}

/**
 * The server's figures over the shares: one server measured from several machines counts once
 * (the largest of each share's figures: they watched the same process); servers of their own add up.
 */
function mergeServers(servers: readonly ServerFigures[]): ServerFigures | undefined {
  if (servers.length === 0) return undefined;
  const how = new Set(servers.map((s) => s.pid)).size === 1 ? 'max' : 'sum';
  const pick = <K extends 'drops' | 'io' | 'gc' | 'cost' | 'syscalls' | 'closedByReason'>(k: K) => {
    const v = combine(servers.map((s) => s[k]) as Record<string, number>[], how);
    return v === undefined ? {} : { [k]: v };
  };
  const cpu = servers.map((s) => s.cpuSeconds);
  return {
    cpuSeconds: round3(how === 'max' ? Math.max(...cpu) : cpu.reduce((a, b) => a + b, 0)),
    maxRssBytes: Math.max(...servers.map((s) => s.maxRssBytes)),
    pid: servers[0]!.pid,
    ...pick('drops'),
    ...pick('io'),
    ...pick('gc'),
    // The cost's counts; its ratios are made again from them (results/server-cost.ts).
    ...pick('cost'),
    ...pick('syscalls'),
    ...pick('closedByReason'),
  } as ServerFigures;
}

/**
 * The server profiles of the shares (--profile-server) as one: shares that sampled servers of
 * their own add their samples up (as their CPU does); shares that sampled the same processes
 * watched the same samples, so the one with the most is kept. Null when no share has one (or its
 * folded stacks are not in its folder).
 */
function mergeProfiles(
  runs: readonly LoadedRun[],
): { stacks: FoldedStacks; pids: number[]; warning: string | null } | null {
  const profiled = runs.flatMap((r) => {
    const p = r.summary.serverProfile;
    const file = p !== undefined ? join(r.dir, p.files.folded) : null;
    return p !== undefined && file !== null && existsSync(file)
      ? [{ pids: p.pids, stacks: parseFolded(readFileSync(file, 'utf8')), dir: basename(r.dir) }]
      : [];
  });
  if (profiled.length === 0) return null;
  const key = (pids: readonly number[]) => [...pids].sort((a, b) => a - b).join(',');
  const byServer = new Map<string, (typeof profiled)[number]>();
  let dropped = 0;
  for (const p of profiled) {
    const seen = byServer.get(key(p.pids));
    if (seen === undefined || sampleCount(p.stacks) > sampleCount(seen.stacks)) byServer.set(key(p.pids), p);
    if (seen !== undefined) dropped++;
  }
  const stacks: FoldedStacks = new Map();
  for (const p of byServer.values()) for (const [k, n] of p.stacks) stacks.set(k, (stacks.get(k) ?? 0) + n);
  return {
    stacks,
    pids: [...new Set([...byServer.values()].flatMap((p) => p.pids))],
    warning:
      dropped > 0
        ? `${dropped} share(s) profiled a server another share profiled too: the profile with the most samples is kept`
        : null,
  };
}

/**
 * The generator over its machines: CPU and workers add up, memory is the largest machine's, event
 * loops the worst thread's.
 */
function mergeGenerators(runs: readonly LoadedRun[]): RunSummary['generator'] {
  const loops = runs.map((r) => r.summary.generator.eventLoop).filter((e) => e !== undefined);
  return {
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
  };
}

/** A browser group's counts that add up over the shares. */
const BROWSER_SUMS = [
  'viewers',
  'playing',
  'rendered',
  'marked',
  'offTimeline',
  'rebuffers',
  'rebufferMs',
  'stalled',
  'dropped',
  'decoded',
  'kbpsSum',
  'kbpsViewers',
  'playedClockMs',
  'playedMediaMs',
] as const satisfies readonly (keyof BrowserGroupTotals)[];

/**
 * The browser viewers over the shares (their histograms are added with the others): each
 * group's counts added, its clock bound the worst page's, its errors the first few of all; each
 * machine's Chromium cost kept as its own, so the cost per viewer is each machine's CPU over the
 * viewers' time and memory over the viewers, added up (a mean weighted by viewers), and what a
 * machine holds the least any machine holds (results/browser.ts).
 */
function mergeBrowsers(runs: readonly LoadedRun[], warnings: string[]): BrowserData | undefined {
  const kept = runs.flatMap((r) => (r.counters!.browser !== undefined ? [r.counters!.browser] : []));
  const lacking = runs.filter((r) => r.summary.browser !== undefined && r.counters!.browser === undefined);
  if (lacking.length > 0)
    warnings.push(
      `${lacking.map((r) => basename(r.dir)).join(', ')} kept no browser viewers' counts (an older rtmpbench): their browser viewers are left out`,
    );
  if (kept.length === 0) return undefined;
  const groups: Record<string, BrowserGroupTotals> = {};
  for (const d of kept) {
    for (const [name, g] of Object.entries(d.groups)) {
      const into = groups[name];
      if (into === undefined) {
        groups[name] = { ...g, errors: [...g.errors] };
        continue;
      }
      for (const k of BROWSER_SUMS) into[k] = (into[k] ?? 0) + (g[k] ?? 0);
      into.clockBoundUs = Math.max(into.clockBoundUs, g.clockBoundUs);
      into.errors = [...new Set([...into.errors, ...g.errors])].slice(0, MAX_BROWSER_ERRORS);
    }
  }
  return { groups, machines: kept.flatMap((d) => d.machines) };
}

/**
 * Each protocol's counters over the shares. A share that wrote none (an older one, or one whose
 * viewers were of one protocol and whose summary had no byProtocol) counts as the scenario's one
 * protocol when it has one; otherwise the protocols cannot be told apart and none are given.
 */
function mergeByProtocol(runs: readonly LoadedRun[], protocols: readonly ProtocolKey[]): Map<ProtocolKey, Counters> {
  const out = new Map<ProtocolKey, Counters>();
  for (const r of runs) {
    const own =
      r.counters!.byProtocol ?? (protocols.length === 1 ? { [protocols[0]!]: r.counters!.counters } : undefined);
    if (own === undefined) return new Map();
    for (const [k, c] of Object.entries(own) as [ProtocolKey, Counters][])
      out.set(k, addCounters(out.get(k) ?? newCounters(), c));
  }
  return out;
}

/** Merges the runs into a new results folder under `root`. */
export function mergeRuns(
  runs: readonly LoadedRun[],
  root: string,
  name?: string,
  opts: { allowPartial?: boolean } = {},
): MergeOutcome {
  if (runs.length < 2) throw new UsageError('merge needs at least two results folders');
  const warnings: string[] = [];
  for (const r of runs) {
    if (r.counters === null || Object.keys(r.histograms).length === 0) {
      throw new UsageError(
        `${r.dir} has no counters.json / histograms.json (made by an older rtmpbench?): it cannot be merged exactly`,
      );
    }
  }
  const first = runs[0]!.summary;
  for (const r of runs.slice(1)) {
    if (!sameScenario(first, r.summary)) {
      throw new UsageError(
        `${basename(r.dir)} ran a different scenario than ${basename(runs[0]!.dir)} (merge ` +
          `shares of one scenario: run --shard I/N with the same file and flags)`,
      );
    }
  }
  const { shares, missing } = checkShares(runs, opts.allowPartial === true);
  const starts = runs.map((r) => Date.parse(r.summary.startedAt));
  const spreadS = (Math.max(...starts) - Math.min(...starts)) / 1000;
  // Shares with a coordinator began at one planned start: their seconds are the run's.
  if (spreadS > 5 && !(shares?.every((s) => s.clock !== undefined) ?? false)) {
    warnings.push(
      `the runs started ${spreadS.toFixed(0)} s apart; time series are aligned on seconds since each run's start`,
    );
  }
  if (missing !== null) {
    warnings.push(
      `shares ${missing.indexes.join(', ')} are missing: this is part of the run (${(100 * (1 - missing.fractionOfPlayersPlanned)).toFixed(1)}% of its planned viewers)`,
    );
  }
  const targets = new Set(runs.map((r) => r.summary.target));
  if (targets.size > 1) warnings.push(`the runs had different targets (${[...targets].join(', ')})`);

  const scenario = first.scenario;
  const histograms = mergeEncoded(runs.map((r) => r.histograms));
  const intervals = new Map<HistogramKey, IntervalHistogram[]>();
  const groupKeys = namedGroups(scenario).map((g): HistogramKey => `${g.name}.endToEnd`);
  for (const m of [...METRICS, ...groupKeys])
    intervals.set(m, mergeIntervals(runs.map((r) => readIntervals(r.dir, m))));
  const protocols = [
    ...new Set<ViewerProtocol>([
      scenario.players.protocol ?? 'rtmp',
      ...(scenario.viewers ?? []).map((v) => v.protocol),
    ]),
  ].map((p) => PROTOCOL_KEYS[p]);
  const summed = sumCounters(runs.map((r) => r.counters!.counters));
  // Shares' records accounted again together: viewers of a stream another share published too.
  const again = shares !== null ? reaccount(runs, summed, mergeByProtocol(runs, protocols)) : null;
  if (shares !== null && again === null)
    warnings.push("a share kept no accounting records: frames expected are each share's own");
  const byProtocol = again?.byProtocol ?? mergeByProtocol(runs, protocols);
  const counters = again?.counters ?? summed;
  const failures = sumFailures(runs.map((r) => r.counters!.failures));
  const httpErrors = sumFailures(runs.map((r) => r.counters!.httpErrors ?? {}));
  const timeline = mergeTimelines(runs, intervals.get('endToEnd') ?? []);
  const server = mergeServers(runs.map((r) => r.summary.server).filter((s): s is ServerFigures => s !== undefined));
  const browser = mergeBrowsers(runs, warnings);
  const summary = summarizeRun({
    scenario,
    target: first.target,
    targetKind: first.targetKind,
    startedAt: new Date(Math.min(...starts)),
    durationMs: Math.max(...runs.map((r) => r.summary.durationMs)),
    counters,
    byProtocol,
    // Without records to account again, each share accounted for the viewers of the streams it published.
    expectedSource:
      again?.expectedSource ??
      (runs.every((r) => r.summary.frames.expectedSource === 'send-logs') ? 'send-logs' : 'none'),
    failures,
    httpErrors,
    histograms,
    intervals: (key) => intervals.get(key) ?? [],
    timeline,
    generator: mergeGenerators(runs),
    ...(server !== undefined ? { server } : {}),
    ...(browser !== undefined ? { browser } : {}),
  });
  summary.mergedFrom = runs.map((r) => basename(r.dir));
  const profiles = mergeProfiles(runs);
  if (shares !== null) summary.shares = shares;
  if (missing !== null) summary.missingShares = missing;
  const encoded: EncodedHistograms = {};
  for (const [m, h] of histograms) encoded[m] = encodeHistogram(h);
  const dir = newResultsDir(root, new Date(Math.min(...starts)), name ?? `${first.name}-merged`);
  if (profiles !== null) {
    summary.serverProfile = writeServerProfile(dir, profiles.stacks, summary.name, profiles.pids);
    if (profiles.warning !== null) warnings.push(profiles.warning);
  }
  writeRunFolder(dir, {
    summary,
    timeline,
    histograms: encoded,
    counters,
    failures,
    byProtocol: Object.fromEntries(byProtocol),
    httpErrors,
    ...(browser !== undefined ? { browser } : {}),
    intervals,
  });
  return { summary, dir, warnings };
}
