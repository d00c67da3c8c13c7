import type { ProtocolKey } from '../protocol/delivery.js';
import { round3 } from '../metrics/round.js';

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
  /** The server's kernel CPU over the interval, % of one core (part of serverCpuPct), and its write calls per second. */
  serverKernelCpuPct?: number | null;
  serverWriteCallsPerSec?: number | null;
  /** The generator's own RSS at the end of the interval. */
  generatorRssBytes?: number | null;
  /**
   * The target's open descriptors (null when unreadable) and threads; sessions (viewers and
   * publications) ended so far.
   */
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
export function sumUpByProtocol(
  records: readonly Partial<Record<ProtocolKey, number>>[],
): Partial<Record<ProtocolKey, number>> {
  const out: Partial<Record<ProtocolKey, number>> = {};
  for (const r of records)
    for (const [k, n] of Object.entries(r) as [ProtocolKey, number][]) out[k] = (out[k] ?? 0) + n;
  return out;
}

/**
 * How each field of a point combines over the machines (shares) that measured the same second:
 * added (what each machine's sessions did), the largest (one server, measured from each machine;
 * the busiest thread), a percentile of the second's merged end-to-end histogram, or the point's
 * own bookkeeping. Typed over every field, so a new field needs its rule here.
 */
export type TimelineRule = 'key' | 'sum' | 'max' | 'sum-by-protocol' | { percentile: number } | 'partial' | 'first';

const TIMELINE_FIELDS: { readonly [K in keyof Required<TimelinePoint>]: TimelineRule } = {
  tSec: 'key',
  publishersUp: 'sum',
  playersUp: 'sum',
  playersUpByProtocol: 'sum-by-protocol',
  mbpsReceived: 'sum',
  framesReceived: 'sum',
  errors: 'sum',
  endToEndP50Ms: { percentile: 50 },
  endToEndP99Ms: { percentile: 99 },
  endToEndP999Ms: { percentile: 99.9 },
  // The generator is every machine's processes together.
  generatorCpuPct: 'sum',
  generatorRssBytes: 'sum',
  // One server measured from several machines: its figures are the same in each.
  serverCpuPct: 'max',
  serverRssBytes: 'max',
  serverKernelCpuPct: 'max',
  serverWriteCallsPerSec: 'max',
  serverFds: 'max',
  serverThreads: 'max',
  sessionsEnded: 'sum',
  generatorEventLoopUtilization: 'max',
  generatorEventLoopDelayP99Ms: 'max',
  partial: 'partial',
  workersReporting: 'partial',
  durationSec: 'first',
};

/**
 * One second measured by several machines, as one point: each field by its rule. `e2e` is the
 * second's end-to-end histogram merged over them; `machines` how many took part in the run.
 */
export function mergeTimelinePoint(
  points: readonly TimelinePoint[],
  e2e: { getValueAtPercentile(p: number): number; totalCount: number } | undefined,
  machines: number,
): TimelinePoint {
  const out: Record<string, unknown> = {};
  for (const [field, rule] of Object.entries(TIMELINE_FIELDS) as [keyof TimelinePoint, TimelineRule][]) {
    const values = points.map((p) => p[field]);
    const numbers = values.filter((v): v is number => typeof v === 'number');
    if (rule === 'key' || rule === 'first') {
      const v = values.find((x) => x !== undefined);
      if (v !== undefined) out[field] = v;
    } else if (rule === 'sum') {
      // A figure no machine measured stays null; counts every point has are added.
      out[field] =
        numbers.length > 0
          ? round3(numbers.reduce((a, b) => a + b, 0))
          : values.some((v) => v === null)
            ? null
            : undefined;
    } else if (rule === 'max') {
      out[field] = numbers.length > 0 ? Math.max(...numbers) : values.some((v) => v === null) ? null : undefined;
    } else if (rule === 'sum-by-protocol') {
      // Where any machine counted by protocol, the others' viewers were RTMP's alone.
      if (points.some((p) => p.playersUpByProtocol !== undefined))
        out[field] = sumUpByProtocol(points.map((p) => p.playersUpByProtocol ?? { rtmp: p.playersUp }));
    } else if (rule !== 'partial') {
      out[field] = e2e !== undefined && e2e.totalCount > 0 ? e2e.getValueAtPercentile(rule.percentile) / 1000 : null;
    }
  }
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  if (points.length < machines || points.some((p) => p.partial === true)) {
    out.partial = true;
    out.workersReporting = points.length;
  }
  return out as unknown as TimelinePoint;
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
