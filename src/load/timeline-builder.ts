import { mergeEncoded, type Histogram, type HistogramKey } from '../metrics/histograms.js';
import { addCounters, COUNTER_NAMES, COUNTERS, newCounters, sumCounters, type Counters } from '../results/counters.js';
import { sumFailures } from '../results/summary.js';
import { sumUpByProtocol, type TimelinePoint } from '../results/timeline.js';
import type { ProtocolKey } from '../protocol/delivery.js';
import type { TickMessage } from './worker-protocol.js';
import { round3 } from '../metrics/round.js';

/** CPU and memory of the generator and the server, read when a second is complete. */
export interface UsageSample {
  generatorCpuSeconds: number | null;
  generatorRssBytes: number | null;
  serverCpuSeconds: number | null;
  /** The target's open descriptors (null when unreadable: another user's process) and threads. */
  serverFds: number | null;
  serverThreads: number | null;
  serverRssBytes: number | null;
  /** The server's kernel CPU time and write calls so far (metrics/process-cost.ts). */
  serverKernelCpuSeconds: number | null;
  serverWriteCalls: number | null;
}

/** One second of the run, built once from every worker's tick for it. */
export interface MeasuredSecond {
  sec: number;
  /** Counted during the second. */
  counters: Counters;
  /** The same with session counts as they stand (what a threshold judges for one second). */
  window: Counters;
  histograms: Map<HistogramKey, Histogram>;
  publishersUp: number;
  playersUp: number;
  /** Viewers up by protocol (every protocol a worker had viewers of this second). */
  playersUpByProtocol: Partial<Record<ProtocolKey, number>>;
  /** Failures so far: their count, and by reason. */
  errors: number;
  failures: Readonly<Record<string, number>>;
  /** Counted so far. */
  cumulative: Counters;
  /** Counted so far, for each viewer protocol the run has. */
  cumulativeByProtocol: Partial<Record<ProtocolKey, Counters>>;
  /** The busiest worker's event-loop utilisation and delay p99 (µs) this second. */
  eventLoopUtilization: number;
  eventLoopDelayP99Us: number;
  partial: boolean;
  final: boolean;
  intervalMs: number;
}

/**
 * Builds the run's time series from the workers' ticks: a second is complete once every worker
 * has reported it; then its interval histograms are merged once, and that one merge feeds the
 * timeline point, the .hlog intervals, the progress line and a capacity search. Seconds are
 * taken in order. When the run ends, seconds some worker never reported are marked partial
 * (never filled with zeros), and the workers' final, shorter intervals make the last point.
 */
export class TimelineBuilder {
  readonly points: TimelinePoint[] = [];
  private readonly pending = new Map<number, TickMessage[]>();
  private readonly finals: TickMessage[] = [];
  private readonly lastSecOf = new Map<number, number>();
  private next = 1;
  private readonly cumulative = newCounters();
  private readonly cumulativeByProtocol = new Map<ProtocolKey, Counters>();
  private failures: Record<string, number> = {};
  private lastUsage: UsageSample;
  private lastEndSec = 0;

  constructor(
    private readonly shards: readonly number[],
    private readonly usage: () => UsageSample,
    private readonly onSecond: (s: MeasuredSecond) => void,
    /** Takes each second's interval histogram of each metric as it is built (the .hlog files; none is kept here). */
    private readonly onInterval?: (metric: HistogramKey, startSec: number, endSec: number, h: Histogram) => void,
  ) {
    for (const s of shards) this.lastSecOf.set(s, 0);
    this.lastUsage = usage();
  }

  add(t: TickMessage): void {
    if (t.final) {
      this.finals.push(t);
      return;
    }
    let list = this.pending.get(t.sec);
    if (list === undefined) {
      list = [];
      this.pending.set(t.sec, list);
    }
    list.push(t);
    this.lastSecOf.set(t.shard, Math.max(this.lastSecOf.get(t.shard) ?? 0, t.sec));
    const complete = Math.min(...this.lastSecOf.values());
    while (this.next <= complete) this.build(this.next++, false);
  }

  /** The run is over: what is left is built, partial seconds marked, the final intervals last. */
  finish(): void {
    const last = Math.max(0, ...this.pending.keys());
    while (this.next <= last) this.build(this.next++, false);
    if (this.finals.length > 0) this.emit(this.finals, this.next, true);
  }

  private build(sec: number, final: boolean): void {
    const ticks = this.pending.get(sec) ?? [];
    this.pending.delete(sec);
    // A second no worker reported (a worker that fell behind by more than a second) is absent.
    if (ticks.length > 0) this.emit(ticks, sec, final);
  }

  private emit(ticks: readonly TickMessage[], sec: number, final: boolean): void {
    const histograms = mergeEncoded(ticks.map((t) => t.intervals));
    const counters = sumCounters(ticks.map((t) => t.counters));
    addCounters(this.cumulative, counters);
    for (const t of ticks) {
      for (const [k, c] of Object.entries(t.byProtocol ?? {}) as [ProtocolKey, Counters][]) {
        let into = this.cumulativeByProtocol.get(k);
        if (into === undefined) {
          into = newCounters();
          this.cumulativeByProtocol.set(k, into);
        }
        addCounters(into, c);
      }
    }
    this.failures = sumFailures([this.failures, ...ticks.map((t) => t.failures)]);
    const window = { ...counters };
    for (const k of COUNTER_NAMES) if (COUNTERS[k].window === 'cumulative') window[k] = this.cumulative[k];
    const intervalMs = Math.max(...ticks.map((t) => t.intervalMs));
    const durationSec = final ? intervalMs / 1000 : 1;
    const endSec = final ? round3(this.lastEndSec + durationSec) : sec;
    const partial = ticks.length < this.shards.length;
    const s: MeasuredSecond = {
      sec,
      counters,
      window,
      histograms,
      publishersUp: ticks.reduce((n, t) => n + t.publishersUp, 0),
      playersUp: ticks.reduce((n, t) => n + t.playersUp, 0),
      playersUpByProtocol: sumUpByProtocol(ticks.map((t) => t.playersUpByProtocol)),
      errors: Object.values(this.failures).reduce((a, b) => a + b, 0),
      failures: this.failures,
      cumulative: { ...this.cumulative },
      cumulativeByProtocol: Object.fromEntries([...this.cumulativeByProtocol].map(([k, c]) => [k, { ...c }])),
      eventLoopUtilization: Math.max(...ticks.map((t) => t.eventLoop.utilization)),
      eventLoopDelayP99Us: Math.max(...ticks.map((t) => t.eventLoop.delayP99Us)),
      partial,
      final,
      intervalMs,
    };
    for (const [metric, h] of histograms) {
      if (h.totalCount > 0) this.onInterval?.(metric, round3(endSec - durationSec), endSec, h);
    }
    const u = this.usage();
    const pct = (now: number | null, before: number | null) =>
      now === null || before === null ? null : round3(((now - before) / durationSec) * 100);
    const e2e = histograms.get('endToEnd');
    const at = (p: number) => (e2e !== undefined && e2e.totalCount > 0 ? e2e.getValueAtPercentile(p) / 1000 : null);
    this.points.push({
      tSec: endSec,
      publishersUp: s.publishersUp,
      playersUp: s.playersUp,
      // Left out where RTMP viewers alone (or none) are up: playersUp says it all.
      ...(Object.keys(s.playersUpByProtocol).some((k) => k !== 'rtmp')
        ? { playersUpByProtocol: s.playersUpByProtocol }
        : {}),
      mbpsReceived: round3((counters.bytesReceived * 8) / durationSec / 1e6),
      framesReceived: counters.framesReceived,
      errors: s.errors,
      endToEndP50Ms: at(50),
      endToEndP99Ms: at(99),
      endToEndP999Ms: at(99.9),
      generatorCpuPct: pct(u.generatorCpuSeconds, this.lastUsage.generatorCpuSeconds),
      serverCpuPct: pct(u.serverCpuSeconds, this.lastUsage.serverCpuSeconds),
      serverRssBytes: u.serverRssBytes,
      serverKernelCpuPct: pct(u.serverKernelCpuSeconds, this.lastUsage.serverKernelCpuSeconds),
      serverWriteCallsPerSec:
        u.serverWriteCalls === null || this.lastUsage.serverWriteCalls === null
          ? null
          : Math.round((u.serverWriteCalls - this.lastUsage.serverWriteCalls) / durationSec),
      generatorRssBytes: u.generatorRssBytes,
      serverFds: u.serverFds,
      serverThreads: u.serverThreads,
      sessionsEnded: this.cumulative.playersEnded + this.cumulative.publishersEnded,
      generatorEventLoopUtilization: s.eventLoopUtilization,
      generatorEventLoopDelayP99Ms: round3(s.eventLoopDelayP99Us / 1000),
      ...(partial ? { partial: true, workersReporting: ticks.length } : {}),
      ...(final ? { durationSec: round3(durationSec) } : {}),
    });
    this.lastUsage = u;
    this.lastEndSec = endSec;
    this.onSecond(s);
  }
}
