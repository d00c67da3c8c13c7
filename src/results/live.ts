import type { Histogram, HistogramKey } from '../metrics/histograms.js';
import type { Counters } from './counters.js';
import type { Scenario } from './scenario.js';
import type { RunSummary } from './summary.js';
import type { TimelinePoint } from './timeline.js';

/**
 * A run as it goes, for live outputs (progress, metrics endpoints, dashboards, a streamed
 * timeline): what a run tells its observers at its start, once per second, and at its end.
 * Observers format and serve; they never measure.
 */

export interface RunStart {
  scenario: Scenario;
  target: string;
  startedAt: string;
  playersPlanned: number;
  workers: number;
  /** The run's results folder, made before the first second (timeline.ndjson grows in it). */
  resultsDir: string;
}

export interface LiveSecond {
  /** The second's timeline point, as timeline.json will hold it. */
  point: TimelinePoint;
  /** Counted during the second, and so far. */
  counters: Counters;
  cumulative: Counters;
  /** The second's latency histograms (µs), merged over workers. */
  histograms: ReadonlyMap<HistogramKey, Histogram>;
  /** Failures so far, by reason. */
  failures: Readonly<Record<string, number>>;
}

export interface RunObserver {
  onStart?(start: RunStart): void;
  onSecond?(second: LiveSecond): void;
  onEnd?(summary: RunSummary, resultsDir: string): void;
}
