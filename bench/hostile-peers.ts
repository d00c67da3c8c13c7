/**
 * What hostile peers cost the built-in server: the partial-message memory bomb (connections that
 * complete the handshake, send Set Chunk Size 0x7fffffff and one chunk header declaring an 8 MB
 * video message followed by all of it but the last byte, and never `connect`), and the same with
 * the largest message the server accepts before `connect` (a command of `maxCommandBytes`, held
 * open), each against a fresh server in its own process beside a healthy stream. Prints the
 * server's RSS before, at its peak and after, per attacker, what closed the attackers and whether
 * the healthy viewer lost a frame. Each attack stops once the server's RSS grows by --max-growth.
 * Then players that never read (nor answer pings) join one 8 Mbps stream, one after another over
 * --stall-seconds: what their queues make the server hold.
 *
 *   npm run build && node dist/bench/hostile-peers.js [--connections 300,3000] [--max-growth 1g]
 *        [--stalled 500] [--stall-seconds 20] [--server "--max-command-bytes 16k"] [--out FILE]
 */
import { Player } from '../src/client/player.js';
import { Publisher } from '../src/client/publisher.js';
import { parseSize } from '../src/input/units.js';
import { SyntheticSource } from '../src/media/synthetic.js';
import { monotonicUs } from '../src/media/timing-mark.js';
import { argValue, environment, writeResult } from './lib/env.js';
import { bombWatchedServer, type WatchedBombResult } from './lib/memory-bomb.js';
import { startHealthyStream, startWatchedServer } from './lib/server-watch.js';

const counts = (argValue('connections') ?? '300,3000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const maxGrowthBytes = parseSize(argValue('max-growth') ?? '1g') ?? 1024 ** 3;
const serverArgs = (argValue('server') ?? '').split(' ').filter(Boolean);
const stalledPlayers = Number(argValue('stalled') ?? 500);
const stallSeconds = Number(argValue('stall-seconds') ?? 20);
/** The largest message the server takes before connect with its defaults (maxCommandBytes). */
const HELD_BYTES = 16 * 1024;

const VARIANTS = [
  { name: '8 MB video header', declaredBytes: 8 * 1024 * 1024, typeId: 9 },
  { name: `${HELD_BYTES / 1024} KB command, held`, declaredBytes: HELD_BYTES, typeId: 20 },
] as const;

const mb = (b: number) => (b / 1024 / 1024).toFixed(1);

async function once(connections: number, variant: (typeof VARIANTS)[number]): Promise<WatchedBombResult> {
  const watched = await startWatchedServer(['--log-level', 'warn', ...serverArgs]);
  const healthy = await startHealthyStream(watched.url, 'healthy');
  try {
    // The healthy stream runs a moment first: the server's RSS settles with it.
    await new Promise((r) => setTimeout(r, 1500));
    return await bombWatchedServer(watched, healthy, {
      connections,
      declaredBytes: variant.declaredBytes,
      typeId: variant.typeId,
      maxGrowthBytes,
      holdMs: 2000,
    });
  } finally {
    await healthy.stop();
    await watched.stop();
  }
}

interface StalledResult {
  players: number;
  seconds: number;
  videoBitrate: number;
  rssBeforeBytes: number;
  rssPeakBytes: number;
  /** Bytes waiting in the stalled players' queues at the end (our queue and libuv's), summed. */
  queuedBytes: number;
  /** Video frames dropped for them. */
  droppedVideo: number;
}

/** Players that never read, joining one 8 Mbps stream one after another: what the server holds for them. */
async function stalled(players: number, seconds: number): Promise<StalledResult> {
  const videoBitrate = 8_000_000;
  const watched = await startWatchedServer(['--log-level', 'warn', ...serverArgs]);
  const source = new SyntheticSource({ videoBitrate, fps: 30, gopSeconds: 1, audioBitrate: 64_000 });
  const publisher = await Publisher.open({ url: watched.url, streamName: 'wide', source });
  publisher.start(monotonicUs());
  const pump = setInterval(() => publisher.pump(monotonicUs()), 5);
  const opened: Player[] = [];
  try {
    await new Promise((r) => setTimeout(r, 1500));
    const before = await watched.quietResources();
    let peak = before.rssBytes;
    const sampler = setInterval(() => {
      peak = Math.max(peak, watched.resources().rssBytes);
    }, 50);
    for (let i = 0; i < players; i++) {
      const p = await Player.open({ url: watched.url, streamName: 'wide', answerPings: false });
      p.conn.socket.pause();
      opened.push(p);
      await new Promise((r) => setTimeout(r, (seconds * 1000) / players));
    }
    await new Promise((r) => setTimeout(r, 3000));
    clearInterval(sampler);
    const stats = await watched.stats();
    return {
      players,
      seconds,
      videoBitrate,
      rssBeforeBytes: before.rssBytes,
      rssPeakBytes: peak,
      queuedBytes: stats.playerDetails.reduce((a, p) => a + p.queuedBytes, 0),
      droppedVideo: stats.playerDetails.reduce((a, p) => a + p.drops.video, 0),
    };
  } finally {
    clearInterval(pump);
    for (const p of opened) p.close();
    publisher.stop();
    await watched.stop();
  }
}

async function main(): Promise<void> {
  const runs: (WatchedBombResult & { variant: string })[] = [];
  for (const variant of VARIANTS) {
    for (const n of counts) {
      const r = await once(n, variant);
      runs.push({ variant: variant.name, ...r });
      const growth = r.rssPeakBytes - r.rssBeforeBytes;
      console.log(
        `${variant.name} x ${n}: RSS ${mb(r.rssBeforeBytes)} MB before, ${mb(r.rssPeakBytes)} MB at the peak ` +
          `(+${mb(growth)} MB, ${Math.round(growth / n / 1024)} KB per attacker), ${mb(r.rssAfterBytes)} MB after; ` +
          `${r.handshaken} handshaken, ${r.closedByServer} closed by the server ` +
          `(${Object.entries(r.closedByReason)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}), ${r.open} held open; ` +
          `healthy viewer ${r.healthy.received} frames, ${r.healthy.lost} lost${r.healthy.alive ? '' : ', DISCONNECTED'}` +
          `${r.overBound ? '; STOPPED: RSS grew past the bound' : ''} (${r.durationMs} ms)`,
      );
    }
  }
  const s = stalledPlayers > 0 ? await stalled(stalledPlayers, stallSeconds) : null;
  if (s !== null) {
    const growth = s.rssPeakBytes - s.rssBeforeBytes;
    console.log(
      `${s.players} players that never read, joining an ${s.videoBitrate / 1e6} Mbps stream over ${s.seconds} s: ` +
        `RSS ${mb(s.rssBeforeBytes)} MB before, ${mb(s.rssPeakBytes)} MB at the peak (+${mb(growth)} MB, ` +
        `${Math.round(growth / s.players / 1024)} KB per player); ${mb(s.queuedBytes)} MB queued for them in all ` +
        `(their media buffers are shared), ${s.droppedVideo} video frames dropped for them`,
    );
  }
  const path = writeResult(
    'hostile-peers',
    {
      bench: 'hostile-peers',
      env: environment(),
      command: `node dist/bench/hostile-peers.js ${process.argv.slice(2).join(' ')}`.trim(),
      settings: { counts, maxGrowthBytes, serverArgs, stalledPlayers, stallSeconds },
      runs,
      stalled: s,
    },
    argValue('out'),
  );
  process.stderr.write(`written to ${path}\n`);
  process.exitCode = runs.every((r) => !r.overBound && r.healthy.lost === 0 && r.healthy.alive) ? 0 : 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 3;
});
