import {
  decodeHistogram,
  newHistogram,
  summarize,
  METRICS,
  type Histogram,
  type HistogramKey,
  type LatencySummary,
  type MetricName,
} from '../metrics/histograms.js';
import type { EncodedInterval, IntervalHistogram } from '../metrics/hlog.js';
import type { Scenario, ViewerGroup } from './scenario.js';
import type { GroupFigures } from './summary.js';
import { round2 } from '../metrics/round.js';

/** How long before a group starts joining the others' latency is taken as their usual. */
const BEFORE_SEC = 5;

/** Adds `h` into `into` (a histogram of its own); returns `into`. */
function mergeHistograms(into: Histogram, h: Histogram): Histogram {
  into.add(h);
  return into;
}

/** The scenario's named viewer groups: players (when named) and the named groups of viewers. */
export function namedGroups(s: Scenario): (ViewerGroup & { name: string })[] {
  const players: ViewerGroup = {
    protocol: s.players.protocol ?? 'rtmp',
    perStream: s.players.perStream,
    ...(s.players.name !== undefined ? { name: s.players.name } : {}),
  };
  return [players, ...(s.viewers ?? [])].filter((g): g is ViewerGroup & { name: string } => g.name !== undefined);
}

/**
 * Each named group's figures: latencies from the run's histograms (`NAME.endToEnd`...), its
 * end-to-end p99 second by second from the intervals the run kept, and, for each group on a
 * schedule of its own, how the others' p99 went while it joined.
 */
export function groupFigures(
  s: Scenario,
  histograms: ReadonlyMap<HistogramKey, Histogram>,
  intervals: ReadonlyMap<HistogramKey, readonly (EncodedInterval | IntervalHistogram)[]>,
  durationSec: number,
): Record<string, GroupFigures> | undefined {
  const groups = namedGroups(s);
  if (groups.length === 0) return undefined;
  const seconds = Math.max(0, Math.ceil(durationSec));
  const out: Record<string, GroupFigures> = {};
  for (const g of groups) {
    const latencyMs = {} as Record<MetricName, LatencySummary>;
    for (const m of METRICS) latencyMs[m] = summarize(histograms.get(`${g.name}.${m}`));
    // One histogram per second of the run (1-based: second k covers (k-1, k]).
    const perSecond: (Histogram | null)[] = Array.from({ length: seconds }, () => null);
    for (const i of intervals.get(`${g.name}.endToEnd`) ?? []) {
      const k = Math.min(seconds, Math.max(1, Math.ceil(i.endSec - 1e-9))) - 1;
      if (k < 0) continue;
      perSecond[k] = mergeHistograms(
        perSecond[k] ?? newHistogram(),
        'encoded' in i ? decodeHistogram(i.encoded) : i.histogram,
      );
    }
    const p99 = (h: Histogram | null) =>
      h === null || h.totalCount === 0 ? null : round2(h.getValueAtPercentile(99) / 1000);
    out[g.name] = {
      protocol: g.protocol,
      perStream: g.perStream,
      ...(g.startMs !== undefined ? { startSec: g.startMs / 1000, rampSec: (g.rampMs ?? 1000) / 1000 } : {}),
      latencyMs,
      endToEndP99MsBySecond: perSecond.map(p99),
    };
    const whileJoining: NonNullable<GroupFigures['whileJoining']> = {};
    for (const other of groups) {
      if (other === g || other.startMs === undefined) continue;
      const startSec = Math.floor(other.startMs / 1000);
      const endSec = Math.ceil((other.startMs + (other.rampMs ?? 1000)) / 1000) + 1;
      // Seconds (k-1, k] wholly before the start; and those that overlap the joins.
      const before = perSecond
        .slice(Math.max(0, startSec - BEFORE_SEC), startSec)
        .filter((h): h is Histogram => h !== null);
      const merged = before.reduce<Histogram | null>((a, h) => mergeHistograms(a ?? newHistogram(), h), null);
      const during = perSecond
        .slice(startSec, Math.min(seconds, endSec))
        .map(p99)
        .filter((v): v is number => v !== null);
      // The seconds after, everyone in: what the larger audience costs, the joining itself apart.
      const after = perSecond
        .slice(endSec, Math.min(seconds, endSec + BEFORE_SEC))
        .filter((h): h is Histogram => h !== null);
      const beforeP99Ms = p99(merged);
      const worstSecondP99Ms = during.length > 0 ? Math.max(...during) : null;
      whileJoining[other.name] = {
        beforeP99Ms,
        worstSecondP99Ms,
        ratio:
          beforeP99Ms !== null && worstSecondP99Ms !== null && beforeP99Ms > 0
            ? round2(worstSecondP99Ms / beforeP99Ms)
            : null,
        afterP99Ms: p99(after.reduce<Histogram | null>((a, h) => mergeHistograms(a ?? newHistogram(), h), null)),
      };
    }
    if (Object.keys(whileJoining).length > 0) out[g.name]!.whileJoining = whileJoining;
  }
  return out;
}
