import type { Command } from 'commander';
import { parseRtmpUrl } from '../client/url.js';
import { runScenario, type Progress } from '../load/orchestrator.js';
import { deepMerge, readScenarioFile, resolveScenarioPath, type ScenarioFile } from '../load/scenario-file.js';
import { failedThresholds, type RunSummary } from '../load/summary.js';
import { formatPath, resolveScenario, type Scenario } from '../load/scenario.js';
import { stopChildrenOnSignals } from '../load/children.js';
import { UsageError } from '../protocol/errors.js';
import { formatProgress, formatSummary } from '../report/console.js';
import { parseBitrate, parseDurationMs, parseSize } from '../units.js';
import { EXIT_OK, EXIT_RUN_FAILED, EXIT_THRESHOLD_FAILED, EXIT_USAGE, failureExit } from './exit-codes.js';

export interface RunFlags {
  target?: string;
  name?: string;
  streams?: string;
  stream?: string[];
  publishers?: string;
  players?: string;
  duration?: string;
  ramp?: string;
  warmup?: string;
  bitrate?: string;
  audioBitrate?: string;
  fps?: string;
  gop?: string;
  source?: string;
  codec?: string;
  insecure?: boolean;
  slowPlayers?: string;
  slowReadKbps?: string;
  churnRate?: string;
  churnSession?: string;
  stallThreshold?: string;
  workers?: string;
  server?: string[];
  serverPid?: string;
  shard?: string;
  threshold?: string[];
  out?: string;
  json?: boolean;
  progress?: boolean;
}

/**
 * Turns flags into a partial scenario (same shape as a scenario file). Values stay as typed
 * where the schema reads units itself; flags it cannot read are collected as problems.
 */
export function flagsToScenario(f: RunFlags): { input: Record<string, unknown>; problems: string[] } {
  const problems: string[] = [];
  const input: Record<string, unknown> = {};
  const publishers: Record<string, unknown> = {};
  const players: Record<string, unknown> = {};
  const churn: Record<string, unknown> = {};
  const int = (flag: string, v: string | undefined, set: (n: number) => void) => {
    if (v === undefined) return;
    if (!/^\d+$/.test(v.trim())) problems.push(`${flag}: "${v}" is not a whole number`);
    else set(Number(v));
  };
  const num = (flag: string, v: string | undefined, set: (n: number) => void) => {
    if (v === undefined) return;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) problems.push(`${flag}: "${v}" is not a number`);
    else set(n);
  };
  const dur = (flag: string, v: string | undefined, set: (s: string) => void) => {
    if (v === undefined) return;
    if (parseDurationMs(v) === null) problems.push(`${flag}: "${v}" is not a duration such as 30s, 1500ms or 2m`);
    else set(v);
  };
  const rate = (flag: string, v: string | undefined, set: (s: string) => void) => {
    if (v === undefined) return;
    if (parseBitrate(v) === null) problems.push(`${flag}: "${v}" is not a bit rate such as 600k or 2.5m`);
    else set(v);
  };
  if (f.target !== undefined) {
    if (f.target === 'builtin') input.target = 'builtin';
    else {
      try {
        parseRtmpUrl(f.target);
        input.target = f.target;
      } catch (e) {
        problems.push(`--target: ${(e as UsageError).reason ?? (e as Error).message}`);
      }
    }
  }
  if (f.name !== undefined) input.name = f.name;
  int('--streams', f.streams, (n) => (input.streams = n));
  if (f.stream !== undefined && f.stream.length > 0) {
    input.streamNames = f.stream;
    input.streams ??= f.stream.length;
  }
  int('--publishers', f.publishers, (n) => (publishers.count = n));
  int('--players', f.players, (n) => (players.perStream = n));
  dur('--duration', f.duration, (v) => (input.duration = v));
  dur('--ramp', f.ramp, (v) => (input.ramp = v));
  dur('--warmup', f.warmup, (v) => (input.warmup = v));
  rate('--bitrate', f.bitrate, (v) => (publishers.videoBitrate = v));
  rate('--audio-bitrate', f.audioBitrate, (v) => (publishers.audioBitrate = v));
  num('--fps', f.fps, (n) => (publishers.fps = n));
  dur('--gop', f.gop, (v) => (publishers.gop = v));
  if (f.source !== undefined) publishers.source = f.source;
  if (f.codec !== undefined) publishers.codec = f.codec;
  if (f.insecure) input.insecure = true;
  int('--slow-players', f.slowPlayers, (n) => (players.slowPerStream = n));
  num('--slow-read-kbps', f.slowReadKbps, (n) => (players.slowReadKbps = n));
  num('--churn-rate', f.churnRate, (n) => (churn.joinsPerSecond = n));
  dur('--churn-session', f.churnSession, (v) => (churn.meanSessionTime = v));
  dur('--stall-threshold', f.stallThreshold, (v) => (input.stallThreshold = v));
  if (f.workers !== undefined) {
    if (f.workers === 'auto') input.workers = 'auto';
    else int('--workers', f.workers, (n) => (input.workers = n));
  }
  int('--server-pid', f.serverPid, (n) => (input.serverPid = n));
  if (f.server !== undefined && f.server.length > 0) {
    const server: Record<string, unknown> = {};
    for (const kv of f.server) {
      const i = kv.indexOf('=');
      if (i <= 0) {
        problems.push(`--server: "${kv}" is not KEY=VALUE (e.g. chunkSize=128)`);
        continue;
      }
      const key = kv.slice(0, i);
      const raw = kv.slice(i + 1);
      server[key] = raw === 'true' || raw === 'on' ? true : raw === 'false' || raw === 'off' ? false : /^\d+$/.test(raw) ? Number(raw) : (parseSize(raw) ?? raw);
    }
    input.server = server;
  }
  if (f.threshold !== undefined && f.threshold.length > 0) input.thresholds = f.threshold;
  if (Object.keys(publishers).length > 0) input.publishers = publishers;
  if (Object.keys(players).length > 0) input.players = players;
  if (Object.keys(churn).length > 0) input.churn = churn;
  return { input, problems };
}

export function parseShard(v: string): { index: number; count: number } | null {
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  if (!m) return null;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return count >= 1 && index < count ? { index, count } : null;
}

/** Scenario file (default quickstart) + flags → a validated scenario, or every problem. */
export function buildScenario(file: string | undefined, flags: RunFlags, extra: { compare?: Record<string, unknown> } = {}): { scenario: Scenario | null; problems: string[] } {
  const problems: string[] = [];
  let base: Record<string, unknown> = {};
  let source: ScenarioFile | null = null;
  try {
    source = readScenarioFile(resolveScenarioPath(file ?? 'quickstart'));
    base = source.data;
  } catch (e) {
    return { scenario: null, problems: [(e as UsageError).reason ?? (e as Error).message] };
  }
  const fromFlags = flagsToScenario(flags);
  problems.push(...fromFlags.problems);
  const merged = deepMerge(base, fromFlags.input);
  // Comparison flags replace the file's entries whole (a --matrix replaces the matrix).
  if (extra.compare !== undefined) merged.compare = { ...((merged.compare as object | undefined) ?? {}), ...extra.compare };
  // Thresholds from flags add to the file's.
  if (Array.isArray(base.thresholds) && Array.isArray(fromFlags.input.thresholds)) merged.thresholds = [...base.thresholds, ...fromFlags.input.thresholds];
  // Changing the target from the command line drops the file's built-in server settings.
  if (fromFlags.input.target !== undefined && fromFlags.input.target !== 'builtin') delete merged.server;
  const r = resolveScenario(merged);
  // A problem with a value the file wrote names its line; they are listed in file order.
  const located = r.issues.map((i) => ({ line: source?.lineOf(i.path) ?? Infinity, text: `${where(source, i.path, fromFlags.input)}${formatPath(i.path)}: ${i.message}` }));
  problems.push(...located.sort((a, b) => a.line - b.line).map((x) => x.text));
  return { scenario: problems.length === 0 ? r.scenario : null, problems };
}

/** "FILE:LINE: " when the value at `keys` comes from the file (not from a flag), else "". */
function where(file: ScenarioFile | null, keys: readonly (string | number)[], fromFlags: Record<string, unknown>): string {
  if (file === null) return '';
  let v: unknown = fromFlags;
  for (const k of keys) {
    if (v === null || typeof v !== 'object') break;
    v = (v as Record<string, unknown>)[String(k)];
    if (v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v))) return ''; // set by a flag
    if (v === undefined) break;
  }
  const line = file.lineOf(keys);
  return line === null ? `${file.path}: ` : `${file.path}:${line}: `;
}

export async function runCommand(file: string | undefined, flags: RunFlags): Promise<number> {
  const { scenario, problems } = buildScenario(file, flags);
  if (scenario === null) {
    console.error(`rtmpbench run: the scenario is not valid (nothing was started):\n  ${problems.join('\n  ')}`);
    return EXIT_USAGE;
  }
  let shardOf: { index: number; count: number } | undefined;
  if (flags.shard !== undefined) {
    const s = parseShard(flags.shard);
    if (s === null) {
      console.error(`rtmpbench run: --shard: "${flags.shard}" is not I/N with 0 <= I < N`);
      return EXIT_USAGE;
    }
    shardOf = s;
  }
  stopChildrenOnSignals();
  const showProgress = flags.progress !== false && process.stderr.isTTY === true;
  let lastLen = 0;
  const onProgress = (p: Progress) => {
    if (!showProgress) return;
    const line = formatProgress(p);
    if (process.stderr.isTTY) {
      process.stderr.write(`\r${line}${' '.repeat(Math.max(0, lastLen - line.length))}`);
      lastLen = line.length;
    } else {
      process.stderr.write(`${line}\n`);
    }
  };
  try {
    const outcome = await runScenario({ scenario, outDir: flags.out ?? 'results', onProgress, ...(shardOf ? { shardOf } : {}) });
    if (showProgress && process.stderr.isTTY) process.stderr.write('\n');
    const { summary, resultsDir } = outcome;
    if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else process.stdout.write(`${formatSummary(summary, resultsDir)}\n`);
    const failed = runFailure(summary);
    if (failed !== null) {
      console.error(`rtmpbench run: ${failed}`);
      return EXIT_RUN_FAILED;
    }
    return failedThresholds(summary).length > 0 ? EXIT_THRESHOLD_FAILED : EXIT_OK;
  } catch (e) {
    if (showProgress && process.stderr.isTTY) process.stderr.write('\n');
    return failureExit('run', e);
  }
}

/**
 * Whether the run itself failed, though it ran to the end: no stream could be published, no
 * player could connect, or the target dropped every session before the end. Partial failures
 * are results (counted by reason; thresholds judge them).
 */
export function runFailure(s: RunSummary): string | null {
  const reasons = (prefix: string) =>
    Object.entries(s.failures)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => `${k.slice(prefix.length + 2)} ×${v}`)
      .join(', ');
  const p = s.sessions.publishers;
  if (p.planned > 0 && p.connected === 0) return `no publisher could publish (${reasons('publisher')})`;
  const pl = s.sessions.players;
  if (pl.planned > 0 && pl.connected === 0) return `no player could play (${reasons('player')})`;
  const dropped = Object.entries(s.failures)
    .filter(([k]) => k.includes('dropped'))
    .reduce((n, [, v]) => n + v, 0);
  const connected = p.connected + pl.connected;
  if (connected > 0 && dropped >= connected) return `the target closed every connection before the end of the run (${Object.keys(s.failures).join(', ')})`;
  return null;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The flags that change a scenario (shared by run, compare and profile). */
export function addScenarioOptions(cmd: Command): Command {
  return cmd
    .option('--target <url>', 'rtmp[s]://HOST[:PORT]/APP to load; "builtin" (default) starts the built-in server in its own process')
    .option('--name <name>', 'name of the run (results folder suffix)')
    .option('--streams <n>', 'number of streams (names STREAM0, STREAM1...)')
    .option('--stream <name>', 'a stream name (repeat for several; for streams others publish)', collect)
    .option('--publishers <n>', 'streams the generator publishes (default: all); 0 plays streams others publish')
    .option('--players <n>', 'players PER STREAM (the total is this times --streams)')
    .option('--duration <time>', 'length of the run, e.g. 30s')
    .option('--ramp <time>', 'players join spread over this time, e.g. 10s')
    .option('--warmup <time>', 'leave measurements before this time out of the statistics')
    .option('--bitrate <rate>', 'video bit rate of each publisher, e.g. 600k or 2.5m')
    .option('--audio-bitrate <rate>', 'audio bit rate (0: no audio)')
    .option('--fps <n>', 'video frames per second')
    .option('--gop <time>', 'keyframe interval, e.g. 2s')
    .option('--source <source>', '"synthetic" or an FLV file to loop')
    .option('--codec <codec>', 'avc or hevc (HEVC is sent as Enhanced RTMP)')
    .option('--insecure', 'accept any TLS certificate (rtmps:// targets)')
    .option('--slow-players <n>', 'players per stream that read slowly (token bucket)')
    .option('--slow-read-kbps <kbps>', 'read rate of slow players')
    .option('--churn-rate <n>', 'extra players joining per second')
    .option('--churn-session <time>', 'mean time a churning player stays')
    .option('--stall-threshold <time>', 'a gap between frames longer than this counts as a stall (default 1s)')
    .option('--workers <n>', 'worker threads (default: one per core)')
    .option('--server <key=value>', 'a built-in server setting, e.g. chunkSize=128 (repeat)', collect)
    .option('--server-pid <pid>', 'process id of an external target server, to record its CPU and memory')
    .option('--threshold <expr>', 'a condition the run must meet, e.g. "latency.endToEnd.p99 < 250ms" (repeat); exit 1 if it fails', collect)
    .option('--out <dir>', 'root folder for results (default: results)')
    .option('--json', 'print the result as JSON on stdout')
    .option('--no-progress', 'no progress line on stderr');
}

export function registerRun(program: Command): void {
  addScenarioOptions(
    program
      .command('run')
      .description('run a load scenario (default: the quickstart scenario against the built-in server) and print its summary')
      .argument('[scenario]', 'a scenario file, or the name of a shipped one (quickstart, capacity, ci-smoke, ...)'),
  )
    .option('--shard <i/n>', 'run only share I of N of the scenario (spread a run over machines; merge the results)')
    .action(async (file: string | undefined, flags: RunFlags) => {
      process.exitCode = await runCommand(file, flags);
    });
}
