import os from 'node:os';
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { EventLoopMeter, type EventLoopSample } from '../metrics/event-loop.js';
import { encodeHistogram, mergeEncoded, type EncodedHistograms } from '../metrics/histograms.js';
import { CostMonitor } from '../metrics/process-cost.js';
import type { SyscallCounts } from '../metrics/syscall-counts.js';
import { ProcessMonitor, sampleProcessResources } from '../metrics/process-stats.js';
import { makeSource } from './media-source.js';
import { monotonicUs } from '../media/timing-mark.js';
import { ownModule } from '../proc/own-module.js';
import type { ProtocolKey } from '../protocol/delivery.js';
import { addCounters, newCounters, sumCounters, type Counters } from '../results/counters.js';
import { newResultsDir, readIntervals, writeRunFolder } from '../results/folder.js';
import { writeManifest } from '../results/share.js';
import type { RunObserver } from '../results/live.js';
import type { Progress } from '../results/progress.js';
import type { Scenario } from '../results/scenario.js';
import { HlogStreams } from '../results/hlog-stream.js';
import { summarizeRun } from '../results/run-data.js';
import { BrowserRun } from './browser/browser-run.js';
import type { BrowserResults } from './browser/browser-viewers.js';
import { BrowserUnavailable, browserViewersMissing } from './browser/browser-kit.js';
import { sumFailures, type EventLoopFigures, type RunSummary } from '../results/summary.js';
import type { TimelinePoint } from '../results/timeline.js';
import { TimelineStream } from '../results/timeline-stream.js';
import { CapacitySearch } from './capacity-search.js';
import { RunError } from './errors.js';
import { FrameAccounting } from './frame-accounting.js';
import { callHook, keepHooks, type HookAnswer } from './hooks.js';
import { planShards } from './plan.js';
import { checkSourceAddresses } from './source-addresses.js';
import { ShareRun, type ShareOptions } from './share-run.js';
import { ServerCounters } from './server-counters.js';
import { checkServerProfiling, checkServerSyscalls, ServerProfiler, ServerSyscallCounter } from './server-profiler.js';
import { prepareTarget, type Target } from './target.js';
import { TimelineBuilder, type MeasuredSecond, type UsageSample } from './timeline-builder.js';
import { isWorkerMessage, type OrchestratorMessage, type ShardResult, type ShardTask } from './worker-protocol.js';
import { round3 } from '../metrics/round.js';

export interface RunOptions {
  scenario: Scenario;
  /** Root of result folders (default: results). */
  outDir?: string;
  onProgress?: (p: Progress) => void;
  /** Live outputs: told of the run's start, each second, and its end. */
  observers?: readonly RunObserver[];
  /** How long after the planned end the run may take before it is declared hung. */
  graceMs?: number;
  /** Run only share I of N (0-based) of the scenario, for runs spread over machines: see ShareOptions. */
  share?: ShareOptions;
  /**
   * The target server's process group (a server a shell command started): its CPU and memory are
   * the whole group's, and its id is the summary's server pid. Overrides the scenario's serverPid.
   */
  serverGroup?: number;
  /**
   * Sample the server's processes with Linux perf from the run's start to its end (the built-in
   * server then runs with --perf-basic-prof, so its JavaScript frames carry names).
   */
  profileServer?: boolean;
  /** Count the server's system calls by kind with perf's syscall tracepoints (server.syscalls). */
  serverSyscalls?: boolean;
}

export interface RunOutcome {
  summary: RunSummary;
  resultsDir: string;
  timeline: TimelinePoint[];
}

/** Workers start this long after planning, so every one is ready at the common start. */
const LEAD_MS = 1000;
/** How far ahead an early stop is announced, so every worker ends at the same moment. */
const STOP_NOTICE_MS = 300;
const DEFAULT_GRACE_MS = 20_000;

const eventLoopFigures = (e: EventLoopSample): EventLoopFigures => ({
  utilization: e.utilization,
  delayP99Ms: round3(e.delayP99Us / 1000),
  delayMaxMs: round3(e.delayMaxUs / 1000),
});

/** Runs a scenario from start to finish and writes its results folder. */
export async function runScenario(opts: RunOptions): Promise<RunOutcome> {
  // Source addresses are checked against the host before anything starts (a UsageError lists what is wrong).
  const nearLimit = checkSourceAddresses(opts.scenario, opts.share?.shardOf);
  if (nearLimit !== null) process.stderr.write(`rtmpbench: warning: ${nearLimit}\n`);
  if (opts.profileServer === true) checkServerProfiling(opts.scenario, opts.serverGroup);
  if ((opts.scenario.browsers?.length ?? 0) > 0) {
    const missing = await browserViewersMissing();
    if (missing !== null) throw new BrowserUnavailable(missing);
  }
  if (opts.serverSyscalls === true) checkServerSyscalls(opts.scenario, opts.serverGroup);
  const target = await prepareTarget(opts.scenario, { perfBasicProf: opts.profileServer === true });
  try {
    // A hook before the run is called before its clock starts.
    const before = opts.scenario.hooks?.before !== undefined ? await callHook(opts.scenario.hooks.before) : undefined;
    return await new ScenarioRun(opts, target, before).run();
  } finally {
    await target.stop();
  }
}

/**
 * One run against a prepared target: plans the shards, runs them in a piscina pool (one task
 * per worker for the whole run), turns their ticks into the time series (progress, capacity
 * search, frame accounting along the way), and writes the results.
 */
class ScenarioRun {
  private readonly scenario: Scenario;
  private startedAt = new Date();
  private readonly workers: number;
  private readonly tasks: ShardTask[];
  private readonly ports: MessagePort[] = [];
  private readonly generator = new ProcessMonitor(process.pid);
  private readonly serverMonitor: ProcessMonitor | null;
  /** The same process's cost from the kernel's counters: CPU by mode, switches, reads and writes. */
  private readonly serverCost: CostMonitor | null;
  private readonly serverCounters: ServerCounters | null;
  private readonly mainLoop = new EventLoopMeter();
  private readonly timeline: TimelineBuilder;
  private hlogs: HlogStreams | null = null;
  private resultsDir: string | null = null;
  private readonly accounting: FrameAccounting;
  private readonly capacity: CapacitySearch | null;
  private readonly playersPlanned: number;
  /** Live outputs: the streamed timeline.ndjson first, then the caller's. */
  private readonly observers: RunObserver[];
  private lastSecondEnd = 0;
  /** This run's part in a run spread over machines. */
  private readonly share: ShareRun | null;
  private readonly profiler: ServerProfiler | null;
  /** Real players in Chromium beside the simulated viewers (started before the run), and their figures. */
  private browsers: BrowserRun | null = null;
  private browserResults: BrowserResults | null = null;
  private readonly syscalls: ServerSyscallCounter | null;
  private syscallCounts: SyscallCounts | null = null;

  constructor(
    private readonly opts: RunOptions,
    private readonly target: Target,
    private readonly hookBefore?: HookAnswer,
  ) {
    this.scenario = withSourceCodec(opts.scenario);
    this.observers = [new TimelineStream(), ...(opts.observers ?? [])];
    const s = this.scenario;
    this.workers = s.workers === 'auto' ? os.availableParallelism() : s.workers;
    this.share = opts.share !== undefined ? new ShareRun(opts.share, s) : null;
    // The start is set when the run begins (a distributed run's is the common one).
    this.tasks = planShards(s, this.workers, target.url, 0, {
      ...(opts.share !== undefined ? { shardOf: opts.share.shardOf } : {}),
      ...(target.httpPort !== undefined ? { httpPort: target.httpPort } : {}),
    });
    this.playersPlanned = this.tasks.reduce((t, k) => t + k.players.length, 0);
    this.serverMonitor =
      opts.serverGroup !== undefined
        ? new ProcessMonitor(opts.serverGroup, 250, { group: true })
        : target.pid !== undefined
          ? new ProcessMonitor(target.pid)
          : null;
    this.serverCost =
      opts.serverGroup !== undefined
        ? new CostMonitor(opts.serverGroup, { group: true })
        : target.pid !== undefined
          ? new CostMonitor(target.pid)
          : null;
    this.profiler =
      opts.profileServer === true
        ? new ServerProfiler(opts.serverGroup !== undefined ? { group: opts.serverGroup } : { pid: target.pid! })
        : null;
    this.syscalls =
      opts.serverSyscalls === true
        ? new ServerSyscallCounter(opts.serverGroup !== undefined ? { group: opts.serverGroup } : { pid: target.pid! })
        : null;
    this.serverCounters = target.statsPort !== null ? new ServerCounters(target.statsPort) : null;
    this.accounting = new FrameAccounting(new Set(this.tasks.flatMap((t) => t.publish)), s.stallThresholdMs);
    this.capacity = s.capacity !== undefined ? new CapacitySearch({ ...s, capacity: s.capacity }) : null;
    this.timeline = new TimelineBuilder(
      this.tasks.map((t) => t.shard),
      () => this.usage(),
      (sec) => this.onSecond(sec),
      (metric, startSec, endSec, h) => this.hlogs?.add(metric, startSec, endSec, h),
    );
  }

  async run(): Promise<RunOutcome> {
    try {
      return await this.runToEnd();
    } finally {
      // A run that failed anywhere after Chromium started still closes it.
      if (this.browsers !== null && this.browserResults === null) await this.browsers.end().catch(() => undefined);
      await this.share?.close();
    }
  }

  /** When the workers start (the common start of a distributed run), on this host's clock, and the clock's offset. */
  private async fixStart(): Promise<void> {
    const start =
      this.share !== null
        ? await this.share.start(LEAD_MS)
        : { startAtUs: monotonicUs() + LEAD_MS * 1000, clockOffsetUs: 0 };
    if (this.share !== null) this.startedAt = this.share.plannedStart;
    for (const t of this.tasks) {
      t.startAtUs = start.startAtUs;
      t.clockOffsetUs = start.clockOffsetUs;
    }
  }

  private async runToEnd(): Promise<RunOutcome> {
    this.browsers = await BrowserRun.prepare(
      this.scenario,
      this.target.url,
      this.target.httpPort,
      this.opts.share?.shardOf,
    );
    await this.fixStart();
    // The folder exists from the start: timeline.ndjson grows in it second by second.
    const resultsDir = newResultsDir(this.opts.outDir ?? 'results', this.startedAt, this.scenario.name);
    this.resultsDir = resultsDir;
    this.share?.openLog(resultsDir);
    this.hlogs = new HlogStreams(resultsDir, this.startedAt.getTime(), this.scenario.name);
    for (const o of this.observers)
      o.onStart?.({
        scenario: this.scenario,
        target: this.target.url,
        startedAt: this.startedAt.toISOString(),
        playersPlanned: this.playersPlanned,
        workers: this.workers,
        resultsDir,
      });
    await this.serverCounters?.start();
    this.generator.start();
    this.serverMonitor?.start();
    this.serverCost?.start();
    this.profiler?.start(resultsDir);
    this.browsers?.begin(this.tasks[0]?.startAtUs ?? monotonicUs());
    this.syscalls?.start(resultsDir);
    let results: ShardResult[];
    try {
      results = await this.runWorkers();
      if (this.browsers !== null) this.browserResults = await this.browsers.end();
      this.timeline.finish();
    } finally {
      this.hlogs.close();
      await this.profiler?.stop();
      this.syscallCounts = (await this.syscalls?.stop()) ?? null;
    }
    this.mainLoop.stop();
    // Every viewer's record is in: frame accounting adds what the send logs expected.
    const counters = addCounters(sumCounters(results.map((r) => r.counters)), this.accounting.finish());
    const summary = await this.summarize(results, counters);
    if (this.share !== null) {
      const lateUs = Math.max(0, ...results.map((r) => r.lateUs));
      summary.share = this.share.finish(lateUs, this.playersPlanned, this.accounting.added, this.accounting.addedBy);
    }
    const after = this.scenario.hooks?.after !== undefined ? await callHook(this.scenario.hooks.after) : undefined;
    keepHooks(
      resultsDir,
      {
        ...(this.hookBefore !== undefined ? { before: this.hookBefore } : {}),
        ...(after !== undefined ? { after } : {}),
      },
      summary,
    );
    if (this.profiler !== null) summary.serverProfile = await this.profiler.finish(resultsDir, this.scenario.name);
    // The timeline is in the folder already: TimelineStream wrote timeline.ndjson second by second.
    writeRunFolder(resultsDir, {
      summary,
      histograms: encodeAll(this.histogramSources(results)),
      counters,
      failures: summary.failures,
      // Each protocol's counters, whatever the summary shows: merging shares rebuilds byProtocol from them.
      byProtocol: Object.fromEntries(this.byProtocol(results)),
      httpErrors: sumFailures(results.map((r) => r.httpErrors)),
      ...(this.browserResults !== null ? { browser: this.browserResults.data } : {}),
      intervals: new Map(), // written as the run went (HlogStreams)
    });
    // A share's manifest comes last: every file it lists is written.
    if (this.share !== null) writeManifest(resultsDir);
    for (const o of this.observers) o.onEnd?.(summary, resultsDir);
    return { summary, resultsDir, timeline: this.timeline.points };
  }

  private async runWorkers(): Promise<ShardResult[]> {
    const pool = new Piscina({
      filename: ownModule(import.meta.url, './shard/worker.js').url.href,
      execArgv: ownModule(import.meta.url, './shard/worker.js').execArgv,
      minThreads: this.workers,
      maxThreads: this.workers,
      idleTimeout: Infinity,
      atomics: 'disabled',
      concurrentTasksPerWorker: 1,
    });
    const s = this.scenario;
    const deadlineMs = LEAD_MS + s.durationMs + (this.opts.graceMs ?? DEFAULT_GRACE_MS);
    let timer: NodeJS.Timeout | null = null;
    try {
      const runs = this.tasks.map((task) => {
        const { port1, port2 } = new MessageChannel();
        this.ports.push(port1);
        port1.on('message', (m: unknown) => this.onWorkerMessage(m));
        // The last ticks may still wait in the port when the task's result arrives: take them first.
        const drain = () => {
          for (let m = receiveMessageOnPort(port1); m !== undefined; m = receiveMessageOnPort(port1))
            this.onWorkerMessage(m.message);
          port1.close();
        };
        return (pool.run({ ...task, port: port2 }, { transferList: [port2] }) as Promise<ShardResult>).finally(drain);
      });
      return await Promise.race([
        Promise.all(runs),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new RunError(`the run did not finish within ${Math.round(deadlineMs / 1000)} s`)),
            deadlineMs,
          );
        }),
      ]);
    } finally {
      if (timer !== null) clearTimeout(timer);
      await pool.destroy();
    }
  }

  private onWorkerMessage(m: unknown): void {
    if (!isWorkerMessage(m)) return;
    this.share?.keep(m.sends, m.viewersEnded);
    this.accounting.addSends(m.sends);
    this.accounting.addViewers(m.viewersEnded);
    this.timeline.add(m);
  }

  private usage(): UsageSample {
    const g = this.generator.current();
    const sv = this.serverMonitor?.current() ?? null;
    const res = this.target.pid !== undefined ? sampleProcessResources(this.target.pid) : null;
    const cost = this.serverCost?.current() ?? null;
    return {
      generatorCpuSeconds: g?.cpuSeconds ?? null,
      generatorRssBytes: g?.rssBytes ?? null,
      serverCpuSeconds: sv?.cpuSeconds ?? null,
      serverRssBytes: sv?.rssBytes ?? null,
      serverKernelCpuSeconds: cost?.kernelCpuSeconds ?? null,
      serverWriteCalls: cost?.writeCalls ?? null,
      serverFds: res?.fds ?? null,
      serverThreads: res?.threads ?? null,
    };
  }

  /** Each measured second, once: the progress line and the capacity search. */
  private onSecond(sec: MeasuredSecond): void {
    const main = this.mainLoop.sample();
    // A distributed run's clock offset, measured again: marks stay on the reference clock.
    const clock = this.share?.clockMessage() ?? null;
    if (clock !== null && !sec.final) for (const p of this.ports) p.postMessage(clock);
    const point = this.timeline.points[this.timeline.points.length - 1]!;
    for (const o of this.observers)
      o.onSecond?.({
        point,
        counters: sec.counters,
        cumulative: sec.cumulative,
        cumulativeByProtocol: sec.cumulativeByProtocol,
        histograms: sec.histograms,
        failures: sec.failures,
      });
    const e2e = sec.histograms.get('endToEnd');
    this.lastSecondEnd = sec.final ? this.lastSecondEnd : sec.sec;
    if (!sec.final) {
      this.opts.onProgress?.({
        tSec: sec.sec,
        durationSec: this.scenario.durationMs / 1000,
        publishersUp: sec.publishersUp,
        playersUp: sec.playersUp,
        playersPlanned: this.playersPlanned,
        mbpsReceived: (sec.counters.bytesReceived * 8) / (sec.intervalMs / 1000) / 1e6,
        p99EndToEndMs: e2e !== undefined && e2e.totalCount > 0 ? e2e.getValueAtPercentile(99) / 1000 : null,
        errors: sec.errors,
        generatorEventLoopUtilization: Math.max(sec.eventLoopUtilization, main.utilization),
      });
    }
    if (
      this.capacity !== null &&
      !sec.final &&
      !sec.partial &&
      this.capacity.judge(sec.sec, sec.window, sec.histograms, sec.playersUp)
    ) {
      const stop: OrchestratorMessage = { kind: 'stop', atUs: monotonicUs() + STOP_NOTICE_MS * 1000 };
      for (const p of this.ports) p.postMessage(stop);
    }
  }

  /** The run's data, from the workers' results and what was measured beside them, made into its summary. */
  private async summarize(results: ShardResult[], counters: Counters): Promise<RunSummary> {
    const s = this.scenario;
    const gen = this.generator.stop();
    const srv = this.serverMonitor?.stop() ?? null;
    const cost = this.serverCost?.stop() ?? null;
    const syscalls = this.syscallCounts;
    const counts = (await this.serverCounters?.finish()) ?? null;
    const workers = results.map((r) => ({ worker: r.shard, ...eventLoopFigures(r.eventLoop) }));
    const worst = (k: keyof EventLoopFigures) => Math.max(0, ...workers.map((w) => w[k]));
    const summary = summarizeRun({
      scenario: s,
      target: this.target.url,
      targetKind: this.target.kind,
      startedAt: this.startedAt,
      durationMs: this.capacity?.broken ? Math.round(this.lastSecondEnd * 1000) : s.durationMs,
      counters,
      byProtocol: this.byProtocol(results),
      expectedSource: this.accounting.source,
      failures: sumFailures(results.map((r) => r.failures)),
      httpErrors: sumFailures(results.map((r) => r.httpErrors)),
      histograms: mergeEncoded(this.histogramSources(results)),
      // Named groups' seconds are read back from the .hlog files the run wrote.
      intervals: (key) => readIntervals(this.resultsDir!, key),
      timeline: this.timeline.points,
      ...(this.browserResults !== null ? { browser: this.browserResults.data } : {}),
      generator: {
        cpuSeconds: round3(gen?.cpuSeconds ?? 0),
        maxRssBytes: gen?.peakRssBytes ?? 0,
        workers: this.workers,
        eventLoop: {
          utilization: worst('utilization'),
          delayP99Ms: worst('delayP99Ms'),
          delayMaxMs: worst('delayMaxMs'),
          workers,
          main: eventLoopFigures(this.mainLoop.whole()),
        },
      },
      ...(srv !== null
        ? {
            server: {
              cpuSeconds: round3(srv.cpuSeconds),
              maxRssBytes: srv.peakRssBytes,
              pid: this.serverMonitor!.pid,
              ...(counts ?? {}),
              ...(cost !== null ? { cost } : {}),
              ...(syscalls !== null ? { syscalls } : {}),
            },
          }
        : {}),
    });
    this.capacity?.apply(summary);
    return summary;
  }

  /** The workers' histograms, and the browser viewers' (`browser.GROUP.METRIC`) beside them. */
  private histogramSources(results: readonly ShardResult[]): EncodedHistograms[] {
    const out = results.map((r) => r.histograms);
    if (this.browserResults !== null) {
      const browser: EncodedHistograms = {};
      for (const [k, h] of this.browserResults.histograms) browser[k] = encodeHistogram(h);
      out.push(browser);
    }
    return out;
  }

  /** Each viewer protocol's counters: the workers' totals and what frame accounting added. */
  private byProtocol(results: readonly ShardResult[]): Map<ProtocolKey, Counters> {
    const out = new Map<ProtocolKey, Counters>();
    for (const r of results) {
      for (const [k, c] of Object.entries(r.byProtocol) as [ProtocolKey, Counters][]) {
        let into = out.get(k);
        if (into === undefined) {
          into = newCounters();
          out.set(k, into);
        }
        addCounters(into, c);
      }
    }
    for (const [k, added] of this.accounting.addedBy) {
      let into = out.get(k);
      if (into === undefined) {
        into = newCounters();
        out.set(k, into);
      }
      addCounters(into, added);
    }
    return out;
  }
}

/** Viewers find marks by the codec the publishers send: an FLV file's own. */
function withSourceCodec(s: Scenario): Scenario {
  if (s.media.source === 'synthetic' || s.publishedStreams === 0) return s;
  return { ...s, media: { ...s.media, codec: makeSource(s.media).codec } };
}

function encodeAll(sources: readonly EncodedHistograms[]): EncodedHistograms {
  const out: EncodedHistograms = {};
  for (const [m, h] of mergeEncoded(sources)) out[m] = encodeHistogram(h);
  return out;
}
