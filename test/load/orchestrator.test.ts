import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHlog } from '../../src/metrics/hlog.js';
import { runScenario } from '../../src/load/orchestrator.js';
import { resolveScenario } from '../../src/load/scenario.js';
import { readTimeline } from '../../src/results/folder.js';
import { serverAvailability, startServer as startComparisonServer } from '../../src/proc/servers.js';
import { DelayProxy } from '../helpers/delay-proxy.js';
import { publish } from '../helpers/media.js';
import { startServer, waitFor } from '../helpers/server.js';
import { hasTool, run, testSourceArgs } from '../helpers/tools.js';

const out = mkdtempSync(join(tmpdir(), 'rtmpbench-load-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

async function load(input: Record<string, unknown>) {
  const r = resolveScenario({ workers: 2, ...input });
  if (r.scenario === null) throw new Error(r.problems.join('; '));
  return runScenario({ scenario: r.scenario, outDir: out });
}

describe('the load generator against the built-in server', () => {
  it('gets every frame to every player, with bytes that match the server’s own counts', async () => {
    const srv = await startServer({ logLevel: 'warn' });
    try {
      const { summary, resultsDir } = await load({
        name: 'consistency',
        target: `rtmp://127.0.0.1:${srv.port}/live`,
        streams: 2,
        players: { perStream: 5 },
        duration: '3s',
        thresholds: ['rtmp.latency.endToEnd.p99 < 10s', 'latency.endToEnd.p99 < 10s'],
      });
      expect(summary.sessions.publishers).toEqual({ planned: 2, connected: 2, failed: 0, ended: 0 });
      expect(summary.sessions.players, JSON.stringify(summary.failures)).toMatchObject({
        planned: 10,
        connected: 10,
        failed: 0,
      });
      const t = summary.throughput;
      expect(summary.frames).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
      // Each of the 5 players of a stream gets every frame its publisher sent.
      expect(t.framesSent).toBeGreaterThan(0); // publishers start spread over one GOP, after connecting
      expect(t.framesReceived + summary.frames.lost).toBe(t.framesSent * 5);
      expect(summary.latencySource).toBe('timing-marks');
      expect(summary.latencyMs.endToEnd.count).toBeGreaterThan(0);
      expect(summary.latencyMs.firstFrame.count).toBe(10);
      // The server saw the same bytes, both ways.
      await waitFor(() => srv.server.getStats().connections.open === 0, 5000, 'connections to close');
      const stats = srv.server.getStats();
      // Beyond what the generator read, the server wrote only its answers to each publisher's
      // closing FCUnpublish and deleteStream (onFCUnpublish, NetStream.Unpublish.Success), which
      // a publisher leaving does not wait for: a few hundred bytes each.
      const unread = stats.bytesOut - (t.bytesReceived + t.publisherBytesReceived);
      expect(unread).toBeGreaterThanOrEqual(0);
      expect(unread).toBeLessThanOrEqual(2 * 300);
      expect(stats.bytesIn).toBe(t.bytesSent + t.playerBytesSent);
      // The .hlog intervals add up to the summary's totals.
      const hlog = parseHlog(readFileSync(join(resultsDir, 'endToEnd.hlog'), 'utf8'));
      expect(hlog.reduce((n, i) => n + i.histogram.totalCount, 0)).toBe(summary.latencyMs.endToEnd.count);
      // RTMP viewers only: no second copy of every value as RTMP's own, and rtmp.* thresholds read the run's figures.
      const keys = Object.keys(JSON.parse(readFileSync(join(resultsDir, 'histograms.json'), 'utf8')) as object);
      expect(keys).toContain('endToEnd');
      expect(keys.filter((k) => k.startsWith('rtmp.'))).toEqual([]);
      expect(existsSync(join(resultsDir, 'rtmp.endToEnd.hlog'))).toBe(false);
      expect(summary.byProtocol).toBeUndefined();
      expect(summary.thresholds).toMatchObject([
        { passed: true, actual: summary.thresholds[1]!.actual },
        { passed: true },
      ]);
      // Frame accounting closes: what the publishers' send logs expected is what arrived.
      expect(summary.frames).toMatchObject({ expectedSource: 'send-logs', expected: t.framesReceived });
      // Latency is measured from when a frame left when it left early: never zero on loopback.
      expect(summary.latencyMs.endToEnd.min).toBeGreaterThan(0);
      // The generator measured itself: each worker's event loop and the main thread's.
      expect(summary.generator.eventLoop?.workers).toHaveLength(2);
      expect(summary.generator.eventLoop?.main.utilization).toBeGreaterThan(0);
      // The time series holds each second's own counts: they add up to the run's, and no
      // second (the last one included) holds the totals.
      const timeline = readTimeline(resultsDir);
      expect(timeline.reduce((n, p) => n + p.framesReceived, 0)).toBe(t.framesReceived);
      const whole = timeline.filter((p) => p.durationSec === undefined);
      expect(whole.map((p) => p.tSec)).toEqual([1, 2, 3]);
      expect(timeline.every((p) => p.partial !== true)).toBe(true);
      expect(timeline.filter((p) => p.framesReceived > 0).length).toBeGreaterThan(1);
      expect(Math.max(...timeline.map((p) => p.framesReceived))).toBeLessThan(t.framesReceived);
      expect(timeline.every((p) => typeof p.generatorEventLoopUtilization === 'number')).toBe(true);
    } finally {
      await srv.close();
    }
  });

  it('measures a delay injected between server and players', async () => {
    const srv = await startServer({ logLevel: 'warn' });
    const proxy = new DelayProxy(srv.port, 200);
    await proxy.listen();
    try {
      const direct = await load({
        name: 'direct',
        target: `rtmp://127.0.0.1:${srv.port}/live`,
        players: { perStream: 3 },
        duration: '3s',
        warmup: '1s',
      });
      const delayed = await load({
        name: 'delayed',
        target: `rtmp://127.0.0.1:${proxy.port}/live`,
        players: { perStream: 3 },
        duration: '3s',
        warmup: '1s',
      });
      const d = direct.summary.latencyMs.endToEnd;
      const x = delayed.summary.latencyMs.endToEnd;
      expect(x.count).toBeGreaterThan(0);
      // The proxy holds bytes back 200 ms: the percentiles move up by that much.
      expect(x.p50 - d.p50).toBeGreaterThanOrEqual(190);
      expect(x.p50 - d.p50).toBeLessThan(260);
      expect(x.min).toBeGreaterThanOrEqual(199);
    } finally {
      await proxy.close();
      await srv.close();
    }
  });

  it('detects a publisher that stops, in a players-only run', async () => {
    const srv = await startServer({ logLevel: 'warn' });
    try {
      const runP = load({
        name: 'players-only',
        target: `rtmp://127.0.0.1:${srv.port}/live`,
        streams: 1,
        streamNames: ['ext'],
        publishers: { count: 0 },
        players: { perStream: 4 },
        duration: '4s',
      });
      // The players wait for a stream someone else publishes: publish once they all play.
      await waitFor(() => srv.server.getStats().players === 4, 10_000, 'four players');
      const pub = await publish(srv.url(), 'ext', { seconds: 1 });
      await pub.done;
      pub.stop(true);
      const { summary } = await runP;
      expect(summary.sessions.publishers.planned).toBe(0);
      expect(summary.sessions.players.connected).toBe(4);
      expect(summary.throughput.framesReceived).toBe(4 * 30);
      expect(summary.frames.publisherStops).toBe(4);
    } finally {
      await srv.close();
    }
  });

  it.skipIf(!hasTool('ffmpeg'))(
    'reads latency from RTMP timestamps when the stream carries no marks (ffmpeg publishing)',
    async () => {
      const srv = await startServer({ logLevel: 'warn' });
      try {
        const url = `rtmp://127.0.0.1:${srv.port}/live`;
        const runP = load({
          name: 'no-marks',
          target: url,
          streams: 1,
          streamNames: ['cam'],
          publishers: { count: 0 },
          players: { perStream: 3 },
          duration: '4s',
        });
        const ff = run(
          'ffmpeg',
          ['-re', ...testSourceArgs({ seconds: 4, fps: 25, gopSeconds: 1 }), '-f', 'flv', `${url}/cam`],
          30_000,
        );
        const { summary } = await runP;
        await ff;
        expect(summary.latencySource).toBe('rtmp-timestamps');
        expect(summary.throughput.framesReceived).toBeGreaterThan(3 * 50);
        expect(summary.latencyMs.endToEnd.count).toBe(summary.throughput.framesReceived);
      } finally {
        await srv.close();
      }
    },
  );
});

describe('the load generator against other servers', () => {
  for (const kind of ['node-media-server', 'nginx-rtmp'] as const) {
    const available = serverAvailability(kind).available;
    if (!available && process.env.CI)
      throw new Error(`${kind} must be installed in CI (${serverAvailability(kind).hint})`);
    it.skipIf(!available)(`connects publishers and players to ${kind} and counts consistent frames`, async () => {
      const server = await startComparisonServer(kind);
      try {
        const { summary } = await load({
          name: kind,
          target: server.url,
          streams: 1,
          players: { perStream: 5 },
          publishers: { gop: '1s' },
          duration: '4s',
        });
        expect(summary.sessions.publishers.connected).toBe(1);
        expect(summary.sessions.players).toMatchObject({ planned: 5, connected: 5, failed: 0 });
        expect(summary.frames).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
        // Without a GOP cache (nginx-rtmp) a player starts at the next keyframe: at most one GOP
        // (30 frames) is missed; with one (node-media-server) nothing is.
        const sent = summary.throughput.framesSent;
        expect(summary.throughput.framesReceived).toBeLessThanOrEqual(sent * 5);
        expect(summary.throughput.framesReceived).toBeGreaterThanOrEqual((sent - 30) * 5);
        expect(summary.latencyMs.endToEnd.count).toBeGreaterThan(0);
        expect(summary.server?.pid).toBe(undefined);
        // What each player should have had, from the send logs, closes against what it got:
        // without a GOP cache that is less than every frame sent.
        expect(summary.frames.expectedSource).toBe('send-logs');
        expect(summary.throughput.framesReceived + summary.frames.lost).toBe(summary.frames.expected);
        expect(summary.frames.expected).toBeLessThanOrEqual(sent * 5);
      } finally {
        await server.stop();
      }
    });
  }
});

describe('viewers that get no video', () => {
  const available = serverAvailability('nginx-rtmp').available;
  it.skipIf(!available)(
    'are failed with their own reason, late joiners are counted apart, and their frames count as expected and lost (nginx-rtmp drops HEVC)',
    async () => {
      const server = await startComparisonServer('nginx-rtmp');
      try {
        const { summary } = await load({
          name: 'no-video',
          target: server.url,
          publishers: { codec: 'hevc', gop: '1s' },
          players: { perStream: 6, firstVideoWithin: '3s' },
          duration: '8s',
          ramp: '7s',
          thresholds: ['sessions.players.failed == 0'],
        });
        expect(summary.throughput.framesReceived).toBe(0);
        // Joined at 0, 1.4, 2.8, 4.2 s: 3 s without video each. Joined at 5.6 and 7 s: too late to judge.
        expect(summary.sessions.players).toMatchObject({ connected: 6, failed: 4, tooLateToJudge: 2 });
        expect(summary.failures).toEqual({ 'player: no-video': 4 });
        expect(summary.frames.lost).toBeGreaterThan(0);
        expect(summary.frames.lost).toBe(summary.frames.expected);
        expect(summary.thresholds[0]).toMatchObject({ passed: false });
      } finally {
        await server.stop();
      }
    },
  );
});
