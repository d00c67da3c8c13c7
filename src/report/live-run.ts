import { newHistogram, type Histogram, type HistogramKey } from '../metrics/histograms.js';
import { newCounters, type Counters } from '../results/counters.js';
import type { LiveSecond, ProtocolKey, RunObserver, RunStart } from '../results/live.js';
import { buildSummary, type RunSummary, type ThresholdResult } from '../results/summary.js';
import { evaluateThresholds, parseThresholds } from '../results/thresholds.js';
import type { TimelinePoint } from '../results/timeline.js';

/**
 * A run as it stands, kept from what the run tells its observers: the time series so far, the
 * latency histograms so far (each second's merged in, so percentiles stay exact), the counters,
 * and the thresholds judged on all of it. The live outputs (Prometheus endpoint, dashboard)
 * read it; they never measure.
 */

export type LiveEvent =
  | { kind: 'start' }
  | { kind: 'second' }
  | { kind: 'end'; summary: RunSummary; resultsDir: string };

export class LiveRun implements RunObserver {
  start: RunStart | null = null;
  readonly points: TimelinePoint[] = [];
  /** Latency histograms (µs) of the run so far. */
  readonly histograms = new Map<HistogramKey, Histogram>();
  cumulative: Counters = newCounters();
  /** Counted so far per viewer protocol (empty when the run does not report them apart). */
  cumulativeByProtocol: Partial<Record<ProtocolKey, Counters>> = {};
  failures: Readonly<Record<string, number>> = {};
  /** The last second as the run reported it (null before the first). */
  last: LiveSecond | null = null;
  /** CPU-seconds so far, summed from the seconds' CPU use (null when not measured). */
  generatorCpuSeconds = 0;
  serverCpuSeconds: number | null = null;
  generatorMaxRssBytes = 0;
  serverMaxRssBytes = 0;
  ended: { summary: RunSummary; resultsDir: string } | null = null;
  private readonly listeners = new Set<(e: LiveEvent) => void>();

  /** Calls `f` after each change; returns the function that stops it. */
  subscribe(f: (e: LiveEvent) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  onStart(start: RunStart): void {
    this.start = start;
    this.emit({ kind: 'start' });
  }

  onSecond(second: LiveSecond): void {
    this.last = second;
    this.points.push(second.point);
    this.cumulative = second.cumulative;
    this.cumulativeByProtocol = second.cumulativeByProtocol ?? {};
    this.failures = second.failures;
    for (const [key, h] of second.histograms) {
      if (h.totalCount === 0) continue;
      let into = this.histograms.get(key);
      if (into === undefined) {
        into = newHistogram();
        this.histograms.set(key, into);
      }
      into.add(h);
    }
    const p = second.point;
    const sec = p.durationSec ?? 1;
    if (p.generatorCpuPct !== null) this.generatorCpuSeconds += (p.generatorCpuPct / 100) * sec;
    if (p.serverCpuPct !== null) this.serverCpuSeconds = (this.serverCpuSeconds ?? 0) + (p.serverCpuPct / 100) * sec;
    this.generatorMaxRssBytes = Math.max(this.generatorMaxRssBytes, p.generatorRssBytes ?? 0);
    this.serverMaxRssBytes = Math.max(this.serverMaxRssBytes, p.serverRssBytes ?? 0);
    this.emit({ kind: 'second' });
  }

  onEnd(summary: RunSummary, resultsDir: string): void {
    this.ended = { summary, resultsDir };
    this.emit({ kind: 'end', summary, resultsDir });
  }

  /** Seconds since the start, as far as the run has reported. */
  get elapsedSec(): number {
    return this.points.length === 0 ? 0 : this.points[this.points.length - 1]!.tSec;
  }

  /** The scenario's thresholds judged on the run so far (the final verdict once the run ended). */
  thresholds(): ThresholdResult[] {
    if (this.ended !== null) return this.ended.summary.thresholds;
    const start = this.start;
    if (start === null || start.scenario.thresholds.length === 0) return [];
    const soFar = buildSummary({
      scenario: start.scenario,
      target: start.target,
      targetKind: start.scenario.target === 'builtin' ? 'builtin' : 'external',
      startedAt: new Date(start.startedAt),
      durationMs: Math.max(1000, this.elapsedSec * 1000),
      counters: this.cumulative,
      expectedSource: 'none',
      failures: { ...this.failures },
      histograms: this.histograms,
      generator: {
        cpuSeconds: this.generatorCpuSeconds,
        maxRssBytes: this.generatorMaxRssBytes,
        workers: start.workers,
      },
      ...(this.serverCpuSeconds !== null
        ? { server: { cpuSeconds: this.serverCpuSeconds, maxRssBytes: this.serverMaxRssBytes, pid: 0 } }
        : {}),
    });
    return evaluateThresholds(parseThresholds(start.scenario.thresholds), soFar, this.histograms);
  }

  private emit(e: LiveEvent): void {
    for (const f of this.listeners) {
      try {
        f(e);
      } catch {
        // A live output that fails must not stop the run.
      }
    }
  }
}
