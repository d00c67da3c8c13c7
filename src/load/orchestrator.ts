import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { parseRtmpUrl } from '../client/url.js';
import { monotonicUs } from '../media/timing-mark.js';
import { encodeHistogram, mergeEncoded, METRICS, type EncodedHistograms, type MetricName } from '../metrics/histograms.js';
import type { IntervalHistogram } from '../metrics/hlog.js';
import { newResultsDir, writeResultFiles } from './results-folder.js';
import { ProcessMonitor } from '../metrics/process-stats.js';
import { playerWindows, type Scenario } from './scenario.js';
import { freePort, startServer, type RunningServer } from './servers.js';
import type { PlayerPlan, ShardCounters, ShardResult, ShardTask, ShardTick } from './shard.js';
import { buildSummary, sumCounters, sumFailures, type RunSummary } from './summary.js';
import { evaluateThresholds, parseThreshold, type Threshold } from './thresholds.js';
import type { ServerStats } from '../server/server.js';
import { PACKAGE_ROOT } from '../version.js';

/** The run itself failed (target unreachable, server did not start, workers hung): exit code 3. */
export class RunError extends Error {
  override name = 'RunError';
}

export interface Progress {
  tSec: number;
  durationSec: number;
  publishersUp: number;
  playersUp: number;
  playersPlanned: number;
  mbpsReceived: number;
  /** p99 end-to-end latency over the last interval, ms (null before any frame). */
  p99EndToEndMs: number | null;
  errors: number;
}

export interface TimelinePoint {
  tSec: number;
  publishersUp: number;
  playersUp: number;
  mbpsReceived: number;
  framesReceived: number;
  errors: number;
  endToEndP50Ms: number | null;
  endToEndP99Ms: number | null;
  endToEndP999Ms: number | null;
  /** CPU use over the last second, % of one core; RSS now (null when not measured). */
  generatorCpuPct: number | null;
  serverCpuPct: number | null;
  serverRssBytes: number | null;
}

interface UsageSample {
  generatorCpuSeconds: number | null;
  serverCpuSeconds: number | null;
  serverRssBytes: number | null;
}

export interface RunOptions {
  scenario: Scenario;
  /** Root of result folders (default: results). */
  outDir?: string;
  onProgress?: (p: Progress) => void;
  /** How long after the planned end the run may take before it is declared hung. */
  graceMs?: number;
  /** Run only shard I of N (0-based) of the scenario, for runs spread over machines. */
  shardOf?: { index: number; count: number };
}

export interface RunOutcome {
  summary: RunSummary;
  resultsDir: string;
  timeline: TimelinePoint[];
}

const LEAD_MS = 1000;

/** The compiled worker (next to this file in dist/; from src/ under the test runner, the built one). */
function workerFile(): string {
  const sibling = new URL('./shard-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(sibling))) return sibling.href;
  return pathToFileURL(join(PACKAGE_ROOT, 'dist', 'src', 'load', 'shard-worker.js')).href;
}
const TICK_MS = 1000;

async function reachable(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      resolve(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(null);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      resolve(e.message);
    });
  });
}

/** Splits the scenario into one task per worker. Exported for tests. */
export function planShards(s: Scenario, workers: number, url: string, startAtUs: number, shardOf?: { index: number; count: number }): ShardTask[] {
  // With --shard I/N, this machine plays the part of workers I*W..I*W+W-1 of N*W.
  const offset = shardOf ? shardOf.index * workers : 0;
  const total = shardOf ? shardOf.count * workers : workers;
  const peak = Math.max(0, ...s.stages.map((st) => st.target));
  const tasks: ShardTask[] = Array.from({ length: workers }, (_, k) => ({
    shard: offset + k,
    shards: total,
    url,
    insecure: s.insecure,
    streamNames: s.streamNames,
    publish: [],
    players: [],
    churnJoinsPerSecond: 0,
    churnMeanSessionMs: s.churn.meanSessionMs,
    media: s.media,
    slowReadKbps: s.players.slowReadKbps,
    durationMs: s.durationMs,
    warmupMs: s.warmupMs,
    stallThresholdMs: s.stallThresholdMs,
    startAtUs,
    tickMs: TICK_MS,
  }));
  const at = (k: number) => (k >= offset && k < offset + workers ? tasks[k - offset]! : null);
  // With two or more workers and both kinds of session, publishers get workers of their own:
  // bursts of player reads would otherwise delay the pacing timer (and show up as latency).
  const split = total >= 2 && s.publishedStreams > 0 && peak > 0;
  const pubWorkers = split ? Math.max(1, Math.round(total / 4)) : total;
  const playerBase = split ? pubWorkers : 0;
  const playerWorkers = total - playerBase;
  for (let st = 0; st < s.publishedStreams; st++) at(st % pubWorkers)?.publish.push(st);
  const windows = Array.from({ length: peak }, (_, i) => playerWindows(s.stages, i).map(([a, b]): [number, number | null] => [a, Number.isFinite(b) ? b : null]));
  let n = 0;
  for (let st = 0; st < s.streamNames.length; st++) {
    for (let i = 0; i < peak; i++) {
      const plan: PlayerPlan = { stream: st, slow: i < s.players.slowPerStream, windows: windows[i]! };
      at(playerBase + (n++ % playerWorkers))?.players.push(plan);
    }
  }
  // Churning players join on the player workers.
  for (let k = playerBase; k < total; k++) {
    const t = at(k);
    if (t !== null) t.churnJoinsPerSecond = s.churn.joinsPerSecond / playerWorkers;
  }
  return tasks;
}

/** Runs a scenario from start to finish and writes its results folder. */
export async function runScenario(opts: RunOptions): Promise<RunOutcome> {
  const s = opts.scenario;
  const startedAt = new Date();
  let server: RunningServer | null = null;
  let url = s.target;
  let serverPid = s.serverPid;
  let statsPort: number | null = null;
  const scratch = mkdtempSync(join(tmpdir(), 'rtmpbench-run-'));
  try {
    if (s.target === 'builtin') {
      const configFile = join(scratch, 'server.json');
      // Its stats endpoint gives the run the server's own counts (drops, disconnects).
      statsPort = typeof s.server.statsPort === 'number' && s.server.statsPort > 0 ? s.server.statsPort : await freePort();
      writeFileSync(configFile, JSON.stringify({ ...s.server, statsPort }));
      try {
        server = await startServer('builtin', { builtinArgs: ['--config', configFile] });
      } catch (e) {
        throw new RunError(`the built-in server did not start: ${(e as Error).message}`);
      }
      url = server.url;
      serverPid = server.pid;
    }
    const target = parseRtmpUrl(url);
    const problem = await reachable(target.host, target.port, 5000);
    if (problem !== null) throw new RunError(`cannot reach ${target.host}:${target.port}: ${problem}`);
    // The server's own counts before the run, so the run's share is what is reported.
    const statsBefore = statsPort === null ? null : await serverCounts(statsPort);

    const workers = s.workers === 'auto' ? os.availableParallelism() : s.workers;
    const startAtUs = monotonicUs() + LEAD_MS * 1000;
    const tasks = planShards(s, workers, url, startAtUs, opts.shardOf);
    const playersPlanned = tasks.reduce((t, k) => t + k.players.length, 0);

    const pool = new Piscina({
      filename: workerFile(),
      minThreads: workers,
      maxThreads: workers,
      idleTimeout: Infinity,
      atomics: 'disabled',
      concurrentTasksPerWorker: 1,
    });
    const generator = new ProcessMonitor(process.pid);
    const serverMonitor = serverPid !== undefined ? new ProcessMonitor(serverPid) : null;
    generator.start();
    serverMonitor?.start();

    // Capacity search: thresholds checked on each complete second.
    const windowThresholds = s.capacity === undefined ? [] : s.thresholds.map((t) => parseThreshold(t)).filter((t): t is Threshold => typeof t !== 'string' && WINDOW_METRICS.has(t.path[0]!));
    const capacity = { highestPassingPlayers: 0, failingSince: 0, failingBy: [] as string[], broke: null as null | { sec: number; players: number; by: string[] } };
    const ports: MessagePort[] = [];
    let prevWindow: ShardCounters | null = null;
    const checkCapacity = (sec: number, ticks: ShardTick[], playersUp: number) => {
      const counters = sumCounters(ticks.map((t) => t.counters));
      const delta = windowCounters(counters, prevWindow);
      prevWindow = counters;
      const window = buildSummary({
        scenario: s,
        target: url,
        targetKind: 'builtin',
        startedAt,
        durationMs: 1000,
        counters: delta,
        failures: {},
        histograms: mergeEncoded(ticks.map((t) => t.intervals)),
        generator: { cpuSeconds: 0, maxRssBytes: 0, workers: 0 },
      });
      const results = evaluateThresholds(windowThresholds, window, mergeEncoded(ticks.map((t) => t.intervals)));
      const failed = results.filter((r) => !r.passed && r.actual !== null);
      if (failed.length === 0) {
        if (playersUp > capacity.highestPassingPlayers) capacity.highestPassingPlayers = playersUp;
        capacity.failingSince = 0;
        return;
      }
      if (capacity.failingSince === 0) {
        capacity.failingSince = sec;
        capacity.failingBy = failed.map((r) => r.message);
      }
      if (capacity.broke === null && (sec - capacity.failingSince + 1) * 1000 >= s.capacity!.breakAfterMs) {
        capacity.broke = { sec: capacity.failingSince, players: playersUp, by: capacity.failingBy };
        const atUs = monotonicUs() + STOP_NOTICE_MS * 1000;
        for (const p of ports) p.postMessage({ type: 'stop', atUs });
      }
    };

    // Ticks: the latest per shard for progress; per second, merged, for the time series.
    const latest = new Map<number, ShardTick>();
    const perSecond = new Map<number, ShardTick[]>();
    const usage = new Map<number, UsageSample>();
    const sampleUsage = (sec: number) => {
      const g = generator.current();
      const sv = serverMonitor?.current() ?? null;
      usage.set(sec, { generatorCpuSeconds: g?.cpuSeconds ?? null, serverCpuSeconds: sv?.cpuSeconds ?? null, serverRssBytes: sv?.rssBytes ?? null });
    };
    sampleUsage(0);
    let lastBytes = 0;
    let lastTickSec = 0;
    const onTick = (t: ShardTick) => {
      latest.set(t.shard, t);
      const sec = Math.max(1, Math.round(t.tSec));
      let list = perSecond.get(sec);
      if (list === undefined) perSecond.set(sec, (list = []));
      list.push(t);
      if (latest.size < tasks.length || list.length < tasks.length) return;
      // A full second: every shard reported.
      sampleUsage(sec);
      const all = [...latest.values()];
      if (s.capacity !== undefined) checkCapacity(sec, list, all.reduce((n, x) => n + x.playersUp, 0));
      const bytes = all.reduce((b, x) => b + x.counters.bytesReceived, 0);
      const dt = Math.max(0.001, sec - lastTickSec);
      const interval = mergeEncoded(list.map((x) => x.intervals)).get('endToEnd');
      opts.onProgress?.({
        tSec: sec,
        durationSec: s.durationMs / 1000,
        publishersUp: all.reduce((n, x) => n + x.publishersUp, 0),
        playersUp: all.reduce((n, x) => n + x.playersUp, 0),
        playersPlanned,
        mbpsReceived: ((bytes - lastBytes) * 8) / dt / 1e6,
        p99EndToEndMs: interval && interval.totalCount > 0 ? interval.getValueAtPercentile(99) / 1000 : null,
        errors: all.reduce((n, x) => n + Object.values(x.failures).reduce((a, b) => a + b, 0), 0),
      });
      lastBytes = bytes;
      lastTickSec = sec;
    };

    const deadlineMs = LEAD_MS + s.durationMs + (opts.graceMs ?? 20_000);
    let results: ShardResult[];
    let timer: NodeJS.Timeout | null = null;
    try {
      const runs = tasks.map((task) => {
        const { port1, port2 } = new MessageChannel();
        ports.push(port1);
        port1.on('message', onTick);
        return pool.run({ ...task, port: port2 }, { transferList: [port2] }).finally(() => port1.close()) as Promise<ShardResult>;
      });
      results = await Promise.race([
        Promise.all(runs),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RunError(`the run did not finish within ${Math.round(deadlineMs / 1000)} s`)), deadlineMs);
        }),
      ]);
    } finally {
      if (timer !== null) clearTimeout(timer);
      await pool.destroy();
    }
    const gen = generator.stop();
    const srv = serverMonitor?.stop() ?? null;
    const statsAfter = statsPort === null ? null : await serverCounts(statsPort);
    const stats = statsAfter === null ? null : runShare(statsAfter, statsBefore);

    const counters = sumCounters(results.map((r) => r.counters));
    const histograms = mergeEncoded(results.map((r) => r.histograms));
    const lastSec = Math.max(0, ...[...perSecond.values()].flat().map((t) => t.tSec));
    const summary = buildSummary({
      scenario: s,
      target: url,
      targetKind: s.target === 'builtin' ? 'builtin' : 'external',
      startedAt,
      durationMs: capacity.broke !== null ? Math.round(lastSec * 1000) : s.durationMs,
      counters,
      failures: sumFailures(results.map((r) => r.failures)),
      histograms,
      generator: { cpuSeconds: round(gen?.cpuSeconds ?? 0), maxRssBytes: gen?.peakRssBytes ?? 0, workers },
      ...(srv !== null && serverPid !== undefined ? { server: { cpuSeconds: round(srv.cpuSeconds), maxRssBytes: srv.peakRssBytes, pid: serverPid, ...(stats ?? {}) } } : {}),
    });
    const thresholds = s.thresholds.map((t) => parseThreshold(t)).filter((t): t is Threshold => typeof t !== 'string');
    summary.thresholds = evaluateThresholds(thresholds, summary, histograms);
    if (s.capacity !== undefined) {
      summary.capacity = { highestPassingPlayers: capacity.highestPassingPlayers, broken: capacity.broke !== null };
      if (capacity.broke !== null) {
        Object.assign(summary.capacity, { brokeAtSec: capacity.broke.sec, playersAtBreak: capacity.broke.players, brokenBy: capacity.broke.by });
        // A capacity search is expected to break: its result is the count, not a failure.
        summary.thresholds = summary.thresholds.map((t) => ({ ...t, enforced: false, message: `${t.message} (capacity search: reported, not enforced)` }));
      }
    }
    const timeline = buildTimeline(perSecond, tasks.length, usage);
    const resultsDir = writeResults(opts.outDir ?? 'results', summary, perSecond, timeline, startedAt, results);
    return { summary, resultsDir, timeline };
  } finally {
    await server?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** The built-in server's own counts from its stats endpoint (null if it does not answer). */
async function serverCounts(port: number): Promise<Pick<NonNullable<RunSummary['server']>, 'drops' | 'closedByReason' | 'io' | 'gc'> | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/stats`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return null;
    const st = (await res.json()) as ServerStats;
    return { drops: st.drops, closedByReason: st.connections.closedByReason, io: { ...st.io, bytesIn: st.bytesIn }, gc: st.process.gc };
  } catch {
    return null;
  }
}

/** How far ahead an early stop is announced, so every worker ends at the same moment. */
const STOP_NOTICE_MS = 300;

const nonZero = <T extends Record<string, number>>(a: T | undefined): T | undefined => (a === undefined ? undefined : (Object.fromEntries(Object.entries(a).filter(([, v]) => v !== 0)) as T));

/** Counts of the server's lifetime minus those before the run (its start-up, for one). */
function runShare(after: NonNullable<Awaited<ReturnType<typeof serverCounts>>>, before: Awaited<ReturnType<typeof serverCounts>>): typeof after {
  if (before === null) return after;
  const minus = <T extends Record<string, number>>(a: T | undefined, b: T | undefined): T | undefined =>
    a === undefined ? undefined : (Object.fromEntries(Object.entries(a).map(([k, v]) => [k, Math.round((v - (b?.[k] ?? 0)) * 10) / 10])) as T);
  return { ...after, drops: minus(after.drops, before.drops), closedByReason: nonZero(minus(after.closedByReason, before.closedByReason)), io: minus(after.io, before.io), gc: minus(after.gc, before.gc) };
}

/** Threshold families that make sense for one second of a run. */
const WINDOW_METRICS = new Set(['latency', 'frames', 'sessions', 'throughput']);

/** Counters over one second: frames and bytes as differences, sessions as they stand. */
function windowCounters(now: ShardCounters, prev: ShardCounters | null): ShardCounters {
  if (prev === null) return now;
  const d = { ...now };
  for (const k of ['bytesSent', 'bytesReceived', 'mediaBytesReceived', 'framesSent', 'framesReceived', 'audioFramesReceived', 'lost', 'duplicated', 'outOfOrder', 'stalls', 'slowLost', 'slowStalls', 'publisherStops', 'markedFrames', 'playerSeconds'] as const) {
    d[k] = now[k] - prev[k];
  }
  return d;
}

function mergedEncoded(results: readonly ShardResult[]): EncodedHistograms {
  const out: EncodedHistograms = {};
  for (const [m, h] of mergeEncoded(results.map((r) => r.histograms))) out[m] = encodeHistogram(h);
  return out;
}

function buildTimeline(perSecond: Map<number, ShardTick[]>, shards: number, usage: Map<number, UsageSample>): TimelinePoint[] {
  const secs = [...perSecond.keys()].sort((a, b) => a - b);
  const out: TimelinePoint[] = [];
  let prevBytes = 0;
  let prevFrames = 0;
  let prevSec = 0;
  let prevUsage = usage.get(0);
  const pct = (now: number | null | undefined, before: number | null | undefined, dt: number) => (now == null || before == null ? null : round(((now - before) / dt) * 100));
  for (const sec of secs) {
    const ticks = perSecond.get(sec)!;
    const bytes = ticks.reduce((b, t) => b + t.counters.bytesReceived, 0);
    const frames = ticks.reduce((b, t) => b + t.counters.framesReceived, 0);
    const e2e = mergeEncoded(ticks.map((t) => t.intervals)).get('endToEnd');
    const partial = ticks.length < shards;
    const u = usage.get(sec);
    const dt = Math.max(0.001, sec - prevSec);
    out.push({
      tSec: sec,
      publishersUp: ticks.reduce((n, t) => n + t.publishersUp, 0),
      playersUp: ticks.reduce((n, t) => n + t.playersUp, 0),
      mbpsReceived: partial ? 0 : round(((bytes - prevBytes) * 8) / Math.max(0.001, sec - prevSec) / 1e6),
      framesReceived: partial ? 0 : frames - prevFrames,
      errors: ticks.reduce((n, t) => n + Object.values(t.failures).reduce((a, b) => a + b, 0), 0),
      endToEndP50Ms: e2e && e2e.totalCount > 0 ? e2e.getValueAtPercentile(50) / 1000 : null,
      endToEndP99Ms: e2e && e2e.totalCount > 0 ? e2e.getValueAtPercentile(99) / 1000 : null,
      endToEndP999Ms: e2e && e2e.totalCount > 0 ? e2e.getValueAtPercentile(99.9) / 1000 : null,
      generatorCpuPct: u === undefined ? null : pct(u.generatorCpuSeconds, prevUsage?.generatorCpuSeconds, dt),
      serverCpuPct: u === undefined ? null : pct(u.serverCpuSeconds, prevUsage?.serverCpuSeconds, dt),
      serverRssBytes: u?.serverRssBytes ?? null,
    });
    if (u !== undefined) prevUsage = u;
    if (!partial) {
      prevBytes = bytes;
      prevFrames = frames;
      prevSec = sec;
    }
  }
  return out;
}

function writeResults(root: string, summary: RunSummary, perSecond: Map<number, ShardTick[]>, timeline: TimelinePoint[], startedAt: Date, results: readonly ShardResult[]): string {
  const dir = newResultsDir(root, startedAt, summary.name);
  const secs = [...perSecond.keys()].sort((a, b) => a - b);
  const intervals = new Map<MetricName, IntervalHistogram[]>();
  for (const metric of METRICS) {
    const list: IntervalHistogram[] = [];
    for (const sec of secs) {
      const h = mergeEncoded(perSecond.get(sec)!.map((t) => t.intervals)).get(metric);
      if (h !== undefined && h.totalCount > 0) list.push({ startSec: sec - 1, endSec: sec, histogram: h });
    }
    intervals.set(metric, list);
  }
  writeResultFiles(dir, {
    summary,
    timeline,
    histograms: mergedEncoded(results),
    counters: { counters: sumCounters(results.map((r) => r.counters)), failures: sumFailures(results.map((r) => r.failures)) },
    intervals,
  });
  return dir;
}
