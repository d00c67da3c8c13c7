import { describe, expect, it } from 'vitest';
import { Player } from '../../src/client/player.js';
import { parseRtmpUrl } from '../../src/client/url.js';
import type { ServerStats } from '../../src/server/server.js';
import { play, publish } from '../helpers/media.js';
import { startServerProcess, waitFor } from '../helpers/server.js';

const MAX_QUEUED = 4 * 1024 * 1024;
const SECONDS = 6;
const BITRATE = 40_000_000; // keyframes of ~1.3 MB fit under the 4 MB bound; a stalled reader falls far behind

interface Outcome {
  /** RSS growth over the second half of the run, when a bounded server has plateaued. */
  lateRssGrowthBytes: number;
  /** Largest number of bytes the server held for the stalled player (its own accounting). */
  maxStuckQueuedBytes: number;
  stats: ServerStats;
  healthySeqs: number[];
  stuckClosed: boolean;
  framesSent: number;
}

function stuckDetail(stats: ServerStats, stuckSession: number) {
  return stats.playerDetails.find((p) => p.session === stuckSession);
}

/**
 * Runs the server in its own process with one publisher, one healthy player and one player
 * that stops reading after its first frame; samples the server's stats throughout.
 */
async function runWithStalledPlayer(policy: string, extraArgs: string[] = []): Promise<Outcome> {
  const srv = await startServerProcess([
    '--stats-port',
    '0',
    '--backpressure',
    policy,
    '--max-queued-bytes',
    String(MAX_QUEUED),
    '--disconnect-grace-ms',
    '500',
    '--pool-max-bytes',
    '8m',
    '--log-level',
    'info',
    ...extraArgs,
  ]);
  try {
    const url = parseRtmpUrl(`rtmp://127.0.0.1:${srv.port}/live`);
    const healthy = await play(url, 'bp');
    const stuck = await Player.open({ url, streamName: 'bp' });
    const stuckSession = Math.max(...(await srv.stats()).playerDetails.map((p) => p.session));
    let maxStuckQueuedBytes = 0;
    let rssAtHalf = 0;
    let lastRss = 0;
    let stuckDrops = { video: 0, audio: 0, data: 0, bytes: 0 };
    const sample = async () => {
      const s = await srv.stats();
      lastRss = s.process.rssBytes;
      const d = stuckDetail(s, stuckSession);
      if (d) {
        maxStuckQueuedBytes = Math.max(maxStuckQueuedBytes, d.queuedBytes);
        stuckDrops = d.drops;
      }
    };
    const sampler = setInterval(() => void sample().catch(() => {}), 100);
    const pub = await publish(url, 'bp', { seconds: SECONDS, videoBitrate: BITRATE, gopSeconds: 1 });
    await waitFor(() => stuck.counters.videoFrames > 0, 3000, 'the stalled player to start');
    stuck.conn.socket.pause();
    await new Promise((r) => setTimeout(r, (SECONDS * 1000) / 2));
    await sample();
    rssAtHalf = lastRss;
    await pub.done;
    const framesSent = pub.publisher.videoFramesSent;
    await waitFor(() => healthy.seqs.length >= framesSent, 10_000, 'the healthy player to catch up');
    await sample();
    clearInterval(sampler);
    // Let the stalled player read again: it sees whether the server closed it.
    stuck.conn.socket.resume();
    if (policy === 'disconnect') await waitFor(() => stuck.closed, 5000, 'the stalled player to see the close');
    const stats = await srv.stats();
    const outcome: Outcome = {
      lateRssGrowthBytes: lastRss - rssAtHalf,
      maxStuckQueuedBytes,
      stats: { ...stats, playerDetails: [{ ...stuckDetail(stats, stuckSession)!, drops: stuckDrops }] },
      healthySeqs: healthy.seqs,
      stuckClosed: stuck.closed,
      framesSent,
    };
    pub.stop(true);
    healthy.player.close();
    stuck.close();
    return outcome;
  } finally {
    expect(await srv.stop()).toBe(0);
  }
}

describe('backpressure with a player that stops reading (server in its own process)', () => {
  for (const variant of ['none', 'drop-to-keyframe', 'priority-drop', 'disconnect', 'drop-to-keyframe+merged']) {
    const [policy, merged] = variant.split('+') as [string, string | undefined];
    it(`${variant}: the healthy player gets every frame${policy === 'none' ? ', and the stalled one costs memory' : '; the server holds at most the bound for the stalled one'}`, async () => {
      const o = await runWithStalledPlayer(policy, merged ? ['--merge-write-ms', '20'] : []);
      console.log(
        `${variant}: held for the stalled player <= ${(o.maxStuckQueuedBytes / 1048576).toFixed(1)} MB, RSS growth over the second half ${(o.lateRssGrowthBytes / 1048576).toFixed(1)} MB, its drops ${JSON.stringify(o.stats.playerDetails[0]!.drops)}`,
      );
      expect(o.healthySeqs).toEqual(Array.from({ length: o.framesSent }, (_, i) => i));
      const drops = o.stats.playerDetails[0]!.drops;
      const streamDrops = o.stats.streams.find((s) => s.key === 'live/bp')?.drops;
      if (policy === 'none') {
        expect(drops.video + drops.audio).toBe(0);
        expect(o.maxStuckQueuedBytes).toBeGreaterThan(2 * MAX_QUEUED);
        // 40 Mbit/s the stalled player never reads keeps piling up in the server.
        expect(o.lateRssGrowthBytes).toBeGreaterThan(4 * 1024 * 1024);
        return;
      }
      expect(o.maxStuckQueuedBytes).toBeLessThanOrEqual(MAX_QUEUED);
      // The queue bound above is exact; RSS only shows nothing else grows without bound (the
      // buffer pool may keep up to 8 MB and the GC runs when it likes, so the slack is wide;
      // the stalled player's share of the second half alone is 15 MB at 40 Mbit/s).
      expect(o.lateRssGrowthBytes).toBeLessThan(12 * 1024 * 1024);
      expect(streamDrops?.video).toBeGreaterThanOrEqual(drops.video);
      if (policy === 'disconnect') {
        // Dropped while over the bound, then closed once the grace time passed.
        expect(drops.video).toBeGreaterThan(0);
        expect(o.stats.connections.closedByReason['slow-player']).toBe(1);
        expect(o.stuckClosed).toBe(true);
      } else {
        expect(drops.video).toBeGreaterThan(o.framesSent / 4);
        expect(o.stuckClosed).toBe(false);
      }
    }, 60_000);
  }
});
