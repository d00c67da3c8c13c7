import { writeFileSync } from 'node:fs';
import { parseDurationMs } from '../input/units.js';
import { UsageError } from '../input/usage-error.js';
import { Coordinator } from '../load/coordinator.js';
import type { ShardOf } from '../load/plan.js';
import { newRunId, type ShareOptions } from '../load/share-run.js';
import { parseListen, startAtFlag } from './coordinate.js';
import type { Command } from 'commander';
import { runScenario } from '../load/orchestrator.js';
import { runFailure } from '../load/run-failure.js';
import { parseShard, scenarioFromInput } from '../load/scenario-input.js';
import { stopChildrenOnSignals } from '../proc/children.js';
import type { RunObserver } from '../results/live.js';
import type { Progress } from '../results/progress.js';
import { failedThresholds } from '../results/summary.js';
import { timelineLine } from '../results/timeline-stream.js';
import { formatProgress, formatSummary } from '../report/console.js';
import { Dashboard } from '../report/dashboard.js';
import { runJunit } from '../report/junit.js';
import { LiveRun } from '../report/live-run.js';
import { MetricsEndpoint } from '../report/metrics-endpoint.js';
import { loadRun } from '../results/folder.js';
import { writeReports } from '../report/write.js';
import { EXIT_OK, EXIT_RUN_FAILED, EXIT_THRESHOLD_FAILED, EXIT_USAGE, failureExit } from './exit-codes.js';
import { addScenarioOptions, type RunFlags } from './scenario-options.js';

interface RunCommandFlags extends RunFlags {
  profileServer?: boolean;
  serverSyscalls?: boolean;
  shard?: string;
  runId?: string;
  coordinator?: string;
  coordinate?: string;
  startAt?: string;
  startTimeout?: string;
  maxLate?: string;
  clockCorrection?: string;
  junit?: string;
  metricsPort?: string;
  metricsHost?: string;
  dashboard?: string;
  dashboardHost?: string;
  timelineStdout?: boolean;
}

/** A TCP port from a flag, or null. */
function portFlag(v: string | undefined): number | null | undefined {
  if (v === undefined) return undefined;
  return /^\d+$/.test(v) && Number(v) <= 65535 ? Number(v) : null;
}

/** The live outputs a run's flags ask for: Prometheus endpoint, dashboard, timeline on stdout. */
class LiveOutputs {
  readonly observers: RunObserver[] = [];
  private readonly live = new LiveRun();
  private metrics: MetricsEndpoint | null = null;
  private dashboard: Dashboard | null = null;

  constructor(private readonly flags: RunCommandFlags) {
    if (flags.timelineStdout)
      this.observers.push({ onSecond: (s) => void process.stdout.write(timelineLine(s.point)) });
    if (flags.metricsPort !== undefined || flags.dashboard !== undefined) this.observers.push(this.live);
  }

  /** Starts the servers (before the run, so a scraper or a browser can be there from its first second). */
  async start(): Promise<void> {
    const say = (text: string) => process.stderr.write(`${text}\n`);
    if (this.flags.metricsPort !== undefined) {
      this.metrics = new MetricsEndpoint(this.live);
      const port = await this.metrics.listen(Number(this.flags.metricsPort), this.flags.metricsHost);
      say(`metrics: http://${this.flags.metricsHost ?? '127.0.0.1'}:${port}/metrics`);
    }
    if (this.flags.dashboard !== undefined) {
      this.dashboard = new Dashboard(this.live);
      const port = await this.dashboard.listen(Number(this.flags.dashboard), this.flags.dashboardHost);
      say(`dashboard: http://${this.flags.dashboardHost ?? '127.0.0.1'}:${port}/`);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.metrics?.close(), this.dashboard?.close()]);
  }
}

/** How a share takes part, from its flags; a coordinator it hosts itself (--coordinate) is started here. */
async function shareFlags(
  shardOf: ShardOf,
  flags: RunCommandFlags,
  hosted: (c: Coordinator) => void,
): Promise<ShareOptions> {
  const duration = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const ms = parseDurationMs(v);
    if (ms === null || ms <= 0) throw new UsageError(`${flag}: "${v}" is not a duration`);
    return ms;
  };
  if (flags.coordinate !== undefined && flags.coordinator !== undefined)
    throw new UsageError('--coordinate serves the coordinator this share joins: give it or --coordinator, not both');
  if (flags.startAt !== undefined && flags.coordinate === undefined)
    throw new UsageError("--start-at is the coordinator's: give it with --coordinate (or to rtmpbench coordinate)");
  if (flags.runId !== undefined && !/^[A-Za-z0-9._:-]{1,64}$/.test(flags.runId))
    throw new UsageError(`--run-id: "${flags.runId}" is not 1-64 letters, digits and . _ : -`);
  const correction = flags.clockCorrection;
  if (correction !== undefined && correction !== 'on' && correction !== 'off')
    throw new UsageError(`--clock-correction: "${correction}" is not on or off`);
  const startTimeoutMs = duration('--start-timeout', flags.startTimeout);
  const maxLateMs = duration('--max-late', flags.maxLate);
  let url = flags.coordinator;
  if (url !== undefined && !/^https?:\/\/[^/]+/.test(url))
    throw new UsageError(`--coordinator: "${url}" is not an http:// URL`);
  let runId = flags.runId;
  if (flags.coordinate !== undefined) {
    const { host, port } = parseListen(flags.coordinate, '--coordinate');
    runId ??= newRunId();
    const startAtWallMs = flags.startAt !== undefined ? startAtFlag(flags.startAt) : undefined;
    const c = new Coordinator({
      runId,
      count: shardOf.count,
      ...(startAtWallMs !== undefined ? { startAtWallMs } : {}),
    });
    const bound = await c.listen(port, host).catch((e: Error) => {
      throw new UsageError(`--coordinate: cannot listen on ${host}:${port}: ${e.message}`);
    });
    hosted(c);
    url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${bound}`;
    console.error(`rtmpbench run: coordinating run ${runId} (${shardOf.count} shares) at ${url}/`);
  }
  return {
    shardOf,
    ...(runId !== undefined ? { runId } : {}),
    ...(url !== undefined ? { coordinator: url } : {}),
    ...(startTimeoutMs !== undefined ? { startTimeoutMs } : {}),
    ...(maxLateMs !== undefined ? { maxLateMs } : {}),
    ...(correction === 'off' ? { clockCorrection: false } : {}),
  };
}

async function runCommand(file: string | undefined, flags: RunCommandFlags): Promise<number> {
  const { scenario, problems } = scenarioFromInput(file, flags);
  if (scenario === null) {
    console.error(`rtmpbench run: the scenario is not valid (nothing was started):\n  ${problems.join('\n  ')}`);
    return EXIT_USAGE;
  }
  let shardOf: { index: number; count: number } | undefined;
  if (typeof flags.shard === 'string') {
    const s = parseShard(flags.shard);
    if (s === null) {
      console.error(`rtmpbench run: --shard: "${flags.shard}" is not I/N with 0 <= I < N`);
      return EXIT_USAGE;
    }
    shardOf = s;
  }
  for (const [flag, v] of [
    ['--metrics-port', flags.metricsPort],
    ['--dashboard', flags.dashboard],
  ] as const) {
    if (portFlag(v) === null) {
      console.error(`rtmpbench run: ${flag}: "${v}" is not a port number`);
      return EXIT_USAGE;
    }
  }
  const shareOnly = (
    ['runId', 'coordinator', 'coordinate', 'startAt', 'startTimeout', 'maxLate', 'clockCorrection'] as const
  ).filter((k) => flags[k] !== undefined);
  if (shardOf === undefined && shareOnly.length > 0) {
    console.error(
      `rtmpbench run: ${shareOnly.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}: a share's flags, given with --shard I/N`,
    );
    return EXIT_USAGE;
  }
  let share: ShareOptions | undefined;
  const hosted: Coordinator[] = [];
  try {
    share = shardOf !== undefined ? await shareFlags(shardOf, flags, (c) => hosted.push(c)) : undefined;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`rtmpbench run: ${e.message}`);
    return EXIT_USAGE;
  }
  stopChildrenOnSignals();
  const showProgress = flags.progress !== false && process.stderr.isTTY === true;
  const live = new LiveOutputs(flags);
  try {
    await live.start();
  } catch (e) {
    console.error(`rtmpbench run: cannot serve the live outputs: ${(e as Error).message}`);
    for (const c of hosted) await c.close();
    return EXIT_USAGE;
  }
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
    const outcome = await runScenario({
      scenario,
      outDir: flags.out ?? 'results',
      onProgress,
      observers: live.observers,
      ...(share !== undefined ? { share } : {}),
      ...(flags.profileServer === true ? { profileServer: true } : {}),
      ...(flags.serverSyscalls === true ? { serverSyscalls: true } : {}),
    }).finally(async () => {
      // A coordinator this share hosts stays until the other shares go quiet (bounded), then stops.
      for (const c of hosted)
        await Promise.race([c.idle(3000), new Promise((r) => setTimeout(r, 20_000).unref())]).then(() => c.close());
    });
    await live.stop();
    if (showProgress && process.stderr.isTTY) process.stderr.write('\n');
    const { summary, resultsDir } = outcome;
    // With the timeline on stdout, stdout carries its lines only: the summary goes to stderr.
    const out = flags.timelineStdout ? process.stderr : process.stdout;
    if (flags.json) out.write(`${JSON.stringify(summary, null, 2)}\n`);
    else out.write(`${formatSummary(summary, resultsDir)}\n`);
    if (flags.dashboard !== undefined) writeReports(loadRun(resultsDir));
    if (flags.junit !== undefined) writeFileSync(flags.junit, runJunit(summary));
    const failed = runFailure(summary);
    if (failed !== null) {
      console.error(`rtmpbench run: ${failed}`);
      return EXIT_RUN_FAILED;
    }
    return failedThresholds(summary).length > 0 ? EXIT_THRESHOLD_FAILED : EXIT_OK;
  } catch (e) {
    await live.stop();
    if (showProgress && process.stderr.isTTY) process.stderr.write('\n');
    return failureExit('run', e);
  }
}

export function registerRun(program: Command): void {
  addScenarioOptions(
    program
      .command('run')
      .description(
        'run a load scenario (default: the quickstart scenario against the built-in server) and print its summary',
      )
      .argument('[scenario]', 'a scenario file, or the name of a shipped one (quickstart, capacity, ci-smoke, ...)'),
  )
    .option('--shard <i/n>', 'run only share I of N of the scenario (spread a run over machines; merge the results)')
    .option('--run-id <id>', 'with --shard: the id every share of the run records (merge refuses shares of other runs)')
    .option('--coordinator <url>', 'with --shard: the coordinator of the run (common start, reference clock)')
    .option('--coordinate <[host:]port>', 'with --shard: serve the coordinator in this share and join it')
    .option(
      '--start-at <time>',
      'with --coordinate: start at this time (ISO with zone, or +30s) instead of when all shares joined',
    )
    .option('--start-timeout <time>', 'with --coordinator: how long to wait for every share (default: 10m)')
    .option(
      '--clock-correction <on|off>',
      "with --coordinator: marks on the reference clock (on, the default) or on each host's own (off: to see what the clocks do)",
    )
    .option(
      '--max-late <time>',
      'with --shard: fail a share that began later than this after the common start (default: 1s)',
    )
    .option('--junit <file>', 'also write JUnit XML: a test case per threshold')
    .option(
      '--profile-server',
      "sample the server's CPU with Linux perf while the load runs: a flame graph, a speedscope file and " +
        'its top functions in the results (the built-in server, or --server-pid)',
    )
    .option(
      '--server-syscalls',
      "count the server's system calls by kind (writes, sends, reads, receives, epoll waits) with perf's " +
        'syscall tracepoints: server.syscalls, and write calls per message for servers that send with send()',
    )
    .option(
      '--metrics-port <port>',
      "serve the generator's Prometheus metrics at http://127.0.0.1:PORT/metrics while the run goes on",
    )
    .option('--metrics-host <address>', 'address of the metrics endpoint (default: 127.0.0.1)')
    .option(
      '--dashboard <port>',
      'serve a live dashboard at http://127.0.0.1:PORT/ while the run goes on (it also writes report.html at the end)',
    )
    .option('--dashboard-host <address>', 'address of the dashboard (default: 127.0.0.1)')
    .option(
      '--timeline-stdout',
      'stream the timeline to stdout, one JSON line per second (the summary then goes to stderr)',
    )
    .action(async (file: string | undefined, flags: RunCommandFlags) => {
      process.exitCode = await runCommand(file, flags);
    });
}
