import { describe, expect, it } from 'vitest';
import { leakVerdict, type LeakSample } from '../../src/metrics/leak.js';
import { seededRandom, theilSenInterval, theilSenSlope } from '../../src/metrics/robust-slope.js';

const MB = 1024 * 1024;

/** Gaussian noise from a seeded generator (Box–Muller). */
function gaussian(seed: number): () => number {
  const random = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

interface SeriesShape {
  seconds: number;
  /** Sessions ended by second t. */
  ended: (t: number) => number;
  /** RSS at second t before noise, given the sessions ended. */
  rss: (t: number, ended: number) => number;
  noiseBytes?: number;
  fds?: (t: number, ended: number) => number | null;
  seed?: number;
}

/** One sample per second; a garbage collector's sawtooth is part of `rss` where a case wants it. */
function series(shape: SeriesShape): LeakSample[] {
  const noise = gaussian(shape.seed ?? 7);
  const out: LeakSample[] = [];
  for (let t = 0; t <= shape.seconds; t++) {
    const ended = shape.ended(t);
    out.push({
      tSec: t,
      sessionsEnded: ended,
      rssBytes: shape.rss(t, ended) + noise() * (shape.noiseBytes ?? 0),
      fds: shape.fds?.(t, ended) ?? null,
    });
  }
  return out;
}

/** A heap that fills up over the first 20 s, then a sawtooth of 6 MB every 13 s (a collector's). */
const warmHeap = (t: number) => 80 * MB + 20 * MB * (1 - Math.exp(-t / 6)) + 6 * MB * ((t % 13) / 13);

/** Waves: 200 viewers join at the start of every 20 s, all leave after 12 s; 100 KB each while alive. */
const WAVE = { viewers: 200, periodSec: 20, holdSec: 12, bytesPerViewer: 100 * 1024 };
const wavesEnded = (t: number) => WAVE.viewers * Math.floor((t + WAVE.periodSec - WAVE.holdSec) / WAVE.periodSec);
const wavesAlive = (t: number) => (t % WAVE.periodSec < WAVE.holdSec ? WAVE.viewers : 0);

describe('Theil–Sen slope and its bootstrap interval', () => {
  it('finds the slope of a line with outliers that would pull least squares away', () => {
    const xs = Array.from({ length: 40 }, (_, i) => i);
    const ys = xs.map((x) => 3 * x + 10);
    ys[5] = 1e6;
    ys[30] = -1e6;
    expect(theilSenSlope(xs, ys)).toBeCloseTo(3, 6);
    const ci = theilSenInterval(xs, ys)!;
    expect(ci.low).toBeLessThanOrEqual(3);
    expect(ci.high).toBeGreaterThanOrEqual(3);
    expect(ci.high - ci.low).toBeLessThan(0.5);
  });

  it('has no slope when every x is the same, and needs three points for an interval', () => {
    expect(Number.isNaN(theilSenSlope([1, 1, 1], [1, 2, 3]))).toBe(true);
    expect(theilSenInterval([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(theilSenInterval([1, 2], [1, 2])).toBeNull();
  });
});

describe('leak verdict', () => {
  it('judges a plateau with noise and a GC sawtooth no-leak, after the heap filled up', () => {
    const v = leakVerdict(
      series({ seconds: 120, ended: (t) => 20 * t, rss: (t) => warmHeap(t), noiseBytes: 0.5 * MB }),
    );
    expect(v.verdict).toBe('no-leak');
    expect(v.bytesPerSession!.high).toBeLessThan(2048);
    expect(v.plateau.fromSec).toBeGreaterThanOrEqual(30);
    expect(v.method).toMatch(/Theil–Sen/);
    expect(v.method).toMatch(/bootstrap/);
  });

  it('judges 8 KB kept per ended session a leak, with an interval around 8 KB', () => {
    const v = leakVerdict(
      series({ seconds: 120, ended: (t) => 20 * t, rss: (t, e) => warmHeap(t) + 8192 * e, noiseBytes: 0.5 * MB }),
    );
    expect(v.verdict).toBe('leak');
    expect(v.bytesPerSession!.low).toBeGreaterThan(2048);
    expect(v.bytesPerSession!.low).toBeLessThan(8192);
    expect(v.bytesPerSession!.high).toBeGreaterThan(8192);
    expect(v.bytesPerSession!.estimate).toBeGreaterThan(6000);
    expect(v.bytesPerSession!.estimate).toBeLessThan(10_000);
    // 20 sessions a second at 8 KB: about 590 MB an hour.
    expect(v.bytesPerHour! / MB).toBeGreaterThan(450);
    expect(v.bytesPerHour! / MB).toBeLessThan(700);
  });

  it('is inconclusive on too little data', () => {
    const short = leakVerdict(series({ seconds: 8, ended: (t) => 20 * t, rss: (_, e) => 80 * MB + 8192 * e }));
    expect(short.verdict).toBe('inconclusive');
    expect(short.reason).toMatch(/samples after the warm-up/);
    const fewSessions = leakVerdict(series({ seconds: 60, ended: (t) => Math.floor(t / 10), rss: () => 80 * MB }));
    expect(fewSessions.verdict).toBe('inconclusive');
    expect(fewSessions.reason).toMatch(/sessions ended/);
  });

  it('is inconclusive when the noise is far larger than the growth the margin allows', () => {
    const v = leakVerdict(
      series({ seconds: 90, ended: (t) => 5 * t, rss: (t, e) => warmHeap(t) + 2048 * e, noiseBytes: 4 * MB }),
    );
    expect(v.verdict).toBe('inconclusive');
    expect(v.bytesPerSession!.low).toBeLessThan(2048);
    expect(v.bytesPerSession!.high).toBeGreaterThan(2048);
  });

  it('judges waves of viewers whose memory returns when they leave no-leak', () => {
    const v = leakVerdict(
      series({
        seconds: 200,
        ended: wavesEnded,
        rss: (t) => warmHeap(t) + WAVE.bytesPerViewer * wavesAlive(t),
        noiseBytes: 0.5 * MB,
      }),
    );
    expect(v.verdict).toBe('no-leak');
    expect(Math.abs(v.bytesPerSession!.estimate)).toBeLessThan(2048);
  });

  it('judges the same waves a leak when each viewer that left keeps 8 KB', () => {
    const v = leakVerdict(
      series({
        seconds: 200,
        ended: wavesEnded,
        rss: (t, e) => warmHeap(t) + WAVE.bytesPerViewer * wavesAlive(t) + 8192 * e,
        noiseBytes: 0.5 * MB,
      }),
    );
    expect(v.verdict).toBe('leak');
    expect(v.bytesPerSession!.estimate).toBeGreaterThan(4096);
  });

  it('does not call memory that grew for a while and then stopped a leak', () => {
    // The allocator keeps taking memory until 60 s (past the warm-up), then reuses it.
    const v = leakVerdict(
      series({
        seconds: 120,
        ended: (t) => 20 * t,
        rss: (t) => 80 * MB + (12 * MB * Math.min(t, 60)) / 60,
        noiseBytes: 0.2 * MB,
      }),
    );
    expect(v.verdict).not.toBe('leak');
  });

  it('finds descriptors that are never closed, and reports them unavailable as null', () => {
    const leaking = leakVerdict(
      series({
        seconds: 90,
        ended: (t) => 20 * t,
        rss: (t) => warmHeap(t),
        noiseBytes: 0.5 * MB,
        fds: (_, e) => 40 + Math.floor(e / 10),
      }),
    );
    expect(leaking.verdict).toBe('leak');
    expect(leaking.fdsPerSession!.estimate).toBeCloseTo(0.1, 2);
    expect(leaking.reason).toMatch(/descriptors/);
    const closed = leakVerdict(
      series({
        seconds: 90,
        ended: (t) => 20 * t,
        rss: (t) => warmHeap(t),
        noiseBytes: 0.5 * MB,
        fds: (t) => 40 + (t % 3),
      }),
    );
    expect(closed.verdict).toBe('no-leak');
    expect(Math.abs(closed.fdsPerSession!.estimate)).toBeLessThan(0.01);
    const unknown = leakVerdict(
      series({ seconds: 90, ended: (t) => 20 * t, rss: (t) => warmHeap(t), noiseBytes: 0.5 * MB }),
    );
    expect(unknown.fdsPerSession).toBeNull();
  });

  it('gives the same interval for the same samples and seed, and honours the margin and warm-up given', () => {
    const s = series({
      seconds: 120,
      ended: (t) => 20 * t,
      rss: (t, e) => warmHeap(t) + 3000 * e,
      noiseBytes: 0.5 * MB,
    });
    expect(leakVerdict(s)).toEqual(leakVerdict(s));
    expect(leakVerdict(s, { marginBytesPerSession: 1024 }).verdict).toBe('leak');
    expect(leakVerdict(s, { marginBytesPerSession: 10_240 }).verdict).toBe('no-leak');
    expect(leakVerdict(s, { warmupSec: 60 }).plateau.fromSec).toBe(60);
  });
});
