import type { Histogram, MetricName, HistogramKey } from '../metrics/histograms.js';
import { METRICS } from '../metrics/histograms.js';
import { PROTOCOL_KEY_LIST, type ProtocolKey } from '../protocol/delivery.js';
import { counterFieldsOf, getPath } from './counters.js';
import type { RunSummary, ThresholdResult } from './summary.js';

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

// Field lists come from the counter table, so a new counter is a threshold metric at once.
const FRAME_COUNTS = counterFieldsOf('frames');
const THROUGHPUT = [...counterFieldsOf('throughput'), 'mbpsReceived'];
const SESSION_COUNTS = ['planned', 'connected', 'failed', 'tooLateToJudge'];
const PROCESS_FIGURES = ['cpuSeconds', 'maxRssBytes'];
/** The server's figures: its process's, and its CPU per unit of work. */
const SERVER_FIGURES = [...PROCESS_FIGURES, 'cpuPer1000PlayerMinutes'];
const EVENT_LOOP_FIGURES = ['utilization', 'delayP99Ms', 'delayMaxMs'];
/** The leak verdict: 1 when it found a leak, and its estimates (bytes per ended session or per hour, descriptors per ended session). */
const LEAK_FIGURES = ['detected', 'bytesPerSession', 'bytesPerHour', 'fdsPerSession'];

const LINE = /^\s*([A-Za-z][\w.]*)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*([a-zA-Zµ%]*)\s*$/;

/** Parses one threshold; returns a message saying what is wrong instead when it cannot. */
export function parseThreshold(expression: string): Threshold | string {
  const m = LINE.exec(expression);
  if (!m) return `"${expression}" is not METRIC OP VALUE (e.g. latency.endToEnd.p99 < 250ms)`;
  const metric = parseMetric(m[1]!, m[4]!);
  if (typeof metric === 'string') return `"${expression}": ${metric}`;
  return { expression: expression.trim(), path: metric.path, op: m[2] as Op, value: Number(m[3]), unit: metric.unit };
}

/** A METRIC of the grammar read in a unit (as gates use it too): its normalized path, or what is wrong. */
export function parseMetric(metric: string, unitText: string): MetricRef | string {
  let path = metric.split('.');
  const unit = unitText.toLowerCase();
  if (UNITS[unit] === undefined) return `unknown unit "${unitText}" (use ms, s, us, %, KB, MB, GB, Mbps, kbps)`;
  // One protocol's viewers: hls.latency.endToEnd.p95, httpFlv.frames.lost.
  const protocol = (PROTOCOL_KEY_LIST as readonly string[]).includes(path[0]!) ? path[0]! : null;
  if (protocol !== null) path = path.slice(1);
  if ((METRICS as readonly string[]).includes(path[0]!)) path = ['latency', ...path];
  if (protocol !== null && !(path[0] === 'latency' || path[0] === 'frames' || path[0] === 'throughput' || (path[0] === 'sessions' && path[1] === 'players'))) {
    return `${protocol}.${path.join('.')}: a protocol's viewers have latency.*, frames.*, throughput.* and sessions.players.*`;
  }
  const problem = checkPath(path, unit);
  return problem ?? { path: protocol !== null ? [protocol, ...path] : path, unit };
}

function checkPath(path: string[], unit: string): string | null {
  const kind = UNITS[unit]!.kind;
  const [head, a, b] = path;
  if (head === 'latency') {
    if (path.length !== 3 || !(METRICS as readonly string[]).includes(a!)) return `latency metrics are ${METRICS.join(', ')}`;
    if (!/^(count|min|mean|max|p\d{1,2}(\.\d+)?|p999)$/.test(b!)) return `"${b}" is not count, min, mean, max or a percentile such as p99`;
    if (b === 'count') return kind === 'plain' ? null : 'a count takes no unit';
    return kind === 'time' || kind === 'plain' ? null : 'latency takes a time unit (ms, s, us)';
  }
  if (head === 'frames') {
    if (path.length !== 2 || !FRAME_COUNTS.includes(a!)) return `frames.{${FRAME_COUNTS.join(',')}}`;
    return kind === 'plain' || kind === 'percent' ? null : 'frame counts take no unit, or % of frames received';
  }
  if (head === 'sessions') {
    if (path.length !== 3 || !['publishers', 'players'].includes(a!) || !SESSION_COUNTS.includes(b!)) return `sessions.{publishers,players}.{${SESSION_COUNTS.join(',')}}`;
    return kind === 'plain' || kind === 'percent' ? null : 'session counts take no unit, or % of planned';
  }
  if (head === 'throughput') {
    if (path.length !== 2 || !THROUGHPUT.includes(a!)) return `throughput.{${THROUGHPUT.join(',')}}`;
    return null;
  }
  if (head === 'generator' && a === 'eventLoop') {
    if (path.length !== 3 || !EVENT_LOOP_FIGURES.includes(b!)) return `generator.eventLoop.{${EVENT_LOOP_FIGURES.join(',')}}`;
    return kind === 'plain' || (b !== 'utilization' && kind === 'time') ? null : 'utilization takes no unit; delays take ms';
  }
  if ((head === 'server' || head === 'generator') && a === 'leak') {
    if (path.length !== 3 || !LEAK_FIGURES.includes(b!)) return `${head}.leak.{${LEAK_FIGURES.join(',')}}`;
    return kind === 'plain' || (b !== 'detected' && kind === 'bytes') ? null : 'leak figures take no unit, or bytes (KB, MB)';
  }
  if (head === 'server' || head === 'generator') {
    const figures = head === 'server' ? SERVER_FIGURES : PROCESS_FIGURES;
    if (path.length !== 2 || !figures.includes(a!)) return `${head}.{${figures.join(',')}}${head === 'generator' ? ` or generator.eventLoop.{${EVENT_LOOP_FIGURES.join(',')}}` : ''} or ${head}.leak.{${LEAK_FIGURES.join(',')}}`;
    return null;
  }
  return `unknown metric "${path.join('.')}" (latency.*, frames.*, sessions.*, throughput.*, server.*, generator.*)`;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function percentileOf(stat: string): number | null {
  if (stat === 'p999') return 99.9;
  const m = /^p(\d{1,2}(?:\.\d+)?)$/.exec(stat);
  return m ? Number(m[1]) : null;
}

/** The measured value in the threshold's unit, or null when the run has no such figure. */
export function measure(t: MetricRef, s: RunSummary, histograms: Map<HistogramKey, Histogram>): number | null {
  if ((PROTOCOL_KEY_LIST as readonly string[]).includes(t.path[0]!)) {
    // A protocol's figures, read as the top level's are: its summary part and its histograms.
    const key = t.path[0] as ProtocolKey;
    // A run that reports no protocol apart had RTMP viewers only: theirs are the run's own figures.
    if (key === 'rtmp' && s.byProtocol === undefined) return measure({ ...t, path: t.path.slice(1) }, s, histograms);
    const fig = s.byProtocol?.[key];
    if (fig === undefined) return null;
    const view: RunSummary = { ...s, sessions: { ...s.sessions, players: fig.sessions.players }, latencyMs: fig.latencyMs, frames: fig.frames, throughput: { ...s.throughput, ...fig.throughput } };
    const own = new Map<HistogramKey, Histogram>();
    for (const [k, h] of histograms) if (k.startsWith(`${key}.`)) own.set(k.slice(key.length + 1) as HistogramKey, h);
    return measure({ ...t, path: t.path.slice(1) }, view, own);
  }
  const [head, a, b] = t.path as [string, string, string];
  const unit = UNITS[t.unit]!;
  if (head === 'latency') {
    const h = histograms.get(a as MetricName);
    if (b === 'count') return h?.totalCount ?? 0;
    if (h === undefined || h.totalCount === 0) return null;
    const p = percentileOf(b);
    const us = p !== null ? h.getValueAtPercentile(p) : b === 'min' ? h.getValueAtPercentile(0) : b === 'max' ? h.getValueAtPercentile(100) : h.mean;
    return round3(us / 1000 / (unit.kind === 'time' ? unit.factor : 1));
  }
  if (head === 'frames') {
    const v = (s.frames as Record<string, unknown>)[a];
    const count = typeof v === 'number' ? v : 0;
    if (unit.kind !== 'percent') return count;
    const base = s.throughput.framesReceived + s.frames.lost;
    return base === 0 ? 0 : round3((count / base) * 100);
  }
  if (head === 'sessions') {
    const group = s.sessions[a as 'publishers' | 'players'] as unknown as Record<string, number | undefined>;
    const count = group[b] ?? 0;
    if (unit.kind !== 'percent') return count;
    return group.planned === 0 || group.planned === undefined ? 0 : round3((count / group.planned) * 100);
  }
  if (head === 'throughput') {
    const v = (s.throughput as unknown as Record<string, number>)[a] ?? 0;
    return unit.kind === 'bytes' ? v / unit.factor : unit.kind === 'rate' && a === 'mbpsReceived' ? v / unit.factor : v;
  }
  if ((head === 'server' || head === 'generator') && a === 'leak') {
    const leak = head === 'server' ? s.server?.leak : s.generator.leak;
    if (leak === undefined) return null;
    const v = b === 'detected' ? leak.detected : b === 'bytesPerHour' ? leak.bytesPerHour : (leak[b as 'bytesPerSession' | 'fdsPerSession']?.estimate ?? null);
    if (v === null) return null;
    return unit.kind === 'bytes' ? round3(v / unit.factor) : v;
  }
  if (head === 'generator' && a === 'eventLoop') {
    const v = getPath(s.generator.eventLoop, b);
    if (typeof v !== 'number') return null;
    return unit.kind === 'time' ? round3(v / unit.factor) : v;
  }
  const group = head === 'server' ? s.server : s.generator;
  if (group === undefined) return null;
  const v = (group as Partial<Record<string, unknown>>)[a];
  if (typeof v !== 'number') return null;
  return unit.kind === 'bytes' ? round3(v / unit.factor) : unit.kind === 'time' ? round3((v * 1000) / unit.factor) : v;
}

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
export function evaluateThresholds(thresholds: readonly Threshold[], s: RunSummary, histograms: Map<HistogramKey, Histogram>): ThresholdResult[] {
  return thresholds.map((t) => {
    const actual = measure(t, s, histograms);
    const unit = t.unit === '' ? '' : t.unit === '%' ? '%' : ` ${t.unit}`;
    if (actual === null) {
      return { expression: t.expression, passed: false, actual: null, message: `${t.expression}: not measured in this run` };
    }
    const passed = holds(actual, t.op, t.value);
    return { expression: t.expression, passed, actual, message: `${t.expression} (measured ${actual}${unit})` };
  });
}

/** The thresholds of a scenario that parse (a scenario is validated before it runs, so all of them). */
export function parseThresholds(expressions: readonly string[]): Threshold[] {
  return expressions.map((t) => parseThreshold(t)).filter((t): t is Threshold => typeof t !== 'string');
}
