/**
 * How far another host's clock is from ours, from request–reply exchanges (NTP's idea, kept
 * to what a load run needs). One exchange: we read our clock when the request leaves (`sentUs`),
 * the other host reads its own while answering (`remoteUs`), and we read ours again when the
 * answer is in (`receivedUs`). Whatever the network did, the remote reading happened between
 * our two, so the offset (remote − local) lies in [remoteUs − receivedUs, remoteUs − sentUs]:
 * a bound, not an assumption about symmetric paths. The midpoint is the estimate and half the
 * round trip its uncertainty.
 *
 * Many exchanges tighten it: every exchange's interval holds the true offset at its time. Clocks
 * of two hosts tick at slightly different rates (tens of ppm when nothing disciplines them), so
 * the offset is a line over a run, not a constant: the estimate is every line (offset now, rate)
 * that passes through all the intervals of a recent window with a rate within ±200 ppm (no
 * working oscillator is further off), and the bound is how far apart those lines are now. It
 * assumes nothing about paths or rates beyond that; many exchanges make it narrower than the
 * fastest one. If no line fits (a clock was stepped), the fastest exchange alone gives it.
 */

export interface ClockExchange {
  /** Our clock when the request left and when the answer came back, µs. */
  sentUs: number;
  receivedUs: number;
  /** The other host's clock while it answered, µs. */
  remoteUs: number;
}

export interface ClockOffset {
  /** remote − local at `atUs` (our clock), µs: add it to a local reading to get the remote clock's. */
  offsetUs: number;
  /** The true offset is within ± this of the estimate (the exchanges' bound, drift included), µs. */
  boundUs: number;
  /** Where the estimate is taken, on our clock. */
  atUs: number;
  /** The fastest round trip of the window, µs. */
  minRttUs: number;
  /** How the remote clock's rate differs from ours, parts per million (null while the exchanges allow any rate). */
  driftPpm: number | null;
  /** Exchanges the estimate rests on. */
  exchanges: number;
}

const DEFAULT_WINDOW_US = 30_000_000;
/** Kept exchanges: about ten minutes at one exchange a second, enough for the drift. */
const MAX_EXCHANGES = 600;

const mid = (e: ClockExchange) => (e.sentUs + e.receivedUs) / 2;
const lowOf = (e: ClockExchange) => e.remoteUs - e.receivedUs;
const highOf = (e: ClockExchange) => e.remoteUs - e.sentUs;

/** The offset from exchanges with one host (a bounded ring: old exchanges fall out). */
export class ClockOffsetEstimator {
  private readonly exchanges: ClockExchange[] = [];

  constructor(private readonly windowUs = DEFAULT_WINDOW_US) {}

  add(e: ClockExchange): void {
    // An answer that came back before it left is no exchange (a clock read out of order).
    if (!(e.receivedUs >= e.sentUs) || !Number.isFinite(e.remoteUs)) return;
    this.exchanges.push(e);
    if (this.exchanges.length > MAX_EXCHANGES) this.exchanges.shift();
  }

  get count(): number {
    return this.exchanges.length;
  }

  /** The offset at `atUs` (default: the last exchange), or null before any exchange. */
  estimate(atUs?: number): ClockOffset | null {
    const all = this.exchanges;
    if (all.length === 0) return null;
    const at = atUs ?? mid(all[all.length - 1]!);
    const inWindow = all.filter((e) => Math.abs(mid(e) - at) <= this.windowUs);
    // The fastest exchanges bound it the tightest; a few dozen are as good as all.
    const used = (inWindow.length > 0 ? inWindow : [all[all.length - 1]!])
      .sort((x, y) => x.receivedUs - x.sentUs - (y.receivedUs - y.sentUs))
      .slice(0, MAX_FITTED);
    const fastest = used[0]!;
    const minRttUs = fastest.receivedUs - fastest.sentUs;
    const fit = feasibleLines(used, at);
    if (fit === null) {
      return {
        offsetUs: Math.round((lowOf(fastest) + highOf(fastest)) / 2),
        boundUs: Math.ceil(minRttUs / 2),
        atUs: Math.round(at),
        minRttUs,
        driftPpm: null,
        exchanges: 1,
      };
    }
    const driftKnown = fit.rateHigh - fit.rateLow < MAX_RATE;
    // The simplest line that fits: a constant offset, where one passes through every interval
    // (clocks that tick alike, as most do over a run); else the middle of all that fit. The
    // bound is the farthest any fitting line is from the estimate, either way.
    const steady = constantFit(used);
    const offsetUs = steady !== null ? (steady.low + steady.high) / 2 : (fit.low + fit.high) / 2;
    return {
      offsetUs: Math.round(offsetUs),
      boundUs: Math.ceil(Math.max(offsetUs - fit.low, fit.high - offsetUs)),
      atUs: Math.round(at),
      minRttUs,
      driftPpm: driftKnown ? Math.round(((fit.rateLow + fit.rateHigh) / 2) * 1e6 * 100) / 100 : null,
      exchanges: used.length,
    };
  }
}

/** The offsets every exchange allows with clocks that tick alike, or null when none does. */
function constantFit(exchanges: readonly ClockExchange[]): { low: number; high: number } | null {
  let low = -Infinity;
  let high = Infinity;
  for (const e of exchanges) {
    low = Math.max(low, lowOf(e));
    high = Math.min(high, highOf(e));
  }
  return low <= high ? { low, high } : null;
}

/** The most exchanges a fit takes (the fastest of the window): the fit costs their number cubed. */
const MAX_FITTED = 40;
/** No clock of a working host is further than this from another's rate (remote µs per local µs − 1). */
const MAX_RATE = 200e-6;
/** Slack for rounding when a corner of the region is checked against the intervals, µs. */
const EPS_US = 1e-3;

/**
 * Every line offset(t) = a + rate·(t − at) through all the exchanges' intervals, rate within
 * ±MAX_RATE: the lowest and highest `a` (the offset at `at`) and rate of them, or null when none
 * fits. The lines form a convex region of (a, rate); its extremes are at corners, where two of
 * the constraints meet, so the corners that meet every constraint are enough.
 */
function feasibleLines(
  exchanges: readonly ClockExchange[],
  at: number,
): { low: number; high: number; rateLow: number; rateHigh: number } | null {
  // Offsets relative to the first exchange's keep the arithmetic in small numbers.
  const base = (lowOf(exchanges[0]!) + highOf(exchanges[0]!)) / 2;
  // Each constraint: a + m·rate within [lo, hi]; as lines a + m·rate = c for the corners.
  const rows = exchanges.map((e) => ({ m: mid(e) - at, lo: lowOf(e) - base, hi: highOf(e) - base }));
  const lines: { m: number; c: number }[] = rows.flatMap((r) => [
    { m: r.m, c: r.lo },
    { m: r.m, c: r.hi },
  ]);
  const fits = (a: number, rate: number) =>
    Math.abs(rate) <= MAX_RATE + 1e-12 &&
    rows.every((r) => a + r.m * rate >= r.lo - EPS_US && a + r.m * rate <= r.hi + EPS_US);
  let low = Infinity;
  let high = -Infinity;
  let rateLow = Infinity;
  let rateHigh = -Infinity;
  const corner = (a: number, rate: number) => {
    if (!fits(a, rate)) return;
    low = Math.min(low, a);
    high = Math.max(high, a);
    rateLow = Math.min(rateLow, rate);
    rateHigh = Math.max(rateHigh, rate);
  };
  for (let i = 0; i < lines.length; i++) {
    const p = lines[i]!;
    // With a rate bound: rate = ±MAX_RATE.
    for (const rate of [-MAX_RATE, MAX_RATE]) corner(p.c - p.m * rate, rate);
    for (let j = i + 1; j < lines.length; j++) {
      const q = lines[j]!;
      if (p.m === q.m) continue;
      const rate = (p.c - q.c) / (p.m - q.m);
      corner(p.c - p.m * rate, rate);
    }
  }
  // Every exchange at one moment: any rate fits; the corners above were on the rate bounds.
  if (low > high) return null;
  return { low: low + base, high: high + base, rateLow, rateHigh };
}
