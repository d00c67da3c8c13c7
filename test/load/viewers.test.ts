import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/load/orchestrator.js';
import { resolveScenario } from '../../src/load/scenario.js';
import { serverAvailability, startServer } from '../../src/proc/servers.js';
import type { RunSummary } from '../../src/results/summary.js';
import { cli } from '../helpers/cli.js';
import { scratch } from '../helpers/runs.js';

const out = scratch('viewers');

async function load(input: Record<string, unknown>): Promise<RunSummary> {
  const r = resolveScenario({ workers: 2, publishers: { gop: '1s' }, ...input });
  if (r.scenario === null) throw new Error(r.problems.join('; '));
  return (await runScenario({ scenario: r.scenario, outDir: out })).summary;
}

/** Every viewer of the protocol connected, lost nothing, and got what the send logs expected. */
function clean(s: RunSummary, key: 'rtmp' | 'httpFlv' | 'wsFlv' | 'hls', viewers: number): void {
  const f = s.byProtocol?.[key];
  expect(f, key).toBeDefined();
  expect(f!.sessions.players, key).toMatchObject({ connected: viewers, failed: 0 });
  expect(f!.frames.lost, key).toBe(0);
  expect(f!.throughput.framesReceived, key).toBeGreaterThan(0);
  expect(f!.throughput.framesReceived, `${key}: received = expected`).toBe(f!.frames.expected);
  expect(f!.latencyMs.endToEnd.count, key).toBeGreaterThan(0);
  expect(f!.latencyMs.firstFrame.count, key).toBe(viewers);
}

describe('viewers of every protocol', () => {
  it('play one stream of the built-in server together, each protocol measured apart and all of them together', async () => {
    const s = await load({
      name: 'mixed',
      players: { perStream: 3 },
      viewers: [
        { protocol: 'http-flv', perStream: 3 },
        { protocol: 'ws-flv', perStream: 3 },
        { protocol: 'hls', perStream: 3 },
      ],
      server: { hlsSegmentMs: 1000, hlsOnDemand: false },
      duration: '9s',
      thresholds: ['hls.latency.endToEnd.p95 < 20s', 'httpFlv.frames.lost == 0', 'wsFlv.sessions.players.failed == 0'],
    });
    for (const key of ['rtmp', 'httpFlv', 'wsFlv', 'hls'] as const) clean(s, key, 3);
    expect(s.sessions.players).toMatchObject({ planned: 12, connected: 12, failed: 0 });
    // The top level covers every viewer.
    const by = s.byProtocol!;
    expect(s.throughput.framesReceived).toBe(
      by.rtmp!.throughput.framesReceived +
        by.httpFlv!.throughput.framesReceived +
        by.wsFlv!.throughput.framesReceived +
        by.hls!.throughput.framesReceived,
    );
    // HLS: frames arrive a segment at a time and play after a buffer; the playlist and segment figures are there.
    expect(by.hls!.latencyMs.endToEnd.p50).toBeGreaterThan(by.httpFlv!.latencyMs.endToEnd.p50);
    expect(by.hls!.latencyMs.playout.p50).toBeGreaterThanOrEqual(by.hls!.latencyMs.endToEnd.p50);
    for (const m of ['playlistFetch', 'segmentFetch', 'playlistAge'] as const)
      expect(by.hls!.latencyMs[m].count, m).toBeGreaterThan(0);
    expect(by.hls!.throughput.segmentsFetched).toBeGreaterThan(0);
    expect(by.rtmp!.latencyMs.playout.count).toBe(0);
    expect(s.thresholds.map((t) => t.passed)).toEqual([true, true, true]);
  }, 60_000);

  const nms = serverAvailability('node-media-server').available;
  it.skipIf(!nms)(
    'play node-media-server over HTTP-FLV and WebSocket-FLV, with the URLs it serves',
    async () => {
      const server = await startServer('node-media-server', { http: true });
      try {
        const s = await load({
          name: 'nms-http',
          target: server.url,
          players: { perStream: 3, protocol: 'http-flv', url: server.playUrls!['http-flv'] },
          viewers: [{ protocol: 'ws-flv', perStream: 3, url: server.playUrls!['ws-flv'] }],
          duration: '6s',
        });
        clean(s, 'httpFlv', 3);
        clean(s, 'wsFlv', 3);
      } finally {
        await server.stop();
      }
    },
    60_000,
  );

  const nginx = serverAvailability('nginx-rtmp').available;
  it.skipIf(!nginx)(
    "play nginx-rtmp's HLS (1 s fragments) beside RTMP players",
    async () => {
      const server = await startServer('nginx-rtmp', { http: { hlsFragmentS: 1 } });
      try {
        const s = await load({
          name: 'nginx-hls',
          target: server.url,
          players: { perStream: 2 },
          viewers: [{ protocol: 'hls', perStream: 3, url: server.playUrls!.hls }],
          duration: '10s',
        });
        clean(s, 'rtmp', 2);
        clean(s, 'hls', 3);
      } finally {
        await server.stop();
      }
    },
    60_000,
  );

  it('refuses HTTP viewers of another server without a play URL, before anything starts (exit 2)', async () => {
    const r = await cli(['run', '--target', 'rtmp://127.0.0.1:1/live', '--protocol', 'hls', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/players\.url: hls viewers of an external target need a play URL/);
    const t = await cli([
      'run',
      '--target',
      'rtmp://127.0.0.1:1/live',
      '--protocol',
      'http-flv',
      '--play-url',
      'http://{host}:{httpPort}/{app}/{stream}.flv',
      '--out',
      out,
    ]);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/uses \{httpPort\}: give the target's HTTP port/);
  });
});
