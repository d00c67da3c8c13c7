import type { Histogram, HistogramKey } from '../metrics/histograms.js';
import type { Counters } from '../results/counters.js';
import type { Scenario } from '../results/scenario.js';
import { buildSummary, type RunSummary } from '../results/summary.js';
import { evaluateThresholds, parseThresholds, type Threshold } from '../results/thresholds.js';

/** Threshold families that make sense for one second of a run. */
const WINDOW_METRICS = new Set(['latency', 'frames', 'sessions', 'throughput']);

/**
 * A capacity search: the scenario's thresholds judged on each second of the run (that second's
 * histograms and counts; sessions as they stand) while viewers ramp up. Once they have failed
 * for `breakAfter`, the search has broken: the run stops, and the result is the most viewers
 * for which every threshold held.
 */
export class CapacitySearch {
  private readonly thresholds: Threshold[];
  private highestPassing = 0;
  private failingSince = 0;
  private failingBy: string[] = [];
  private broke: { sec: number; players: number; by: string[] } | null = null;

  constructor(private readonly scenario: Scenario & { capacity: { breakAfterMs: number } }) {
    this.thresholds = parseThresholds(scenario.thresholds).filter((t) => WINDOW_METRICS.has(t.path[0]!));
  }

  get broken(): boolean {
    return this.broke !== null;
  }

  /** Judges one second; returns true when this second broke the search (the run should stop). */
  judge(sec: number, window: Counters, histograms: Map<HistogramKey, Histogram>, playersUp: number): boolean {
    const summary = buildSummary({
      scenario: this.scenario,
      target: '',
      targetKind: 'builtin',
      startedAt: new Date(0),
      durationMs: 1000,
      counters: window,
      expectedSource: 'none',
      failures: {},
      histograms,
      generator: { cpuSeconds: 0, maxRssBytes: 0, workers: 0 },
    });
    const failed = evaluateThresholds(this.thresholds, summary, histograms).filter(
      (r) => !r.passed && r.actual !== null,
    );
    if (failed.length === 0) {
      if (playersUp > this.highestPassing) this.highestPassing = playersUp;
      this.failingSince = 0;
      return false;
    }
    if (this.failingSince === 0) {
      this.failingSince = sec;
      this.failingBy = failed.map((r) => r.message);
    }
    if (this.broke === null && (sec - this.failingSince + 1) * 1000 >= this.scenario.capacity.breakAfterMs) {
      this.broke = { sec: this.failingSince, players: playersUp, by: this.failingBy };
      return true;
    }
    return false;
  }

  /** The search's result, and the thresholds reported rather than enforced when it broke. */
  apply(summary: RunSummary): void {
    summary.capacity = { highestPassingPlayers: this.highestPassing, broken: this.broke !== null };
    if (this.broke === null) return;
    Object.assign(summary.capacity, {
      brokeAtSec: this.broke.sec,
      playersAtBreak: this.broke.players,
      brokenBy: this.broke.by,
    });
    // A capacity search is expected to break: its result is the count, not a failure.
    summary.thresholds = summary.thresholds.map((t) => ({
      ...t,
      enforced: false,
      message: `${t.message} (capacity search: reported, not enforced)`,
    }));
  }
}
