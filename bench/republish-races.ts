/**
 * Republish races on the built-in server, the long run: a publisher drops its connection or
 * unpublishes and another takes the name at once while viewers join before, during and after
 * (bench/lib/republish-race.ts says how a round goes), thousands of rounds, against the server in
 * its own process. Checks that every viewer got frames of the new publisher, every play and
 * republish went through, and no stream is left in the registry afterwards.
 *
 *   npm run build && node dist/bench/republish-races.js [--rounds 5000] [--viewers 4] [--concurrency 4]
 *        [--seed 1] [--server "--merge-write-ms 20"] [--out FILE]
 *
 * Prints one verdict line; exit 0 when every check passed, 1 when one failed.
 */
import { argValue, environment, writeResult } from './lib/env.js';
import { republishRaces } from './lib/republish-race.js';
import { startWatchedServer } from './lib/server-watch.js';

const rounds = Number(argValue('rounds') ?? 5000);
const viewersPerRound = Number(argValue('viewers') ?? 4);
const concurrency = Number(argValue('concurrency') ?? 4);
const seed = Number(argValue('seed') ?? 1);
const serverArgs = (argValue('server') ?? '').split(' ').filter(Boolean);

async function main(): Promise<void> {
  const startedMs = performance.now();
  const watched = await startWatchedServer(serverArgs);
  try {
    const r = await republishRaces({
      url: watched.url,
      rounds,
      viewersPerRound,
      concurrency,
      seed,
      onProgress: (done) => {
        if (done % 500 === 0) process.stderr.write(`${done}/${rounds} rounds\n`);
      },
    });
    const settled = await watched.settle(0, 0, 20_000);
    const stats = await watched.stats();
    const checks = [
      {
        name: 'served',
        passed: r.starved === 0 && r.served === r.viewers,
        detail: `${r.served} of ${r.viewers} viewers got frames of the new publisher, ${r.starved} did not`,
      },
      {
        name: 'sessions',
        passed: r.viewerErrors === 0 && r.republishFailures === 0 && Object.keys(r.errors).length === 0,
        detail: `${r.viewerErrors} plays failed, ${r.republishFailures} republishes never got the name (${r.republishRetries} asked again while the old publication was still held), ${Object.values(r.errors).reduce((a, n) => a + n, 0)} rounds failed`,
      },
      {
        name: 'registry',
        passed: settled && stats.streams.length === 0 && stats.connections.open === 0,
        detail: `${stats.streams.length} streams and ${stats.connections.open} connections left`,
      },
      {
        name: 'no-internal-error',
        passed: (stats.connections.closedByReason['internal-error'] ?? 0) === 0,
        detail: `${stats.connections.closedByReason['internal-error'] ?? 0} connections closed for an internal error`,
      },
    ];
    const passed = checks.every((c) => c.passed);
    const durationSec = Math.round((performance.now() - startedMs) / 1000);
    console.log(
      `republish races ${passed ? 'PASS' : 'FAIL'}: ${r.rounds} rounds (${r.dropped} dropped, ${r.unpublished} unpublished), ${viewersPerRound} viewers each${serverArgs.length > 0 ? `, server ${serverArgs.join(' ')}` : ''}, in ${durationSec} s; ${checks.map((c) => `${c.passed ? '' : 'FAILED '}${c.detail}`).join('; ')}`,
    );
    for (const d of r.starvedDetails) console.log(`  ${d}`);
    const path = writeResult(
      'republish-races',
      {
        bench: 'republish-races',
        env: environment(),
        command: `node dist/bench/republish-races.js ${process.argv.slice(2).join(' ')}`.trim(),
        settings: { rounds, viewersPerRound, concurrency, seed, serverArgs },
        passed,
        durationSec,
        checks,
        counts: r,
        closedByReason: stats.connections.closedByReason,
      },
      argValue('out'),
    );
    process.stderr.write(`written to ${path}\n`);
    process.exitCode = passed ? 0 : 1;
  } finally {
    await watched.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 3;
});
