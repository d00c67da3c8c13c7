import { theilSenInterval, theilSenSlope, type SlopeInterval } from './robust-slope.js';

/**
 * The leak verdict of a soak: does a server's memory grow with the number of sessions that
 * came and went? An equivalence test on a robust slope:
 *
 * - the slope is the Theil–Sen slope of the floor of RSS against sessions ended (bytes per
 *   ended session), over the plateau after a warm-up. The floor is a low percentile over a
 *   trailing window: the level memory comes back to between a garbage collector's cycles and
 *   between waves of viewers, so neither the sawtooth nor the memory of sessions still alive
 *   is taken for growth, and Theil–Sen is not moved by single wild samples;
 * - its interval comes from a moving-block bootstrap with a fixed seed (reproducible);
 * - `leak` when the interval's lower bound is above the margin, `no-leak` when its upper bound
 *   is below it, `inconclusive` otherwise (or when there is too little to judge).
 *
 * Allocator behaviour: memory that grows while sessions are alive and is reused by the next
 * ones (heap growth, pools, free lists, arenas) is not a leak. The warm-up leaves out the first
 * sessions' fill-up; the floor stays level across waves whose memory is reused or returned; and
 * a `leak` also needs the growth to go on in the second half of the plateau: memory that rose
 * and then stopped is a fill-up, judged `inconclusive`. What grows with the number of sessions
 * that ended, wave after wave, is what is judged.
 */

export interface LeakSample {
  /** Seconds since the start of the run. */
  tSec: number;
  rssBytes: number;
  /** Open file descriptors; null when they cannot be read (another user's process). */
  fds: number | null;
  /** Sessions (connections) that have ended since the start. */
  sessionsEnded: number;
}

export type LeakVerdictKind = 'leak' | 'no-leak' | 'inconclusive';

export interface LeakOptions {
  /** Equivalence margin: growth per ended session that counts as a leak, bytes (default 2048). */
  marginBytesPerSession?: number;
  /**
   * Samples before this are left out. Default: the later of a quarter of the series and the
   * first sample after the first sessions ended.
   */
  warmupSec?: number;
  /** Confidence of the interval (default 0.95). */
  confidence?: number;
  /** Bootstrap resamples (default 2000) and seed (default 1). */
  resamples?: number;
  seed?: number;
  /** Fewest samples on the plateau for a verdict (default 10). */
  minSamples?: number;
  /** Fewest sessions ended on the plateau for a verdict (default 20). */
  minSessionsEnded?: number;
  /** Descriptors per ended session above which descriptors leak (default 0.01: one per 100 sessions). */
  marginFdsPerSession?: number;
  /**
   * The floor of memory is taken over this trailing window, seconds: at least as long as a wave
   * of viewers and a collector's cycle. Default: the longest of 2 s, an eighth of the plateau,
   * and 1.5 times the longest stretch of the plateau in which no session ended.
   */
  floorWindowSec?: number;
}

export interface LeakVerdict {
  verdict: LeakVerdictKind;
  /** RSS growth per ended session, bytes, with its interval; null when it could not be estimated. */
  bytesPerSession: SlopeInterval | null;
  /** RSS growth per hour of the plateau, bytes (Theil–Sen against time). */
  bytesPerHour: number | null;
  /** Descriptor growth per ended session; null when descriptors were unavailable. */
  fdsPerSession: SlopeInterval | null;
  marginBytesPerSession: number;
  confidence: number;
  /** The part of the series judged. */
  plateau: { fromSec: number; toSec: number; samples: number; sessionsEnded: number };
  /** Why this verdict, in words (with the figures). */
  reason: string;
  /** How it was computed, in words. */
  method: string;
}

const DEFAULT_MARGIN_BYTES = 2048;
const DEFAULT_MARGIN_FDS = 0.01;
const DEFAULT_FLOOR_WINDOW_SEC = 2;
/** Points the slope is fitted on: pairs grow with the square, and 48 points keep a resample under a millisecond. */
const MAX_POINTS = 48;

interface Point {
  t: number;
  x: number;
  y: number;
  fds: number | null;
}

/** A low quantile: the level memory comes back to, below a collector's sawtooth and single low samples. */
const FLOOR_QUANTILE = 0.1;

function quantile(values: number[], q: number): number {
  values.sort((a, b) => a - b);
  const pos = (values.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(values.length - 1, lo + 1);
  return values[lo]! + (values[hi]! - values[lo]!) * (pos - lo);
}

/**
 * The floor of the series at up to MAX_POINTS evenly spaced samples: the low quantile of RSS
 * (and descriptors) over the trailing `windowSec`, from the first sample with a full window.
 */
function floorPoints(samples: readonly LeakSample[], windowSec: number): Point[] {
  const first = samples.findIndex((s) => s.tSec >= samples[0]!.tSec + windowSec);
  if (first < 0) return [];
  const count = samples.length - first;
  const step = Math.max(1, count / MAX_POINTS);
  const points: Point[] = [];
  let from = 0;
  for (let k = 0; first + Math.round(k * step) < samples.length; k++) {
    const i = first + Math.round(k * step);
    const end = samples[i]!;
    while (samples[from]!.tSec <= end.tSec - windowSec) from++;
    const window = samples.slice(from, i + 1);
    const fds = window.filter((s) => s.fds !== null).map((s) => s.fds!);
    points.push({
      t: end.tSec,
      x: end.sessionsEnded,
      y: quantile(
        window.map((s) => s.rssBytes),
        FLOOR_QUANTILE,
      ),
      fds: fds.length * 2 >= window.length ? quantile(fds, FLOOR_QUANTILE) : null,
    });
  }
  return points;
}

function defaultWarmupSec(samples: readonly LeakSample[]): number {
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const quarter = first.tSec + (last.tSec - first.tSec) / 4;
  const firstEnded = samples.find((s) => s.sessionsEnded > first.sessionsEnded);
  return Math.max(quarter, firstEnded?.tSec ?? quarter);
}

/**
 * The longest stretch in which no session ended: a wave's length. A floor window half as long
 * again holds at least one moment after a wave left, when its memory has come back.
 */
function longestQuietSec(samples: readonly LeakSample[]): number {
  let longest = 0;
  let since = samples[0]?.tSec ?? 0;
  for (let i = 1; i < samples.length; i++) {
    const s = samples[i]!;
    if (s.sessionsEnded !== samples[i - 1]!.sessionsEnded) since = s.tSec;
    else longest = Math.max(longest, s.tSec - since);
  }
  return longest;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(Math.abs(bytes) < 10_240 ? 2 : 1)} KB`;
const range = (i: SlopeInterval, f: (n: number) => string) => `${f(i.estimate)} [${f(i.low)}, ${f(i.high)}]`;

/** Judges a series of per-second samples of one process; see the module comment for the rule. */
export function leakVerdict(series: readonly LeakSample[], opts: LeakOptions = {}): LeakVerdict {
  const margin = opts.marginBytesPerSession ?? DEFAULT_MARGIN_BYTES;
  const marginFds = opts.marginFdsPerSession ?? DEFAULT_MARGIN_FDS;
  const confidence = opts.confidence ?? 0.95;
  const resamples = opts.resamples ?? 2000;
  const seed = opts.seed ?? 1;
  const samples = series
    .filter((s) => Number.isFinite(s.tSec) && Number.isFinite(s.rssBytes) && Number.isFinite(s.sessionsEnded))
    .sort((a, b) => a.tSec - b.tSec);
  const warmupSec = samples.length === 0 ? 0 : (opts.warmupSec ?? defaultWarmupSec(samples));
  const plateau = samples.filter((s) => s.tSec >= warmupSec);
  const fromSec = plateau[0]?.tSec ?? warmupSec;
  const toSec = plateau[plateau.length - 1]?.tSec ?? warmupSec;
  const ended = plateau.length === 0 ? 0 : plateau[plateau.length - 1]!.sessionsEnded - plateau[0]!.sessionsEnded;
  const windowSec =
    opts.floorWindowSec ?? Math.max(DEFAULT_FLOOR_WINDOW_SEC, (toSec - fromSec) / 8, 1.5 * longestQuietSec(plateau));
  const pct = Math.round(confidence * 100);
  const method =
    `Theil–Sen slope of the RSS floor (its ${FLOOR_QUANTILE * 100}th percentile over the ` +
    `trailing ${windowSec.toFixed(0)} s) ` +
    `against sessions ended, over the plateau after a ${warmupSec.toFixed(0)} s warm-up; ${pct}% interval from a ` +
    `moving-block bootstrap (${resamples} resamples, seed ${seed}). leak: the interval is ` +
    `above ${margin} B per ended ` +
    `session and growth goes on in the second half of the plateau; no-leak: the interval is below it; ` +
    `descriptors (their floor, likewise) leak when their interval is above ${marginFds} per ended session.`;
  const base = {
    marginBytesPerSession: margin,
    confidence,
    plateau: { fromSec, toSec, samples: plateau.length, sessionsEnded: ended },
    method,
  };
  const undecided = (reason: string, parts: Partial<LeakVerdict> = {}): LeakVerdict => ({
    verdict: 'inconclusive',
    bytesPerSession: null,
    bytesPerHour: null,
    fdsPerSession: null,
    ...base,
    ...parts,
    reason,
  });
  const minSamples = opts.minSamples ?? 10;
  const minEnded = opts.minSessionsEnded ?? 20;
  if (plateau.length < minSamples)
    return undecided(`${plateau.length} samples after the warm-up, fewer than ${minSamples}: run longer`);
  if (ended < minEnded)
    return undecided(`${ended} sessions ended after the warm-up, fewer than ${minEnded}: run longer or churn more`);

  if (toSec - fromSec < 2 * windowSec)
    return undecided(
      `a plateau of ${(toSec - fromSec).toFixed(0)} s, shorter than two ` +
        `${windowSec.toFixed(0)} s floor windows: run longer`,
    );
  const points = floorPoints(plateau, windowSec);
  const xs = points.map((p) => p.x);
  // Points closer than a window share samples: resample them in runs at least a window long.
  const stepSec = points.length > 1 ? (points[points.length - 1]!.t - points[0]!.t) / (points.length - 1) : 1;
  const blockLength = Math.min(
    Math.max(2, Math.ceil(windowSec / stepSec), Math.round(Math.cbrt(points.length))),
    Math.max(1, points.length >> 2),
  );
  const boot = { confidence, resamples, seed, blockLength };
  const bytes = theilSenInterval(
    xs,
    points.map((p) => p.y),
    boot,
  );
  const perHour =
    theilSenSlope(
      points.map((p) => p.t),
      points.map((p) => p.y),
    ) * 3600;
  const bytesPerHour = Number.isFinite(perHour) ? perHour : null;
  const withFds = points.filter((p) => p.fds !== null);
  const fds =
    withFds.length * 2 >= points.length
      ? theilSenInterval(
          withFds.map((p) => p.x),
          withFds.map((p) => p.fds!),
          boot,
        )
      : null;
  const figures = { bytesPerSession: bytes, bytesPerHour, fdsPerSession: fds };
  const judged = (verdict: LeakVerdictKind, reason: string): LeakVerdict => ({ verdict, ...figures, ...base, reason });

  if (fds !== null && fds.low > marginFds)
    return judged('leak', `descriptors grow by ${range(fds, (n) => n.toFixed(3))} per ended session`);
  if (bytes === null || Number.isNaN(bytes.low))
    return undecided('sessions ended in too few steps after the warm-up to fit a slope', figures);
  const said = `RSS grows by ${range(bytes, kb)} per ended session (margin ${kb(margin)})`;
  if (bytes.low > margin) {
    const late = points.slice(points.length >> 1);
    const lateSlope = theilSenSlope(
      late.map((p) => p.x),
      late.map((p) => p.y),
    );
    if (Number.isFinite(lateSlope) && lateSlope <= margin) {
      return judged(
        'inconclusive',
        `${said}, but only ${kb(lateSlope)} in the second half of the plateau: memory that ` +
          `filled up and stopped (an allocator's), run longer`,
      );
    }
    return judged('leak', said);
  }
  if (bytes.high < margin) return judged('no-leak', said);
  return judged('inconclusive', `${said}: the interval spans the margin; run longer or with more sessions`);
}
