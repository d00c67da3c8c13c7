import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { resolveScenario } from '../../src/load/scenario.js';
import { newHistogram, type Histogram, type HistogramKey } from '../../src/metrics/histograms.js';
import { newCounters, type Counters } from '../../src/results/counters.js';
import type { TimelinePoint } from '../../src/results/timeline.js';
import { generatorFamilies } from '../../src/report/generator-metrics.js';
import { LiveRun } from '../../src/report/live-run.js';
import { formatFamilies, LATENCY_BUCKETS_SEC } from '../../src/report/prom-text.js';
import { allFailureKeys } from '../../src/results/failures.js';
import { hasTool } from '../helpers/tools.js';

/** The generator's Prometheus exposition, from a run's reports: names, labels per protocol, histograms. */

const point = (tSec: number): TimelinePoint => ({
  tSec,
  publishersUp: 1,
  playersUp: 8,
  mbpsReceived: 4,
  framesReceived: 240,
  errors: 1,
  endToEndP50Ms: 2,
  endToEndP99Ms: 9,
  endToEndP999Ms: 12,
  generatorCpuPct: 50,
  serverCpuPct: 25,
  serverRssBytes: 9e7,
  generatorRssBytes: 2e8,
  generatorEventLoopUtilization: 0.4,
  generatorEventLoopDelayP99Ms: 3,
});

const counters = (f: Partial<Counters>): Counters => ({ ...newCounters(), ...f });

function histogram(valuesUs: number[]): Histogram {
  const h = newHistogram();
  for (const v of valuesUs) h.recordValue(v);
  return h;
}

/** A run of RTMP and HLS viewers after its first second, as the run would report it. */
function liveRun(): LiveRun {
  const live = new LiveRun();
  const { scenario } = resolveScenario({
    name: 'mix',
    players: { perStream: 4 },
    viewers: [{ protocol: 'hls', perStream: 4 }],
    thresholds: ['latency.endToEnd.p99 < 250ms'],
  });
  live.onStart({
    scenario: scenario!,
    target: 'rtmp://127.0.0.1:1935/live',
    startedAt: '2026-01-01T00:00:00.000Z',
    playersPlanned: 8,
    workers: 2,
    resultsDir: '/nowhere',
  });
  const rtmp = counters({ playersConnected: 4, framesReceived: 120, bytesReceived: 300_000, lost: 2 });
  const hls = counters({
    playersConnected: 4,
    playersFailed: 1,
    framesReceived: 100,
    bytesReceived: 250_000,
    stalls: 3,
  });
  const all = counters({
    publishersConnected: 1,
    framesSent: 30,
    bytesSent: 80_000,
    playersConnected: 8,
    playersFailed: 1,
    framesReceived: 220,
    bytesReceived: 550_000,
    lost: 2,
    stalls: 3,
  });
  const histograms = new Map<HistogramKey, Histogram>([
    ['endToEnd', histogram([800, 1500, 4000, 30_000, 2_000_000])],
    ['rtmp.endToEnd', histogram([800, 1500, 4000])],
    ['hls.endToEnd', histogram([30_000, 2_000_000])],
    ['pacing', histogram([100, 200])],
  ]);
  live.onSecond({
    point: { ...point(1), playersUp: 7, playersUpByProtocol: { rtmp: 4, hls: 3 } },
    counters: all,
    cumulative: all,
    cumulativeByProtocol: { rtmp, hls },
    histograms,
    failures: { 'player: no-video': 1 },
  });
  return live;
}

describe("the generator's Prometheus metrics", () => {
  const text = formatFamilies(generatorFamilies(liveRun()));
  const line = (series: string) =>
    text
      .split('\n')
      .find((l) => l.startsWith(`${series} `))
      ?.slice(series.length + 1);

  it("labels viewers' series with their protocol, as the built-in server's /metrics does", () => {
    expect(line('rtmpbench_frames_received_total{protocol="rtmp",media="video"}')).toBe('120');
    expect(line('rtmpbench_frames_received_total{protocol="hls",media="video"}')).toBe('100');
    expect(line('rtmpbench_sessions_failed_total{kind="player",protocol="hls"}')).toBe('1');
    expect(line('rtmpbench_stalls_total{protocol="hls",viewers="normal"}')).toBe('3');
    expect(line('rtmpbench_frames_sent_total{protocol="rtmp"}')).toBe('30');
    expect(line('rtmpbench_sessions{kind="player",protocol="rtmp"}')).toBe('4');
    expect(line('rtmpbench_sessions{kind="player",protocol="hls"}')).toBe('3');
    expect(line('rtmpbench_failures_total{reason="player: no-video"}')).toBe('1');
    expect(line('rtmpbench_generator_cpu_seconds_total')).toBe('0.5');
  });

  it("labels failures from a closed set: an unexpected error's message is not a label", () => {
    const live = liveRun();
    live.failures = { 'player: no-video': 1, 'hls viewer: socket hang up (ECONNRESET)': 2, 'publisher: boom': 1 };
    const lines = formatFamilies(generatorFamilies(live))
      .split('\n')
      .filter((l) => l.startsWith('rtmpbench_failures_total{'));
    const reasons = lines.map((l) => /reason="([^"]*)"/.exec(l)![1]!);
    expect(reasons.sort()).toEqual(['hls viewer: other', 'player: no-video', 'publisher: other']);
    const closed = new Set(allFailureKeys());
    for (const r of reasons) expect(closed).toContain(r);
    expect(lines).toContain('rtmpbench_failures_total{reason="hls viewer: other"} 2');
  });

  it('gives each latency metric a histogram in seconds, per protocol, with cumulative buckets', () => {
    expect(text).toMatch(/^# TYPE rtmpbench_end_to_end_seconds histogram$/m);
    const buckets = (protocol: string) =>
      LATENCY_BUCKETS_SEC.map((le) =>
        Number(line(`rtmpbench_end_to_end_seconds_bucket{protocol="${protocol}",le="${le}"}`)),
      );
    expect(buckets('rtmp')).toEqual(
      LATENCY_BUCKETS_SEC.map((le) => (le < 0.001 ? 0 : le < 0.0025 ? 1 : le < 0.005 ? 2 : 3)),
    );
    expect(line('rtmpbench_end_to_end_seconds_bucket{protocol="hls",le="0.025"}')).toBe('0');
    expect(line('rtmpbench_end_to_end_seconds_bucket{protocol="hls",le="0.05"}')).toBe('1');
    expect(line('rtmpbench_end_to_end_seconds_bucket{protocol="hls",le="+Inf"}')).toBe('2');
    expect(line('rtmpbench_end_to_end_seconds_count{protocol="hls"}')).toBe('2');
    expect(Number(line('rtmpbench_end_to_end_seconds_sum{protocol="hls"}'))).toBeCloseTo(2.03, 2);
    expect(line('rtmpbench_pacing_seconds_count{protocol="rtmp"}')).toBe('2'); // publishers' own
    expect(line('rtmpbench_first_frame_seconds_count{protocol="rtmp"}')).toBe('0'); // present before any value
    expect(text).not.toMatch(/^rtmpbench_end_to_end_seconds_count\{protocol="rtmp"\} 5$/m); // the all-viewers histogram is not counted twice
  });

  it('prefixes every name with rtmpbench_', () => {
    const names = text
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => /^[\w:]+/.exec(l)![0]);
    expect(names.length).toBeGreaterThan(100);
    expect(names.filter((n) => !n.startsWith('rtmpbench_'))).toEqual([]);
  });

  it.skipIf(!hasTool('promtool', 'apt-get install prometheus'))('is accepted by promtool check metrics', () => {
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });
});
