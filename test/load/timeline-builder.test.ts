import { describe, expect, it } from 'vitest';
import { Recorder } from '../../src/metrics/histograms.js';
import { TimelineBuilder, type MeasuredSecond } from '../../src/load/timeline-builder.js';
import type { TickMessage } from '../../src/load/worker-protocol.js';
import { newCounters, type Counters } from '../../src/results/counters.js';

/** A tick as a worker sends it: what it measured in one interval. */
function tick(
  shard: number,
  sec: number,
  counts: Partial<Counters>,
  opts: {
    final?: boolean;
    intervalMs?: number;
    playersUp?: number;
    upByProtocol?: TickMessage['playersUpByProtocol'];
    latencyUs?: number[];
  } = {},
): TickMessage {
  const rec = new Recorder();
  for (const us of opts.latencyUs ?? []) rec.record('endToEnd', us);
  return {
    kind: 'tick',
    shard,
    sec,
    final: opts.final ?? false,
    intervalMs: opts.intervalMs ?? 1000,
    publishersUp: 0,
    playersUp: opts.playersUp ?? 10,
    playersUpByProtocol: opts.upByProtocol ?? { rtmp: opts.playersUp ?? 10 },
    counters: { ...newCounters(), ...counts },
    byProtocol: {},
    failures: {},
    httpErrors: {},
    intervals: rec.takeInterval(),
    eventLoop: { utilization: 0.2, delayP99Us: 1500, delayMaxUs: 3000 },
    sends: [],
    viewersEnded: [],
  };
}

const usage = () => ({
  generatorCpuSeconds: null,
  generatorRssBytes: null,
  serverCpuSeconds: null,
  serverRssBytes: null,
  serverFds: null,
  serverThreads: null,
  serverKernelCpuSeconds: null,
  serverWriteCalls: null,
});

describe('the timeline builder', () => {
  it("holds in each second what was measured in it, and the run's last, shorter interval apart (never the totals)", () => {
    const seconds: MeasuredSecond[] = [];
    const b = new TimelineBuilder([0, 1], usage, (s) => seconds.push(s));
    for (let sec = 1; sec <= 3; sec++) {
      b.add(tick(0, sec, { framesReceived: 300, bytesReceived: 125_000 }));
      b.add(tick(1, sec, { framesReceived: 300, bytesReceived: 125_000 }));
    }
    b.add(tick(0, 4, { framesReceived: 30, bytesReceived: 12_500 }, { final: true, intervalMs: 650, playersUp: 10 }));
    b.add(tick(1, 4, { framesReceived: 30, bytesReceived: 12_500 }, { final: true, intervalMs: 650, playersUp: 10 }));
    b.finish();
    expect(b.points.map((p) => p.framesReceived)).toEqual([600, 600, 600, 60]);
    expect(b.points.map((p) => p.mbpsReceived)).toEqual([2, 2, 2, expect.closeTo(0.3077, 3)]);
    expect(b.points.map((p) => p.tSec)).toEqual([1, 2, 3, 3.65]);
    expect(b.points[3]).toMatchObject({ durationSec: 0.65, playersUp: 20 });
    expect(b.points.every((p) => p.partial === undefined)).toBe(true);
    // The frames of the time series add up to the run's.
    expect(b.points.reduce((n, p) => n + p.framesReceived, 0)).toBe(1860);
    expect(seconds.map((s) => [s.sec, s.final])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, true],
    ]);
  });

  it('takes a second once every worker reported it, in order, with one tick per worker', () => {
    const seconds: number[] = [];
    const b = new TimelineBuilder([0, 1], usage, (s) => seconds.push(s.sec));
    b.add(tick(0, 1, {}));
    b.add(tick(0, 2, {}));
    b.add(tick(0, 3, {}));
    expect(seconds).toEqual([]);
    b.add(tick(1, 1, {}));
    expect(seconds).toEqual([1]);
    b.add(tick(1, 2, {}));
    b.add(tick(1, 3, {}));
    expect(seconds).toEqual([1, 2, 3]);
    expect(b.points.map((p) => p.playersUp)).toEqual([20, 20, 20]);
  });

  it('counts viewers up by protocol across workers, only where a protocol other than RTMP has viewers up', () => {
    const b = new TimelineBuilder([0, 1], usage, () => {});
    b.add(tick(0, 1, {}, { playersUp: 4, upByProtocol: { rtmp: 4 } }));
    b.add(tick(1, 1, {}, { playersUp: 3, upByProtocol: { rtmp: 3 } }));
    b.add(tick(0, 2, {}, { playersUp: 6, upByProtocol: { rtmp: 4, hls: 2 } }));
    b.add(tick(1, 2, {}, { playersUp: 5, upByProtocol: { rtmp: 3, httpFlv: 2 } }));
    expect(b.points[0]!.playersUpByProtocol).toBeUndefined();
    expect(b.points[1]).toMatchObject({ playersUp: 11, playersUpByProtocol: { rtmp: 7, hls: 2, httpFlv: 2 } });
  });

  it('marks a second some worker never reported as partial, with the workers that did, and writes no zeros', () => {
    const b = new TimelineBuilder([0, 1], usage, () => {});
    b.add(tick(0, 1, { framesReceived: 100 }));
    b.add(tick(1, 1, { framesReceived: 100 }));
    b.add(tick(0, 2, { framesReceived: 100 }, { playersUp: 7 }));
    b.finish();
    expect(b.points).toHaveLength(2);
    expect(b.points[1]).toMatchObject({
      tSec: 2,
      partial: true,
      workersReporting: 1,
      playersUp: 7,
      framesReceived: 100,
    });
    expect(b.points[0]!.partial).toBeUndefined();
  });

  it("merges each second's latency histograms once, for the point, the .hlog interval and the listeners alike", () => {
    const seen: number[] = [];
    const hlog: string[] = [];
    const b = new TimelineBuilder(
      [0, 1],
      usage,
      (s) => seen.push(s.histograms.get('endToEnd')!.totalCount),
      (metric) => hlog.push(metric),
    );
    b.add(tick(0, 1, {}, { latencyUs: [1000, 2000] }));
    b.add(tick(1, 1, {}, { latencyUs: [3000] }));
    b.finish();
    expect(seen).toEqual([3]);
    expect(hlog.filter((m) => m === 'endToEnd')).toHaveLength(1);
    expect(b.points[0]!.endToEndP99Ms).toBeCloseTo(3, 1);
    expect(b.points[0]!.generatorEventLoopUtilization).toBe(0.2);
    expect(b.points[0]!.generatorEventLoopDelayP99Ms).toBe(1.5);
  });
});
