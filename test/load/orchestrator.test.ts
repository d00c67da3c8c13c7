import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHlog } from '../../src/metrics/hlog.js';
import { runScenario } from '../../src/load/orchestrator.js';
import { resolveScenario } from '../../src/load/scenario.js';
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
      const { summary, resultsDir } = await load({ name: 'consistency', target: `rtmp://127.0.0.1:${srv.port}/live`, streams: 2, players: { perStream: 5 }, duration: '3s' });
      expect(summary.sessions.publishers).toEqual({ planned: 2, connected: 2, failed: 0 });
      expect(summary.sessions.players).toEqual({ planned: 10, connected: 10, failed: 0, tooLateToJudge: 0 });
      const t = summary.throughput;
      expect(summary.frames).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
      // Each of the 5 players of a stream gets every frame its publisher sent.
      expect(t.framesSent).toBeGreaterThan(120); // publishers start spread over one GOP
      expect(t.framesReceived + summary.frames.lost).toBe(t.framesSent * 5);
      expect(summary.latencySource).toBe('timing-marks');
      expect(summary.latencyMs.endToEnd.count).toBeGreaterThan(0);
      expect(summary.latencyMs.firstFrame.count).toBe(10);
      // The server saw the same bytes, both ways.
      await waitFor(() => srv.server.getStats().connections.open === 0, 5000, 'connections to close');
      const stats = srv.server.getStats();
      expect(stats.bytesOut).toBe(t.bytesReceived + t.publisherBytesReceived);
      expect(stats.bytesIn).toBe(t.bytesSent + t.playerBytesSent);
      // The .hlog intervals add up to the summary's totals.
      const hlog = parseHlog(readFileSync(join(resultsDir, 'endToEnd.hlog'), 'utf8'));
      expect(hlog.reduce((n, i) => n + i.histogram.totalCount, 0)).toBe(summary.latencyMs.endToEnd.count);
      expect(existsSync(join(resultsDir, 'timeline.json'))).toBe(true);
    } finally {
      await srv.close();
    }
  });

  it('measures a delay injected between server and players', async () => {
    const srv = await startServer({ logLevel: 'warn' });
    const proxy = new DelayProxy(srv.port, 200);
    await proxy.listen();
    try {
      const direct = await load({ name: 'direct', target: `rtmp://127.0.0.1:${srv.port}/live`, players: { perStream: 3 }, duration: '3s', warmup: '1s' });
      const delayed = await load({ name: 'delayed', target: `rtmp://127.0.0.1:${proxy.port}/live`, players: { perStream: 3 }, duration: '3s', warmup: '1s' });
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
      const runP = load({ name: 'players-only', target: `rtmp://127.0.0.1:${srv.port}/live`, streams: 1, streamNames: ['ext'], publishers: { count: 0 }, players: { perStream: 4 }, duration: '4s' });
      await new Promise((r) => setTimeout(r, 1500));
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

  it('reads latency from RTMP timestamps when the stream carries no marks (ffmpeg publishing)', async () => {
    if (!hasTool('ffmpeg')) return;
    const srv = await startServer({ logLevel: 'warn' });
    try {
      const url = `rtmp://127.0.0.1:${srv.port}/live`;
      const runP = load({ name: 'no-marks', target: url, streams: 1, streamNames: ['cam'], publishers: { count: 0 }, players: { perStream: 3 }, duration: '4s' });
      const ff = run('ffmpeg', ['-re', ...testSourceArgs({ seconds: 4, fps: 25, gopSeconds: 1 }), '-f', 'flv', `${url}/cam`], 30_000);
      const { summary } = await runP;
      await ff;
      expect(summary.latencySource).toBe('rtmp-timestamps');
      expect(summary.throughput.framesReceived).toBeGreaterThan(3 * 50);
      expect(summary.latencyMs.endToEnd.count).toBe(summary.throughput.framesReceived);
    } finally {
      await srv.close();
    }
  });
});

describe('the load generator against other servers', () => {
  for (const kind of ['node-media-server', 'nginx-rtmp'] as const) {
    const available = serverAvailability(kind).available;
    if (!available && process.env.CI) throw new Error(`${kind} must be installed in CI (${serverAvailability(kind).hint})`);
    it.skipIf(!available)(`connects publishers and players to ${kind} and counts consistent frames`, async () => {
      const server = await startComparisonServer(kind);
      try {
        const { summary } = await load({ name: kind, target: server.url, streams: 1, players: { perStream: 5 }, publishers: { gop: '1s' }, duration: '4s' });
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
      } finally {
        await server.stop();
      }
    });
  }
});
