import { figureOf, parseMetric } from './thresholds.js';

/**
 * Gates: how much worse than the baseline a comparison's variants may get, written as
 * `METRIC +N%` (relative) or `METRIC +N UNIT` (absolute), METRIC in the thresholds' grammar:
 *
 *   latency.endToEnd.p99 +10%          latency.firstFrame.p95 +50ms
 *   server.cpuPer1000PlayerMinutes +5%   frames.lost +0       capacity +0%
 *
 * "Worse" follows the metric's direction: up for latencies, losses, failures and costs; down for
 * what a run delivers (throughput, frames received, sessions connected, capacity). A rule fails
 * for a variant when its paired interval lies wholly on the worse side of no change and the
 * estimate is beyond the margin (src/lab/gate.ts judges; the results are kept in compare.json).
 */

export interface GateRule {
  /** As written, trimmed. */
  rule: string;
  /** The metric's normalized path (latency. added), as thresholds have it. */
  path: string[];
  /** The unit values are read in (an absolute margin's unit; '' for a relative one). */
  unit: string;
  /** How much worse is allowed: percent for a relative rule, else in `unit`. */
  margin: number;
  relative: boolean;
  better: 'lower' | 'higher';
}

/** One rule judged for one variant against the baseline. */
export interface GateResult {
  rule: string;
  variant: string;
  baseline: string;
  relative: boolean;
  better: 'lower' | 'higher';
  passed: boolean;
  /** Relative: the ratio variant / baseline; absolute: the difference variant − baseline, in the rule's unit. */
  estimate: number | null;
  /** 95% confidence interval of the estimate (null below two paired rounds). */
  low: number | null;
  high: number | null;
  /** Rounds where both the variant and the baseline have the figure. */
  pairs: number;
  message: string;
}

/** The capacity found by a capacity search, which only gates (not thresholds) can name. */
const CAPACITY_PATH = ['capacity', 'highestPassingPlayers'];

const LINE = /^\s*([A-Za-z][\w.]*)\s+\+?\s*(\d+(?:\.\d+)?)\s*([a-zA-Zµ%]*)\s*$/;

/**
 * Which way a figure is better, as the figure table says: up for what a run delivers
 * (throughput, frames received, sessions connected, capacity), down for latency, loss and cost.
 */
export function betterDirection(path: readonly string[]): 'lower' | 'higher' {
  if (path.join('.') === CAPACITY_PATH.join('.')) return 'higher';
  const figure = figureOf(path);
  return typeof figure === 'string' ? 'lower' : figure.better;
}

/** Parses one rule; returns what is wrong with it instead when it cannot. */
export function parseGateRule(text: string): GateRule | string {
  const m = LINE.exec(text);
  if (!m)
    return (
      `"${text}" is not METRIC +N% or METRIC +N UNIT (e.g. latency.endToEnd.p99 +10%, ` +
      `latency.firstFrame.p95 +50ms)`
    );
  const relative = m[3] === '%';
  const metric = m[1]!;
  const margin = Number(m[2]);
  if (metric === 'capacity' || metric === CAPACITY_PATH.join('.')) {
    if (!relative && m[3] !== '') return `"${text}": capacity is a number of players: +N% or +N`;
    return { rule: text.trim(), path: CAPACITY_PATH, unit: '', margin, relative, better: 'higher' };
  }
  const parsed = parseMetric(metric, relative ? '' : m[3]!);
  if (typeof parsed === 'string') return `"${text}": ${parsed}`;
  return {
    rule: text.trim(),
    path: parsed.path,
    unit: parsed.unit,
    margin,
    relative,
    better: betterDirection(parsed.path),
  };
}

/** The rules that parse (rules are validated before a comparison runs, so all of them). */
export function parseGateRules(rules: readonly string[]): GateRule[] {
  return rules.map((r) => parseGateRule(r)).filter((r): r is GateRule => typeof r !== 'string');
}

/** Gate results that failed. */
export function failedGates(results: readonly GateResult[] | undefined): GateResult[] {
  return (results ?? []).filter((g) => !g.passed);
}
