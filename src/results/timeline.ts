import type { ProtocolKey } from '../protocol/delivery.js';

/**
 * The timeline: one point per second of a run, for charts and for tools that follow a run.
 * A second holds what was measured in it; a second for which not every worker reported is
 * marked `partial` (and the last, shorter interval of a run carries its `durationSec`), never
 * filled with zeros. Rates are per second of the interval they cover.
 */
export interface TimelinePoint {
  /** End of the interval, seconds since the run start. */
  tSec: number;
  publishersUp: number;
  playersUp: number;
  /** Viewers up by protocol, in seconds where viewers of more than one protocol were up. */
  playersUpByProtocol?: Partial<Record<ProtocolKey, number>>;
  mbpsReceived: number;
  /** Video frames received in the interval. */
  framesReceived: number;
  /** Failures so far. */
  errors: number;
  endToEndP50Ms: number | null;
  endToEndP99Ms: number | null;
  endToEndP999Ms: number | null;
  /** CPU use over the interval, % of one core; RSS at its end (null when not measured). */
  generatorCpuPct: number | null;
  serverCpuPct: number | null;
  serverRssBytes: number | null;
  /** The generator's own RSS at the end of the interval. */
  generatorRssBytes?: number | null;
  /** The target's open descriptors (null when unreadable) and threads; sessions (viewers and publications) ended so far. */
  serverFds?: number | null;
  serverThreads?: number | null;
  sessionsEnded?: number;
  /** The busiest generator thread's event-loop utilisation (0..1) and timer delay p99, ms. */
  generatorEventLoopUtilization?: number | null;
  generatorEventLoopDelayP99Ms?: number | null;
  /** Not every worker reported this second: sums cover those that did (`workersReporting`). */
  partial?: boolean;
  workersReporting?: number;
  /** Length of the interval when it is not one second (the end of a run). */
  durationSec?: number;
}

/** Viewers up by protocol, added over several workers or machines. */
export function sumUpByProtocol(records: readonly Partial<Record<ProtocolKey, number>>[]): Partial<Record<ProtocolKey, number>> {
  const out: Partial<Record<ProtocolKey, number>> = {};
  for (const r of records) for (const [k, n] of Object.entries(r) as [ProtocolKey, number][]) out[k] = (out[k] ?? 0) + n;
  return out;
}

/** One point as one line of NDJSON (timeline.ndjson, --timeline-stdout). */
export function timelineLine(point: TimelinePoint): string {
  return `${JSON.stringify(point)}\n`;
}

/**
 * The points of timeline.ndjson text. A run that stopped mid-write can leave its last line cut
 * short: that line is left out; any other line that is not JSON is an error (its number is returned).
 */
export function parseTimelineLines(text: string): TimelinePoint[] | { badLine: number } {
  const lines = text.split('\n');
  const points: TimelinePoint[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    try {
      points.push(JSON.parse(lines[i]!) as TimelinePoint);
    } catch {
      if (lines.slice(i + 1).every((l) => l.trim() === '')) break;
      return { badLine: i + 1 };
    }
  }
  return points;
}
