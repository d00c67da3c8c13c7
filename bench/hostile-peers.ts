/**
 * What hostile peers cost the built-in server: the partial-message memory bomb (connections that
 * complete the handshake, send Set Chunk Size 0x7fffffff and one chunk header declaring an 8 MB
 * video message followed by all of it but the last byte, and never `connect`), and the same with
 * the largest message the server accepts before `connect` (a command of `maxCommandBytes`, held
 * open), each against a fresh server in its own process beside a healthy stream. Prints the
 * server's RSS before, at its peak and after, per attacker, what closed the attackers and whether
 * the healthy viewer lost a frame. Each attack stops once the server's RSS grows by --max-growth.
 *
 *   npm run build && node dist/bench/hostile-peers.js [--connections 300,3000] [--max-growth 1g]
 *        [--server "--max-command-bytes 16k"] [--out FILE]
 */
import { parseSize } from '../src/input/units.js';
import { argValue, environment, writeResult } from './lib/env.js';
import { bombWatchedServer, type WatchedBombResult } from './lib/memory-bomb.js';
import { startHealthyStream, startWatchedServer } from './lib/server-watch.js';

const counts = (argValue('connections') ?? '300,3000').split(',').map(Number);
const maxGrowthBytes = parseSize(argValue('max-growth') ?? '1g') ?? 1024 ** 3;
const serverArgs = (argValue('server') ?? '').split(' ').filter(Boolean);
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
  const path = writeResult(
    'hostile-peers',
    {
      bench: 'hostile-peers',
      env: environment(),
      command: `node dist/bench/hostile-peers.js ${process.argv.slice(2).join(' ')}`.trim(),
      settings: { counts, maxGrowthBytes, serverArgs },
      runs,
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
