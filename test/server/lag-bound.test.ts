import { describe, expect, it } from 'vitest';
import { Player } from '../../src/client/player.js';
import { SlowReaders } from '../../src/load/shard/slow-readers.js';
import { LagProbe } from '../../src/server/lag-probe.js';
import { publish } from '../helpers/media.js';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';

describe('LagProbe', () => {
  it('is at least as far behind as its oldest unanswered ping; prompt answers over real traffic show a player that keeps up', () => {
    const lag = new LagProbe(5000, 1000);
    lag.sent(10_000, 1000);
    expect(lag.lagMs(12_000)).toBe(0); // not judged before its first answer
    expect(lag.windowBytes).toBe(32 * 1024); // a start window until it shows it keeps up
    expect(lag.answered(10_000, 10_020)).toBe(true);
    expect(lag.lastLagMs).toBe(20);
    expect(lag.windowBytes).toBe(32 * 1024); // prompt, but over 1 000 bytes only: proves nothing yet
    lag.sent(10_500, 90_000);
    lag.answered(10_500, 10_510); // prompt over 89 000 bytes: it keeps up
    expect(lag.windowBytes).toBe(Infinity);
    lag.sent(11_000, 95_000);
    lag.sent(12_000, 100_000);
    expect(lag.lagMs(14_000)).toBe(3000); // the ping of 11 000 is still out
    lag.tick(14_000);
    expect(lag.windowBytes).not.toBe(Infinity); // out too long: behind
    lag.answered(11_000, 14_500);
    expect(lag.lagMs(14_500)).toBe(2500); // the next one (12 000) is out now
    lag.answered(12_000, 14_600);
    expect(lag.lagMs(14_600)).toBe(0);
    expect(lag.answered(99, 14_700)).toBe(false); // not one of ours
  });

  it('holds a player that is behind to what it reads in a quarter of the bound', () => {
    const lag = new LagProbe(4000, 1000);
    lag.sent(0, 100_000);
    lag.sent(1000, 300_000);
    lag.answered(0, 1000); // a second late: behind, its read rate not known yet
    expect(lag.windowBytes).toBe(32 * 1024);
    lag.offered(200); // it was being sent 200 bytes per ms: that stands in for its rate
    expect(lag.windowBytes).toBe(200 * 1000);
    expect(lag.unread(350_000)).toBe(250_000);
    lag.sent(2000, 310_000);
    lag.answered(1000, 1200); // too soon after the first for a rate (answers come in bursts)
    expect(lag.windowBytes).toBe(200 * 1000);
    lag.answered(2000, 3000); // 210 000 more bytes in 2 s: 105 bytes per ms
    expect(lag.windowBytes).toBe(105 * 1000);
    expect(lag.unread(350_000)).toBe(40_000);
    expect(lag.dueByBytes(310_000 + 26_251)).toBe(true); // a quarter of the window since the last ping
  });

  it('lets go of a player that never answers', () => {
    const lag = new LagProbe(5000, 1000);
    lag.sent(0, 1000);
    lag.tick(4000);
    expect(lag.windowBytes).toBe(32 * 1024);
    lag.tick(5001);
    expect(lag.windowBytes).toBe(Infinity);
  });

  it('reads timestamps that wrapped around 2^32 ms', () => {
    const lag = new LagProbe(5000, 1000);
    const now = 2 ** 32 + 500;
    lag.sent(now - 1000, 10);
    lag.answered((now - 1000) % 2 ** 32, now);
    expect(lag.lastLagMs).toBe(1000);
  });
});

const SECONDS = 12;
const BOUND_MS = 3000;
const GOP_S = 1;

interface Watch {
  player: Player;
  latenciesMs: number[];
  seqs: number[];
}

async function watch(srv: TestServer, name: string, slow: SlowReaders | null): Promise<Watch> {
  const w: Watch = { player: null as unknown as Player, latenciesMs: [], seqs: [] };
  w.player = await Player.open({
    url: srv.url(),
    streamName: name,
    onVideo: (v) => {
      if (v.mark === null) return;
      w.seqs.push(v.mark.seq);
      w.latenciesMs.push((v.arrivalUs - Math.max(v.mark.intendedUs, v.mark.sentUs)) / 1000);
    },
  });
  if (slow !== null) w.player.conn.onRead = slow.add(w.player.conn.socket);
  return w;
}

/** One 2 Mbps stream to a viewer that keeps up and one that reads 400 kbit/s. */
async function run(maxLagMs: number): Promise<{ fast: Watch; slow: Watch; sent: number; drops: number }> {
  const srv = await startServer({ maxLagMs, pingIntervalMs: 0 });
  const slowReaders = new SlowReaders(400);
  try {
    const fast = await watch(srv, 's', null);
    const slow = await watch(srv, 's', slowReaders);
    const pub = await publish(srv.url(), 's', { seconds: SECONDS, videoBitrate: 2_000_000, gopSeconds: GOP_S });
    await pub.done;
    const sent = pub.publisher.videoFramesSent;
    await waitFor(() => fast.seqs.length === sent, 5000, 'the fast viewer to get every frame');
    const drops = srv.server.getStats().drops.video;
    pub.stop(true);
    return { fast, slow, sent, drops };
  } finally {
    slowReaders.stop();
    await srv.close();
  }
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

describe('a viewer slower than the stream stays within the lag bound (maxLagMs)', () => {
  it('drops to keyframes for the slow viewer only, which stays within the bound plus a GOP; without the bound it falls far behind', async () => {
    const [bounded, unbounded] = await Promise.all([run(BOUND_MS), run(0)]);
    const range = (n: number) => Array.from({ length: n }, (_, i) => i);
    // The viewer that keeps up loses nothing either way.
    expect(bounded.fast.seqs).toEqual(range(bounded.sent));
    expect(unbounded.fast.seqs).toEqual(range(unbounded.sent));
    // With the bound: frames keep coming to the slow viewer (keyframes at least), 99% of them
    // within the bound plus a GOP, and frames were dropped for it.
    expect(bounded.slow.seqs.length).toBeGreaterThan(SECONDS / 2);
    expect(percentile(bounded.slow.latenciesMs, 0.99)).toBeLessThan(BOUND_MS + GOP_S * 1000);
    expect(bounded.drops).toBeGreaterThan(0);
    // Without it, the socket buffers let the slow viewer fall further and further behind (and
    // nothing is dropped): about 0.8 s a second here.
    expect(Math.max(...unbounded.slow.latenciesMs)).toBeGreaterThan(BOUND_MS + GOP_S * 1000 + 2000);
    expect(unbounded.drops).toBe(0);
    for (const r of [bounded, unbounded]) {
      r.fast.player.close();
      r.slow.player.close();
    }
  }, 40_000);
});
