import type { LeakVerdict, LeakVerdictKind } from '../metrics/leak.js';
import { round3 } from '../metrics/round.js';

/**
 * `server.leak` and `generator.leak` in summary.json: a leak verdict, in the JSON shape of the results
 * contract (bytes rounded to whole bytes, descriptors to thousandths; no NaN or Infinity).
 */
export interface LeakFigures {
  verdict: LeakVerdictKind;
  /** 1 when the verdict is `leak`, 0 otherwise (for thresholds: `server.leak.detected == 0`). */
  detected: 0 | 1;
  /** RSS growth per ended session, bytes, with its interval (null when it could not be estimated). */
  bytesPerSession: { estimate: number; low: number; high: number } | null;
  bytesPerHour: number | null;
  /** Descriptor growth per ended session (null when descriptors were not readable). */
  fdsPerSession: { estimate: number; low: number; high: number } | null;
  /** The equivalence margin, bytes per ended session, and the interval's confidence. */
  marginBytesPerSession: number;
  confidence: number;
  /** What was judged: seconds of the run, samples, sessions ended on it. */
  plateau: { fromSec: number; toSec: number; samples: number; sessionsEnded: number };
  reason: string;
  method: string;
}

const whole = (n: number) => (Number.isFinite(n) ? Math.round(n) : 0);
const thousandths = (n: number) => (Number.isFinite(n) ? round3(n) : 0);

function interval(
  i: { estimate: number; low: number; high: number } | null,
  round: (n: number) => number,
): LeakFigures['bytesPerSession'] {
  if (i === null || !Number.isFinite(i.estimate) || !Number.isFinite(i.low) || !Number.isFinite(i.high)) return null;
  return { estimate: round(i.estimate), low: round(i.low), high: round(i.high) };
}

/** The verdict as summary.json carries it. */
export function leakFigures(v: LeakVerdict): LeakFigures {
  return {
    verdict: v.verdict,
    detected: v.verdict === 'leak' ? 1 : 0,
    bytesPerSession: interval(v.bytesPerSession, whole),
    bytesPerHour: v.bytesPerHour === null || !Number.isFinite(v.bytesPerHour) ? null : whole(v.bytesPerHour),
    fdsPerSession: interval(v.fdsPerSession, thousandths),
    marginBytesPerSession: v.marginBytesPerSession,
    confidence: v.confidence,
    plateau: { ...v.plateau, fromSec: thousandths(v.plateau.fromSec), toSec: thousandths(v.plateau.toSec) },
    reason: v.reason,
    method: v.method,
  };
}
