import { mergeEncoded } from '../metrics/histograms.js';
import { meanInterval } from '../metrics/stats.js';
import type { LoadedComparison, LoadedRun } from '../results/folder.js';
import type { GateResult, GateRule } from '../results/gates.js';
import { measure } from '../results/thresholds.js';

/**
 * Judges gate rules over a comparison: each variant against the baseline, round by round (runs
 * of one round are paired, so drift falls on both sides alike). A relative rule works on the
 * per-round ratios (geometric mean, t interval of their logarithms, as the comparison table's
 * ratios); an absolute one on the per-round differences (mean, t interval). A rule fails for a
 * variant when the interval lies wholly on the worse side of no change (significant at 95%) and
 * the estimate is beyond the margin; a figure the runs lack, or fewer than two paired rounds,
 * fails too (nothing shows the change is within the margin).
 */

const GATE_CONFIDENCE = 0.95;

/** One run's value of a rule's metric, in the rule's unit (null when the run lacks it). */
export function gateValue(rule: GateRule, run: LoadedRun): number | null {
  const s = run.summary;
  if (rule.path[0] === 'capacity') return s.capacity?.highestPassingPlayers ?? null;
  const histograms = rule.path.includes('latency') ? mergeEncoded([run.histograms]) : new Map();
  return measure({ path: rule.path, unit: rule.unit }, s, histograms);
}

/** Values per round (null where the round has no run or the run lacks the figure). */
function byRound(
  rule: GateRule,
  runs: readonly { round: number; run: LoadedRun }[],
  rounds: number,
): (number | null)[] {
  const out: (number | null)[] = Array.from({ length: rounds }, () => null);
  for (const { round, run } of runs) if (round < rounds) out[round] = gateValue(rule, run);
  return out;
}

const fmt = (v: number) =>
  Math.abs(v) >= 100
    ? v.toFixed(0)
    : Math.abs(v) >= 10
      ? v.toFixed(1)
      : Math.abs(v) >= 1
        ? v.toFixed(2)
        : v.toPrecision(2);
const signed = (v: number) => `${v >= 0 ? '+' : '−'}${fmt(Math.abs(v))}`;
const pct = (ratio: number) => `${ratio >= 1 ? '+' : '−'}${(Math.abs(ratio - 1) * 100).toFixed(1)}%`;

/** Judges one rule for one variant, given the paired values (variant, baseline) of each round. */
export function judgeRule(
  rule: GateRule,
  variant: string,
  baseline: string,
  values: readonly (number | null)[],
  base: readonly (number | null)[],
): GateResult {
  const head: Omit<GateResult, 'passed' | 'estimate' | 'low' | 'high' | 'pairs' | 'message'> = {
    rule: rule.rule,
    variant,
    baseline,
    relative: rule.relative,
    better: rule.better,
  };
  const pairs: [number, number][] = [];
  for (let i = 0; i < Math.min(values.length, base.length); i++) {
    const v = values[i];
    const b = base[i];
    if (v !== null && v !== undefined && b !== null && b !== undefined) pairs.push([v, b]);
  }
  const fail = (message: string, pairCount = pairs.length): GateResult => ({
    ...head,
    passed: false,
    estimate: null,
    low: null,
    high: null,
    pairs: pairCount,
    message: `${rule.rule}: ${variant}: ${message}`,
  });
  if (pairs.length === 0) return fail(`not measured in paired rounds of ${variant} and ${baseline}`);
  let xs: number[];
  if (rule.relative) {
    xs = [];
    for (const [v, b] of pairs) {
      if (v === 0 && b === 0) xs.push(0);
      else if (v > 0 && b > 0) xs.push(Math.log(v / b));
      else
        return fail(
          `a ratio needs values above zero (a round had ${fmt(v)} against ${fmt(b)}): give an ` +
            `absolute margin, e.g. ${rule.path.join('.')} +${rule.better === 'lower' ? 1 : 0}`,
        );
    }
  } else {
    xs = pairs.map(([v, b]) => v - b);
  }
  if (xs.length < 2) return fail(`${xs.length} paired round: at least two are needed to judge (--repeat 2 or more)`);
  const ci = meanInterval(xs, GATE_CONFIDENCE)!;
  const map = rule.relative ? Math.exp : (x: number) => x;
  const [estimate, low, high] = [map(ci.estimate), map(ci.low), map(ci.high)];
  const none = rule.relative ? 1 : 0;
  const limit = rule.relative
    ? rule.better === 'lower'
      ? 1 + rule.margin / 100
      : 1 - rule.margin / 100
    : rule.better === 'lower'
      ? rule.margin
      : -rule.margin;
  const significant = rule.better === 'lower' ? low > none : high < none;
  const beyond = rule.better === 'lower' ? estimate > limit : estimate < limit;
  const passed = !(significant && beyond);
  const unit = rule.unit === '' ? '' : ` ${rule.unit}`;
  const change = rule.relative
    ? `${estimate.toFixed(2)}× ${baseline} (${pct(estimate)}) [${low.toFixed(2)}–${high.toFixed(2)}]`
    : `${signed(estimate)}${unit} against ${baseline} [${signed(low)}…${signed(high)}]`;
  const margin = `margin ${rule.better === 'lower' ? '+' : '−'}${rule.margin}${rule.relative ? '%' : unit}`;
  const verdict = passed
    ? significant
      ? `within the ${margin}`
      : `no significant worsening (${margin})`
    : `worse beyond the ${margin}, significant at ${GATE_CONFIDENCE * 100}%`;
  return {
    ...head,
    passed,
    estimate,
    low,
    high,
    pairs: xs.length,
    message: `${rule.rule}: ${variant} ${change}: ${verdict}`,
  };
}

/** Every rule for every variant other than the baseline. */
export function evaluateGates(rules: readonly GateRule[], c: LoadedComparison): GateResult[] {
  const rounds = c.file.repeat;
  const baseline = c.file.baseline;
  const baseRuns = c.runs.get(baseline) ?? [];
  const out: GateResult[] = [];
  for (const rule of rules) {
    const base = byRound(rule, baseRuns, rounds);
    for (const v of c.file.variants) {
      if (v.name === baseline) continue;
      out.push(judgeRule(rule, v.name, baseline, byRound(rule, c.runs.get(v.name) ?? [], rounds), base));
    }
  }
  return out;
}
