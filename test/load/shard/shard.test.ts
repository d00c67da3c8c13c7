import { describe, expect, it } from 'vitest';
import { Shard } from '../../../src/load/shard/shard.js';
import type { ShardTask, WorkerMessage } from '../../../src/load/worker-protocol.js';
import { monotonicUs } from '../../../src/media/timing-mark.js';
import { startServer } from '../../helpers/server.js';

describe('a shard', () => {
  it('holds only the sessions alive: viewers that came and went are let go, their counts kept', async () => {
    const srv = await startServer({ logLevel: 'warn' });
    const ticks: WorkerMessage[] = [];
    try {
      const task: ShardTask = {
        shard: 0,
        shards: 1,
        url: `rtmp://127.0.0.1:${srv.port}/live`,
        insecure: false,
        streamNames: ['churn0'],
        publish: [0],
        players: [{ stream: 0, group: 0, slow: false, windows: [[0, null]] }],
        groups: [{ protocol: 'rtmp', url: '' }],
        churn: { joinsPerSecond: 40, meanSessionMs: 250 },
        media: {
          source: 'synthetic',
          codec: 'avc',
          videoBitrate: 300_000,
          audioBitrate: 32_000,
          fps: 30,
          gopMs: 1000,
          chunkSize: 4096,
        },
        slowReadKbps: 200,
        durationMs: 4000,
        warmupMs: 0,
        stallThresholdMs: 1000,
        firstVideoWithinMs: 3000,
        startAtUs: monotonicUs() + 200_000,
        tickMs: 1000,
        clockOffsetUs: 0,
      };
      const shard = new Shard(task, (m) => ticks.push(m));
      const held: ReturnType<Shard['held']>[] = [];
      const sampler = setInterval(() => held.push(shard.held()), 100);
      const result = await shard.run(new Promise<number>(() => {}));
      clearInterval(sampler);
      const joined = result.counters.playersPlanned;
      expect(joined).toBeGreaterThan(60); // about 40 churning joins a second for 4 s, and the steady one
      // Alive at any moment: the steady viewer and the churners staying ~250 ms (about 10), not every viewer that came.
      expect(Math.max(...held.map((h) => h.players))).toBeLessThan(joined / 3);
      // Records of ended viewers leave with each tick.
      expect(Math.max(...held.map((h) => h.viewersEnded))).toBeLessThan(joined / 2);
      // Every viewer's counts made it into the totals and the ticks.
      const sum = ticks.reduce((n, t) => n + t.counters.framesReceived, 0);
      expect(sum).toBe(result.counters.framesReceived);
      expect(ticks.reduce((n, t) => n + t.viewersEnded.length, 0)).toBe(result.counters.playersConnected);
      expect(ticks.map((t) => t.sec)).toEqual([1, 2, 3, 4, 5]);
      expect(ticks.at(-1)!.final).toBe(true);
    } finally {
      await srv.close();
    }
  }, 30_000);

  it('counts a viewer refused with 404 until its deadline once per answer, and its failure by kind', async () => {
    const srv = await startServer({ logLevel: 'warn', httpPort: 0 });
    const http = `http://127.0.0.1:${srv.addresses.httpPort!}`;
    try {
      const task: ShardTask = {
        shard: 0,
        shards: 1,
        url: `rtmp://127.0.0.1:${srv.port}/live`,
        insecure: false,
        streamNames: ['absent'],
        publish: [],
        players: [
          { stream: 0, group: 0, slow: false, windows: [[0, null]] },
          { stream: 0, group: 1, slow: false, windows: [[0, null]] },
        ],
        groups: [
          { protocol: 'hls', url: `${http}/live/{stream}/index.m3u8` },
          { protocol: 'http-flv', url: `${http}/live/{stream}.flv` },
        ],
        churn: { joinsPerSecond: 0, meanSessionMs: 0 },
        media: {
          source: 'synthetic',
          codec: 'avc',
          videoBitrate: 300_000,
          audioBitrate: 32_000,
          fps: 30,
          gopMs: 1000,
          chunkSize: 4096,
        },
        slowReadKbps: 200,
        durationMs: 2500,
        warmupMs: 0,
        stallThresholdMs: 1000,
        firstVideoWithinMs: 1200,
        startAtUs: monotonicUs() + 100_000,
        tickMs: 1000,
        clockOffsetUs: 0,
      };
      const result = await new Shard(task, () => {}).run(new Promise<number>(() => {}));
      expect(result.failures).toEqual({ 'hls viewer: rejected': 1, 'http-flv viewer: rejected': 1 });
      // Asked every 0.5 s until the 1.2 s deadline: two or three answers each (as the timers fall),
      // each counted once, whoever counts it (the HLS viewer counts its own).
      expect(Object.keys(result.httpErrors).sort()).toEqual(['hls 404', 'httpFlv 404']);
      for (const n of Object.values(result.httpErrors)) expect([2, 3]).toContain(n);
    } finally {
      await srv.close();
    }
  }, 30_000);
});
