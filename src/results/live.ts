import type { Histogram, HistogramKey } from '../metrics/histograms.js';
import { PROTOCOL_KEYS, type ProtocolKey, type ViewerProtocol } from '../protocol/delivery.js';

export type { ProtocolKey, ViewerProtocol };
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
  /** The second's timeline point, as timeline.ndjson holds it. */
  point: TimelinePoint;
  /** Counted during the second, and so far. */
  counters: Counters;
  cumulative: Counters;
  /** Counted so far, for each viewer protocol the run has (by results key: rtmp, httpFlv, wsFlv, hls). */
  cumulativeByProtocol?: Partial<Record<ProtocolKey, Counters>>;
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

/**
 * A viewer protocol as live outputs label it (rtmp, http-flv, ws-flv, hls: as the built-in server's
 * /metrics do), by its results key.
 */
export const PROTOCOL_LABELS = Object.fromEntries(
  Object.entries(PROTOCOL_KEYS).map(([label, key]) => [key, label]),
) as Record<ProtocolKey, ViewerProtocol>;
