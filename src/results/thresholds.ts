import type { Histogram, HistogramKey } from '../metrics/histograms.js';
import { METRICS } from '../metrics/histograms.js';
import { getPath } from './counters.js';
import {
  figureAt,
  figurePaths,
  protocolHasFigure,
  protocolPrefix,
  WHILE_JOINING_FIGURES,
  type Figure,
} from './figures.js';
import type { RunSummary, ThresholdResult } from './summary.js';
import { round3 } from '../metrics/round.js';

/**
 * Thresholds: conditions a run must meet, written as `METRIC OP VALUE[UNIT]`:
 *
 *   latency.endToEnd.p99 < 250ms      firstFrame.p95 < 500ms (latency. may be left out)
 *   frames.lost == 0                   sessions.players.failed < 1%   (of planned)
 *   throughput.mbpsReceived >= 40      server.cpuSeconds < 20         server.maxRssBytes < 200MB
 *   server.cpuPer1000PlayerMinutes < 30 (server CPU-seconds per 1000 player-minutes)
 *   generator.eventLoop.utilization < 0.9                              generator.eventLoop.delayP99Ms < 10
 *
 * Latency statistics: count, min, mean, max, and any percentile pNN or pNN.N (p50, p95, p999
 * is 99.9), read from the merged histograms, so every percentile is exact.
 */

export type Op = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** A metric and the unit its value is read in. */
export interface MetricRef {
  /** Dotted path as written, normalized (latency. added). */
  path: string[];
  /** The unit the value is read in ('ms', '%', 'MB', ''...). */
  unit: string;
}

export interface Threshold {
  expression: string;
  /** Dotted path as written, normalized (latency. added). */
  path: string[];
  op: Op;
  value: number;
  /** The unit the value was written in ('ms', '%', 'MB', ''...). */
  unit: string;
}

const UNITS: Record<string, { kind: 'time' | 'percent' | 'bytes' | 'rate' | 'plain'; factor: number }> = {
  '': { kind: 'plain', factor: 1 },
  us: { kind: 'time', factor: 0.001 },
  µs: { kind: 'time', factor: 0.001 },
  ms: { kind: 'time', factor: 1 },
  s: { kind: 'time', factor: 1000 },
  '%': { kind: 'percent', factor: 1 },
  b: { kind: 'bytes', factor: 1 },
  kb: { kind: 'bytes', factor: 1024 },
  mb: { kind: 'bytes', factor: 1024 ** 2 },
  gb: { kind: 'bytes', factor: 1024 ** 3 },
  kbps: { kind: 'rate', factor: 0.001 },
  mbps: { kind: 'rate', factor: 1 },
};

const LINE = /^\s*([A-Za-z][\w.]*)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*([a-zA-Zµ%]*)\s*$/;

/** Parses one threshold; returns a message saying what is wrong instead when it cannot. */
export function parseThreshold(expression: string): Threshold | string {
  const m = LINE.exec(expression);
  if (!m) return `"${expression}" is not METRIC OP VALUE (e.g. latency.endToEnd.p99 < 250ms)`;
  const metric = parseMetric(m[1]!, m[4]!);
  if (typeof metric === 'string') return `"${expression}": ${metric}`;
  return { expression: expression.trim(), path: metric.path, op: m[2] as Op, value: Number(m[3]), unit: metric.unit };
}

/** A group's figures: `group.NAME.latency.METRIC.STAT` and `group.NAME.whileJoining.OTHER.FIGURE`. */
function groupFigure(rest: readonly string[]): Figure | string {
  const [name, head, ...tail] = rest;
  if (name === undefined || head === undefined)
    return 'group.NAME.latency.METRIC.STAT or group.NAME.whileJoining.OTHER.FIGURE';
  if (head === 'latency') return figureAt(['latency', ...tail]) ?? figureHint(['latency', ...tail]);
  const spec =
    head === 'whileJoining' && tail.length === 2
      ? WHILE_JOINING_FIGURES[tail[1] as keyof typeof WHILE_JOINING_FIGURES]
      : undefined;
  if (spec === undefined) return `group.${name}.whileJoining.OTHER.{${Object.keys(WHILE_JOINING_FIGURES).join(',')}}`;
  return { ...spec, summaryPath: `byGroup.${rest.join('.')}` };
}

/** The figure a normalized path names (a protocol's or group's prefix included), or what is wrong. */
export function figureOf(path: readonly string[]): Figure | string {
  if (path[0] === 'group') return groupFigure(path.slice(1));
  const protocol = protocolPrefix(path);
  const own = protocol !== null ? path.slice(1) : path;
  if (protocol !== null && !protocolHasFigure(own)) {
    return (
      `${protocol}.${own.join('.')}: a protocol's viewers have latency.*, frames.*, ` +
      `throughput.* and sessions.players.*`
    );
  }
  return figureAt(own) ?? figureHint(own);
}

/**
 * What a wrong path could have been: the figures of the deepest group it names
 * (`server.{cpuSeconds,maxRssBytes,...}`), or the heads of the grammar.
 */
function figureHint(own: readonly string[]): string {
  if (own[0] === 'latency') {
    if (own.length === 3 && (METRICS as readonly string[]).includes(own[1]!))
      return `"${own[2]}" is not count, min, mean, max or a percentile such as p99`;
    return `latency metrics are ${METRICS.join(', ')}`;
  }
  const paths = figurePaths();
  for (let depth = own.length - 1; depth >= 1; depth--) {
    const prefix = `${own.slice(0, depth).join('.')}.`;
    const leaves = paths
      .filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('.'))
      .map((p) => p.slice(prefix.length));
    if (leaves.length > 0) return `${prefix}{${leaves.join(',')}}`;
  }
  return (
    `unknown metric "${own.join('.')}" (latency.*, frames.*, sessions.*, throughput.*, ` +
    `server.*, generator.*, group.NAME.*)`
  );
}

/** Units a figure's kind may be read in (a count: none or % of its base; a latency: a time unit). */
function unitProblem(f: Figure, unit: string): string | null {
  const kind = UNITS[unit]!.kind;
  if (kind === 'plain') return null;
  switch (f.kind) {
    case 'count':
      if (f.percentOf === 'frames')
        return kind === 'percent' ? null : 'frame counts take no unit, or % of frames received';
      if (f.percentOf === 'planned') return kind === 'percent' ? null : 'session counts take no unit, or % of planned';
      return 'a count takes no unit';
    case 'ms':
    case 'seconds':
      return kind === 'time' ? null : 'a time takes a time unit (ms, s, us)';
    case 'bytes':
      return kind === 'bytes' ? null : 'bytes take KB, MB or GB';
    case 'mbps':
      return kind === 'rate' ? null : 'a rate takes Mbps or kbps';
    case 'plain':
      return 'this figure takes no unit';
  }
}

/** A METRIC of the grammar read in a unit (as gates use it too): its normalized path, or what is wrong. */
export function parseMetric(metric: string, unitText: string): MetricRef | string {
  let path = metric.split('.');
  const unit = unitText.toLowerCase();
  if (UNITS[unit] === undefined) return `unknown unit "${unitText}" (use ms, s, us, %, KB, MB, GB, Mbps, kbps)`;
  // "latency." may be left out: firstFrame.p95, hls.endToEnd.p99.
  const protocol = protocolPrefix(path);
  const own = protocol !== null ? path.slice(1) : path;
  if ((METRICS as readonly string[]).includes(own[0]!))
    path = [...(protocol !== null ? [protocol] : []), 'latency', ...own];
  const figure = figureOf(path);
  if (typeof figure === 'string') return figure;
  return unitProblem(figure, unit) ?? { path, unit };
}

function percentileOf(stat: string): number | null {
  if (stat === 'p999') return 99.9;
  const m = /^p(\d{1,2}(?:\.\d+)?)$/.exec(stat);
  return m ? Number(m[1]) : null;
}

/** A latency statistic in ms from a histogram (null when nothing was recorded; a count is a count). */
function latencyOf(h: Histogram | undefined, stat: string): number | null {
  if (stat === 'count') return h?.totalCount ?? 0;
  if (h === undefined || h.totalCount === 0) return null;
  const p = percentileOf(stat);
  const us =
    p !== null
      ? h.getValueAtPercentile(p)
      : stat === 'min'
        ? h.getValueAtPercentile(0)
        : stat === 'max'
          ? h.getValueAtPercentile(100)
          : h.mean;
  return us / 1000;
}

/** Where a path's value is read: the summary (or one protocol's part of it) and the histograms' key prefix. */
function source(
  path: readonly string[],
  s: RunSummary,
): { view: Record<string, unknown>; own: string[]; prefix: string } | null {
  if (path[0] === 'group')
    return { view: s as unknown as Record<string, unknown>, own: path.slice(2), prefix: `${path[1]}.` };
  const protocol = protocolPrefix(path);
  // A run that reports no protocol apart had RTMP viewers only: theirs are the run's own figures.
  if (protocol === null || (protocol === 'rtmp' && s.byProtocol === undefined)) {
    return {
      view: s as unknown as Record<string, unknown>,
      own: protocol === null ? [...path] : path.slice(1),
      prefix: '',
    };
  }
  const fig = s.byProtocol?.[protocol];
  if (fig === undefined) return null;
  // A protocol's figures read as the top level's are, where it has them.
  const view = {
    ...s,
    sessions: { ...s.sessions, ...fig.sessions },
    latencyMs: fig.latencyMs,
    frames: fig.frames,
    throughput: { ...s.throughput, ...fig.throughput },
  };
  return { view, own: path.slice(1), prefix: `${protocol}.` };
}

/** The measured value in the metric's unit, or null when the run has no such figure. */
export function measure(t: MetricRef, s: RunSummary, histograms: Map<HistogramKey, Histogram>): number | null {
  const figure = figureOf(t.path);
  const at = source(t.path, s);
  if (typeof figure === 'string' || at === null) return null;
  const unit = UNITS[t.unit]!;
  if (at.own[0] === 'latency') {
    const ms = latencyOf(histograms.get(`${at.prefix}${at.own[1]}` as HistogramKey), at.own[2]!);
    return ms === null || at.own[2] === 'count' ? ms : round3(ms / (unit.kind === 'time' ? unit.factor : 1));
  }
  const v = getPath(at.view, figure.summaryPath) ?? (figure.counted === true ? 0 : undefined);
  if (typeof v !== 'number') return null;
  switch (unit.kind) {
    case 'percent': {
      const base =
        figure.percentOf === 'frames'
          ? numberAt(at.view, 'throughput.framesReceived') + numberAt(at.view, 'frames.lost')
          : numberAt(at.view, `${figure.summaryPath.split('.').slice(0, 2).join('.')}.planned`);
      return base === 0 ? 0 : round3((v / base) * 100);
    }
    case 'bytes':
    case 'rate':
      return round3(v / unit.factor);
    case 'time':
      return round3((figure.kind === 'seconds' ? v * 1000 : v) / unit.factor);
    default:
      return v;
  }
}

const numberAt = (o: unknown, path: string): number => {
  const v = getPath(o, path);
  return typeof v === 'number' ? v : 0;
};

function holds(actual: number, op: Op, value: number): boolean {
  switch (op) {
    case '<':
      return actual < value;
    case '<=':
      return actual <= value;
    case '>':
      return actual > value;
    case '>=':
      return actual >= value;
    case '==':
      return actual === value;
    case '!=':
      return actual !== value;
  }
}

/** Evaluates thresholds against a run; a figure the run lacks fails its threshold. */
export function evaluateThresholds(
  thresholds: readonly Threshold[],
  s: RunSummary,
  histograms: Map<HistogramKey, Histogram>,
): ThresholdResult[] {
  return thresholds.map((t) => {
    const actual = measure(t, s, histograms);
    const unit = t.unit === '' ? '' : t.unit === '%' ? '%' : ` ${t.unit}`;
    if (actual === null) {
      return {
        expression: t.expression,
        passed: false,
        actual: null,
        message: `${t.expression}: not measured in this run`,
      };
    }
    const passed = holds(actual, t.op, t.value);
    return { expression: t.expression, passed, actual, message: `${t.expression} (measured ${actual}${unit})` };
  });
}

/** The thresholds of a scenario that parse (a scenario is validated before it runs, so all of them). */
export function parseThresholds(expressions: readonly string[]): Threshold[] {
  return expressions.map((t) => parseThreshold(t)).filter((t): t is Threshold => typeof t !== 'string');
}
