/**
 * Small-sample statistics for comparing repeated runs: mean and spread, Student's t
 * distribution (for confidence intervals and Welch's test), and ratios of paired runs.
 */

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (n - 1); NaN below two values. */
export function stdev(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** ln Γ(x) for x > 0 (Lanczos approximation, about 15 significant digits). */
function logGamma(x: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the regularized incomplete beta function (modified Lentz). */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-14) break;
  }
  return h;
}

/** Regularized incomplete beta function I_x(a, b). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** P(T <= t) for Student's t with `df` degrees of freedom (df may be fractional, as in Welch). */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The t value with P(T <= t) = p (bisection on the CDF). */
export function studentTQuantile(p: number, df: number): number {
  if (p <= 0 || p >= 1) throw new RangeError(`p must be in (0, 1), got ${p}`);
  let lo = -1e6;
  let hi = 1e6;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface Interval {
  estimate: number;
  low: number;
  high: number;
}

/** Confidence interval of the mean (t distribution); null below two values. */
export function meanInterval(xs: readonly number[], confidence = 0.95): Interval | null {
  if (xs.length < 2) return null;
  const m = mean(xs);
  const half = studentTQuantile(1 - (1 - confidence) / 2, xs.length - 1) * (stdev(xs) / Math.sqrt(xs.length));
  return { estimate: m, low: m - half, high: m + half };
}

/**
 * Ratio of paired measurements (variant / baseline, one pair per round of interleaved runs):
 * the geometric mean of the ratios with a confidence interval from the t distribution of their
 * logarithms. Pairs with a zero or negative side are left out; null when none remains.
 */
export function pairedRatio(
  variant: readonly number[],
  baseline: readonly number[],
  confidence = 0.95,
): (Interval & { n: number }) | null {
  const logs: number[] = [];
  for (let i = 0; i < Math.min(variant.length, baseline.length); i++) {
    const v = variant[i]!;
    const b = baseline[i]!;
    if (v > 0 && b > 0) logs.push(Math.log(v / b));
  }
  if (logs.length === 0) return null;
  const m = mean(logs);
  if (logs.length < 2) return { estimate: Math.exp(m), low: NaN, high: NaN, n: 1 };
  const ci = meanInterval(logs, confidence)!;
  return { estimate: Math.exp(m), low: Math.exp(ci.low), high: Math.exp(ci.high), n: logs.length };
}

export interface WelchResult {
  /** Difference of means (b - a). */
  difference: number;
  t: number;
  df: number;
  /** Two-sided p-value. */
  p: number;
  /** Confidence interval of the difference b - a. */
  low: number;
  high: number;
}

/** Welch's unequal-variances t-test of b against a; null when either side has fewer than two values. */
export function welchTest(a: readonly number[], b: readonly number[], confidence = 0.95): WelchResult | null {
  if (a.length < 2 || b.length < 2) return null;
  const va = stdev(a) ** 2 / a.length;
  const vb = stdev(b) ** 2 / b.length;
  const difference = mean(b) - mean(a);
  const se = Math.sqrt(va + vb);
  if (se === 0) {
    const p = difference === 0 ? 1 : 0;
    return {
      difference,
      t: difference === 0 ? 0 : Math.sign(difference) * Infinity,
      df: a.length + b.length - 2,
      p,
      low: difference,
      high: difference,
    };
  }
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  const t = difference / se;
  const p = 2 * (1 - studentTCdf(Math.abs(t), df));
  const half = studentTQuantile(1 - (1 - confidence) / 2, df) * se;
  return { difference, t, df, p, low: difference - half, high: difference + half };
}
