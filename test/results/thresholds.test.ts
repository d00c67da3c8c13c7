import { describe, expect, it } from 'vitest';
import { newHistogram, type HistogramKey } from '../../src/metrics/histograms.js';
import { evaluateThresholds, parseThreshold, type Threshold } from '../../src/results/thresholds.js';
import type { RunSummary } from '../../src/results/summary.js';
import { resolveScenario } from '../../src/load/scenario.js';

function summary(): RunSummary {
  return {
    sessions: {
      publishers: { planned: 2, connected: 2, failed: 0 },
      players: { planned: 200, connected: 198, failed: 2 },
    },
    frames: { lost: 3, duplicated: 0, outOfOrder: 0, stalls: 1, slowLost: 0, slowStalls: 0, publisherStops: 0 },
    throughput: {
      bytesSent: 1,
      bytesReceived: 50 * 1024 * 1024,
      mediaBytesReceived: 1,
      framesSent: 100,
      framesReceived: 997,
      audioFramesReceived: 0,
      mbpsReceived: 42.5,
      playerBytesSent: 0,
      publisherBytesReceived: 0,
    },
    server: { cpuSeconds: 3.5, maxRssBytes: 150 * 1024 * 1024, pid: 1 },
    generator: { cpuSeconds: 2, maxRssBytes: 1, workers: 2 },
  } as unknown as RunSummary;
}

function histograms(): Map<HistogramKey, ReturnType<typeof newHistogram>> {
  const h = newHistogram();
  for (let ms = 1; ms <= 100; ms++) h.recordValue(ms * 1000); // 1..100 ms
  return new Map([['endToEnd', h]]);
}

const t = (e: string) => parseThreshold(e) as Threshold;

describe('thresholds', () => {
  it('parses metric, operator, value and unit, adding latency. to a bare latency metric', () => {
    expect(t('firstFrame.p95 < 500ms')).toMatchObject({
      path: ['latency', 'firstFrame', 'p95'],
      op: '<',
      value: 500,
      unit: 'ms',
    });
    expect(t('sessions.players.failed < 1%')).toMatchObject({ path: ['sessions', 'players', 'failed'], unit: '%' });
    expect(t('frames.lost == 0')).toMatchObject({ op: '==', value: 0, unit: '' });
  });

  it('explains what is wrong with a threshold it cannot read', () => {
    expect(parseThreshold('p99 under 250')).toMatch(/is not METRIC OP VALUE/);
    expect(parseThreshold('latency.endToEnd.p99 < 250 parsecs')).toMatch(/unknown unit "parsecs"/);
    expect(parseThreshold('latency.warp.p99 < 250ms')).toMatch(/latency metrics are connect, handshake/);
    expect(parseThreshold('latency.endToEnd.median < 250ms')).toMatch(/not count, min, mean, max or a percentile/);
    expect(parseThreshold('latency.endToEnd.p99 < 5%')).toMatch(/takes a time unit/);
    expect(parseThreshold('cpu < 5')).toMatch(/unknown metric "cpu"/);
  });

  it('evaluates any percentile exactly from the histogram, in the unit written', () => {
    const [a, b, c, d] = evaluateThresholds(
      [
        t('latency.endToEnd.p99 < 250ms'),
        t('endToEnd.p95 < 0.09s'),
        t('endToEnd.max <= 100ms'),
        t('endToEnd.p50 > 60ms'),
      ],
      summary(),
      histograms(),
    );
    expect(a).toMatchObject({ passed: true, actual: 99.007 });
    expect(b).toMatchObject({ passed: false, actual: 0.095 });
    expect(c!.passed).toBe(false); // 100 ms lands in a bucket whose upper end is 100.031
    expect(d).toMatchObject({ passed: false, actual: 50.015 });
  });

  it('evaluates counts, percentages of planned sessions and of frames, throughput and server figures', () => {
    const r = evaluateThresholds(
      [
        t('frames.lost == 0'),
        t('frames.lost < 1%'),
        t('sessions.players.failed < 1%'),
        t('sessions.players.failed <= 1%'),
        t('throughput.mbpsReceived >= 40'),
        t('server.maxRssBytes < 200MB'),
        t('server.cpuSeconds < 3s'),
      ],
      summary(),
      histograms(),
    );
    expect(r.map((x) => [x.passed, x.actual])).toEqual([
      [false, 3],
      [true, 0.3],
      [false, 1],
      [true, 1],
      [true, 42.5],
      [true, 150],
      [false, 3.5],
    ]);
  });

  it("evaluates the server's and the generator's leak verdicts apart", () => {
    const s = summary();
    const leak = (detected: 0 | 1, bytes: number) => ({
      verdict: detected === 1 ? 'leak' : 'no-leak',
      detected,
      bytesPerSession: { estimate: bytes, low: bytes - 100, high: bytes + 100 },
    });
    (s.server as unknown as Record<string, unknown>).leak = leak(0, 40);
    (s.generator as unknown as Record<string, unknown>).leak = leak(1, 9000);
    const r = evaluateThresholds(
      [t('server.leak.detected == 0'), t('generator.leak.detected == 0'), t('generator.leak.bytesPerSession < 8KB')],
      s,
      histograms(),
    );
    expect(r.map((x) => [x.passed, x.actual])).toEqual([
      [true, 0],
      [false, 1],
      [false, 8.789],
    ]);
    expect(parseThreshold('generator.leak.rss < 1')).toMatch(/generator\.leak\.\{detected,bytesPerSession/);
  });

  it('fails a threshold on a figure the run did not measure', () => {
    const [r] = evaluateThresholds([t('latency.firstFrame.p99 < 1s')], summary(), histograms());
    expect(r).toMatchObject({ passed: false, actual: null });
    expect(r!.message).toContain('not measured');
  });

  it("reads rtmp.* as the run's own figures in a run of RTMP viewers only, which keeps no protocol apart", () => {
    const r = evaluateThresholds(
      [
        t('rtmp.latency.endToEnd.p99 < 250ms'),
        t('latency.endToEnd.p99 < 250ms'),
        t('rtmp.frames.lost == 3'),
        t('hls.latency.endToEnd.p99 < 250ms'),
      ],
      summary(),
      histograms(),
    );
    expect(r[0]).toMatchObject({ passed: true, actual: r[1]!.actual });
    expect(r[1]!.actual).toBeCloseTo(99, 0);
    expect(r.slice(2).map((x) => [x.passed, x.actual])).toEqual([
      [true, 3],
      [false, null],
    ]);
  });

  it('lists invalid thresholds of a scenario with their position', () => {
    const r = resolveScenario({ thresholds: ['frames.lost == 0', 'latency.p99 < 1', 'nonsense'] });
    expect(r.problems).toEqual([
      expect.stringMatching(/^thresholds\[1\]: /),
      expect.stringMatching(/^thresholds\[2\]: /),
    ]);
  });
});
