import { describe, expect, it } from 'vitest';
import { Player } from '../../src/client/player.js';
import { SlowReaders } from '../../src/load/shard/slow-readers.js';
import { LagProbe } from '../../src/server/lag-probe.js';
import { publish } from '../helpers/media.js';
import { startServer, startServerProcess, waitFor, type TestServer } from '../helpers/server.js';
import { parseRtmpUrl } from '../../src/client/url.js';

describe('LagProbe', () => {
  it('is at least as far behind as its oldest unanswered ping; it keeps up when it answers at once while reading what the stream offers', () => {
    const lag = new LagProbe(5000, 1000);
    lag.sent(10_000, 20_000);
    expect(lag.lagMs(12_000)).toBe(0); // not judged before its first answer
    expect(lag.windowBytes).toBe(32 * 1024); // a start window until it shows it keeps up
    expect(lag.answered(10_000, 10_020)).toBe(true);
    expect(lag.lastLagMs).toBe(20);
    expect(lag.windowBytes).toBe(32 * 1024); // one prompt answer proves nothing: any reader takes what waits
    lag.offered(40); // the stream offers 40 bytes per ms
    lag.sent(10_600, 50_000);
    lag.answered(10_600, 10_625); // prompt, and 30 000 bytes in 605 ms: about 50 bytes per ms
    expect(lag.windowBytes).toBe(Infinity);
    lag.sent(11_000, 55_000);
    lag.sent(12_000, 60_000);
    expect(lag.lagMs(14_000)).toBe(3000); // the ping of 11 000 is still out
    lag.tick(14_000);
    expect(lag.windowBytes).not.toBe(Infinity); // out too long: behind, a window again
    lag.answered(11_000, 14_500);
    expect(lag.lagMs(14_500)).toBe(2500); // the next one (12 000) is out now
    lag.answered(12_000, 14_600);
    expect(lag.lagMs(14_600)).toBe(0);
    expect(lag.answered(99, 14_700)).toBe(false); // not one of ours
  });

  it('holds a player that is behind to what it reads in a quarter of the bound', () => {
    const lag = new LagProbe(4000, 1000);
    lag.offered(200); // the stream offers 200 bytes per ms
    lag.sent(0, 100_000);
    lag.sent(1000, 300_000);
    lag.answered(0, 1000); // a second late: behind, its read rate not known yet: the least window
    expect(lag.windowBytes).toBe(32 * 1024);
    expect(lag.unread(350_000)).toBe(250_000);
    lag.sent(2000, 310_000);
    lag.answered(1000, 1200); // too soon after the first for a rate (answers come in bursts)
    expect(lag.windowBytes).toBe(32 * 1024);
    lag.answered(2000, 3000); // 210 000 more bytes in 2 s: 105 bytes per ms
    expect(lag.windowBytes).toBe(105 * 1000);
    expect(lag.unread(350_000)).toBe(40_000);
    expect(lag.dueByBytes(310_000 + 26_251)).toBe(true); // a quarter of the window since the last ping
  });

  it('keeps a window of about what the stream offers for a player that kept up until a ping stayed out', () => {
    const lag = new LagProbe(5000, 1000);
    lag.offered(100);
    lag.sent(0, 10_000);
    lag.answered(0, 5);
    lag.sent(600, 70_000);
    lag.answered(600, 605); // 60 000 bytes in 600 ms: keeps up
    expect(lag.windowBytes).toBe(Infinity);
    lag.sent(1000, 110_000);
    lag.tick(1050);
    expect(lag.windowBytes).toBe(Infinity);
    lag.tick(1200); // out 200 ms: behind
    expect(lag.windowBytes).toBe(100 * 1250);
  });

  it('lets go of a player that has not answered its first ping within a quarter of the bound, at most a second', () => {
    const lag = new LagProbe(5000, 1000);
    lag.sent(0, 1000);
    lag.tick(900);
    expect(lag.windowBytes).toBe(32 * 1024);
    lag.tick(1001);
    expect(lag.isSilent).toBe(true);
    expect(lag.windowBytes).toBe(Infinity);
    const tight = new LagProbe(1000, 250);
    tight.sent(0, 1000);
    tight.tick(251);
    expect(tight.windowBytes).toBe(Infinity);
  });

  it('brings a silent player back under the bound when it answers after all', () => {
    const lag = new LagProbe(5000, 1000);
    lag.sent(0, 1000);
    lag.tick(1500);
    expect(lag.windowBytes).toBe(Infinity);
    lag.sent(1600, 500_000);
    lag.answered(1600, 3000); // late: behind
    expect(lag.isSilent).toBe(false);
    expect(lag.windowBytes).toBe(32 * 1024);
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

describe('a viewer that reads in bursts but keeps up on average', () => {
  it('loses nothing under the lag bound, though its answers come late', async () => {
    // The server in its own process; this process (the viewer's) stalls 400 ms every second.
    const srv = await startServerProcess(['--max-lag-ms', '5000', '--log-level', 'warn']);
    const url = parseRtmpUrl(`rtmp://127.0.0.1:${srv.port}/live`);
    const seqs: number[] = [];
    const player = await Player.open({
      url,
      streamName: 'b',
      onVideo: (v) => v.mark !== null && seqs.push(v.mark.seq),
    });
    const pub = await publish(url, 'b', { seconds: 6, videoBitrate: 2_000_000, gopSeconds: 1 });
    const stall = setInterval(() => {
      const until = performance.now() + 400;
      while (performance.now() < until);
    }, 1000);
    try {
      await pub.done;
      clearInterval(stall);
      const sent = pub.publisher.videoFramesSent;
      await waitFor(() => seqs.length >= sent, 10_000, 'every frame');
      expect(seqs).toEqual(Array.from({ length: sent }, (_, i) => i));
    } finally {
      clearInterval(stall);
      pub.stop(true);
      player.close();
      expect(await srv.stop()).toBe(0);
    }
  }, 30_000);
});

describe('players that answer no pings', () => {
  it("lose nothing when they read at the stream's rate (joined before the publish or during it); slow ones that answer keep the lag bound", async () => {
    const srv = await startServer({ maxLagMs: BOUND_MS, logLevel: 'info' });
    const slowReaders = new SlowReaders(400);
    const players: Player[] = [];
    const open = async (silent: boolean, slow: boolean): Promise<Watch> => {
      const w: Watch = { player: null as unknown as Player, latenciesMs: [], seqs: [] };
      w.player = await Player.open({
        url: srv.url(),
        streamName: 'q',
        answerPings: !silent,
        onVideo: (v) => {
          if (v.mark === null) return;
          w.seqs.push(v.mark.seq);
          w.latenciesMs.push((v.arrivalUs - Math.max(v.mark.intendedUs, v.mark.sentUs)) / 1000);
        },
      });
      if (slow) w.player.conn.onRead = slowReaders.add(w.player.conn.socket);
      players.push(w.player);
      return w;
    };
    const dropsOf = (w: Watch) => {
      const port = w.player.conn.socket.localPort;
      return srv.server.getStats().playerDetails.find((p) => p.remote.endsWith(`:${port}`))!.drops.video;
    };
    try {
      const early = await Promise.all([open(true, false), open(true, false), open(true, false)]);
      const slowAnswering = await open(false, true);
      const pub = await publish(srv.url(), 'q', { seconds: 8, videoBitrate: 2_000_000, gopSeconds: GOP_S });
      await new Promise((r) => setTimeout(r, 1500));
      // Joiners in mid-stream: the GOP cache first, held back until they are let go of.
      const late = await Promise.all([open(true, false), open(true, false)]);
      await pub.done;
      const sent = pub.publisher.videoFramesSent;
      const whole = [...early, ...late];
      await waitFor(
        () => whole.every((w) => w.seqs.at(-1) === sent - 1),
        10_000,
        'every silent player to get the last frame',
      );
      const slowDrops = dropsOf(slowAnswering);
      pub.stop(true);
      for (const w of early) expect(w.seqs).toEqual(Array.from({ length: sent }, (_, i) => i));
      for (const w of late) {
        const first = w.seqs[0]!;
        expect(first).toBeLessThanOrEqual(45 + GOP_S * 30); // from the GOP cache of a keyframe in the first 1.5 s
        expect(w.seqs).toEqual(Array.from({ length: sent - first }, (_, i) => first + i));
      }
      for (const w of whole) expect(dropsOf(w)).toBe(0);
      // The slow player that answers is held to the bound (plus a GOP), as in the test above.
      expect(slowDrops).toBeGreaterThan(0);
      expect(percentile(slowAnswering.latenciesMs, 0.99)).toBeLessThan(BOUND_MS + GOP_S * 1000);
    } finally {
      slowReaders.stop();
      for (const p of players) p.close();
      await srv.close();
    }
  }, 40_000);

  it('get the byte bound alone when they are slower than the stream: what waits for one that stops reading stays within maxQueuedBytes, the rest is dropped', async () => {
    // 16 Mbps, so the socket buffers (megabytes on loopback, which hide a slow reader from any
    // server that cannot ask the player) fill within seconds.
    const srv = await startServer({ maxLagMs: BOUND_MS, logLevel: 'info' });
    const player = await Player.open({ url: srv.url(), streamName: 'z', answerPings: false });
    player.conn.socket.pause();
    try {
      const pub = await publish(srv.url(), 'z', { seconds: 5, videoBitrate: 16_000_000, gopSeconds: GOP_S });
      let maxQueued = 0;
      const sample = setInterval(() => {
        const p = srv.server.getStats().playerDetails[0];
        if (p !== undefined) maxQueued = Math.max(maxQueued, p.queuedBytes);
      }, 50);
      await pub.done;
      clearInterval(sample);
      const stalled = srv.server.getStats().playerDetails[0]!;
      pub.stop(true);
      expect(stalled.drops.video).toBeGreaterThan(0);
      expect(maxQueued).toBeGreaterThan(0);
      expect(maxQueued).toBeLessThanOrEqual(2 * 1024 * 1024 + 1024 * 1024); // the bound, and a keyframe over it
    } finally {
      player.close();
      await srv.close();
    }
  }, 30_000);
});
