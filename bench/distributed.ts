/**
 * A run spread over three load machines against the same run on one: do they measure the same?
 * The machines are network namespaces on this host (198.18.0.0/15, veth pairs), one with its
 * monotonic clock two hours ahead (a time namespace), one with its wall clock seven seconds
 * ahead (faketime); the built-in server and the coordinator listen on the host. Each round runs
 * the scenario once over the three shares (then `rtmpbench merge`) and once from one machine,
 * in alternating order, against the same server; the table sets sessions, latency samples, frame
 * accounting and end-to-end p50/p99 side by side. Needs root.
 *
 *   node dist/bench/distributed.js [--rounds 3] [--players 30] [--streams 2] [--duration 20s]
 *                                  [--out results/baselines/distributed]
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../src/proc/port.js';
import { launch, runToEnd } from '../src/proc/spawn.js';
import type { RunSummary } from '../src/results/summary.js';
import { argValue, environment, formatTable } from './lib/env.js';
import { HOST_ADDRESS, makeMachines, namespacesUnavailable } from './lib/netns.js';

const CLI = resolve(import.meta.dirname, '../src/cli/main.js');
const rounds = Number(argValue('rounds') ?? 3);
const players = Number(argValue('players') ?? 30);
const streams = Number(argValue('streams') ?? 2);
const duration = argValue('duration') ?? '20s';
const outDir = argValue('out');

const unavailable = namespacesUnavailable();
if (unavailable !== null) {
  console.error(`bench/distributed: ${unavailable}`);
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'rtmpbench-distributed-bench-'));
const scenario = join(work, 'spread.yaml');
writeFileSync(
  scenario,
  [
    'name: spread',
    `streams: ${streams}`,
    'players:',
    `  perStream: ${players}`,
    `duration: ${duration}`,
    'ramp: 2s',
    'publishers:',
    '  gop: 1s',
    'workers: 1',
    '',
  ].join('\n'),
);

const resultDir = (stdout: string) => /results: (\S+)/.exec(stdout)?.[1];
const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunSummary;

const machines = makeMachines(3);
const serverPort = await freePort();
const server = launch(process.execPath, [
  CLI,
  'serve',
  '--host',
  HOST_ADDRESS,
  '--port',
  String(serverPort),
  '--log-level',
  'warn',
]);
const target = `rtmp://${HOST_ADDRESS}:${serverPort}/live`;

async function spread(round: number): Promise<{ summary: RunSummary; dir: string }> {
  const port = await freePort();
  const runId = `bench-${round}`;
  const coordinator = runToEnd(
    process.execPath,
    [CLI, 'coordinate', '--shares', '3', '--listen', `${HOST_ADDRESS}:${port}`, '--idle', '3s', '--run-id', runId],
    300_000,
  );
  await new Promise((r) => setTimeout(r, 500));
  const args = (k: number) => [
    CLI,
    'run',
    scenario,
    '--target',
    target,
    '--shard',
    `${k}/3`,
    '--coordinator',
    `http://${HOST_ADDRESS}:${port}`,
    '--run-id',
    runId,
    '--server-pid',
    String(server.pid),
    '--out',
    join(work, `spread-${round}`),
  ];
  const prefix = [
    [...machines.exec(0), process.execPath],
    [...machines.exec(1), 'unshare', '--time', '--monotonic=7200', '--fork', '--kill-child', process.execPath],
    [...machines.exec(2), 'faketime', '-f', '+7s', process.execPath],
  ];
  const shares = await Promise.all(
    prefix.map((p, k) =>
      runToEnd(
        p[0]!,
        [...p.slice(1), ...args(k)],
        300_000,
        k === 2 ? { FAKETIME_DONT_FAKE_MONOTONIC: '1' } : undefined,
      ),
    ),
  );
  await coordinator;
  const dirs = shares.map((r, k) => {
    const d = resultDir(r.stdout);
    if (d === undefined) throw new Error(`share ${k} failed: ${r.stderr}`);
    return d;
  });
  const m = await runToEnd(
    process.execPath,
    [CLI, 'merge', ...dirs, '--out', join(work, `merged-${round}`), '--json'],
    120_000,
  );
  if (m.code !== 0) throw new Error(`merge failed: ${m.stderr}`);
  const summary = JSON.parse(m.stdout) as RunSummary;
  // With --json the folder is not printed: it is the one folder under the merge's root.
  const root = join(work, `merged-${round}`);
  return { summary, dir: join(root, readdirSync(root)[0]!) };
}

async function single(round: number): Promise<{ summary: RunSummary; dir: string }> {
  const r = await runToEnd(
    process.execPath,
    [
      CLI,
      'run',
      scenario,
      '--target',
      target,
      '--server-pid',
      String(server.pid),
      '--out',
      join(work, `single-${round}`),
    ],
    300_000,
  );
  const dir = resultDir(r.stdout);
  if (dir === undefined) throw new Error(`single run failed: ${r.stderr}`);
  return { summary: summaryOf(dir), dir };
}

interface Row {
  round: number;
  how: 'three shares' | 'one machine';
  s: RunSummary;
}

const rows: Row[] = [];
let lastSpread: string | null = null;
let lastSingle: string | null = null;
try {
  for (let round = 1; round <= rounds; round++) {
    // Alternate which goes first, so a drift of the machine over the rounds hits both alike.
    const order = round % 2 === 1 ? (['spread', 'single'] as const) : (['single', 'spread'] as const);
    for (const how of order) {
      const r = how === 'spread' ? await spread(round) : await single(round);
      rows.push({ round, how: how === 'spread' ? 'three shares' : 'one machine', s: r.summary });
      if (how === 'spread') lastSpread = r.dir;
      else lastSingle = r.dir;
      console.error(`round ${round}: ${how} done`);
    }
  }
} finally {
  await server.stop();
  machines.remove();
}

const table = rows.map(({ round, how, s }) => ({
  round,
  run: how,
  'viewers connected / planned': `${s.sessions.players.connected} / ${s.sessions.players.planned}`,
  'e2e samples': s.latencyMs.endToEnd.count,
  'frames received': s.throughput.framesReceived,
  'sent before join': s.frames.sentBeforeJoin ?? 0,
  'below zero': s.frames.latencyBelowZero ?? 0,
  'expected = received + lost': `${s.frames.expected ?? '—'} = ${s.throughput.framesReceived - (s.frames.slowReceived ?? 0)} + ${s.frames.lost}`,
  'e2e p50 ms': s.latencyMs.endToEnd.p50,
  'e2e p99 ms': s.latencyMs.endToEnd.p99,
  'clock bound ms': s.shares !== undefined ? Math.max(...s.shares.map((x) => (x.clock?.monoBoundUs ?? 0) / 1000)) : '—',
}));
const text = formatTable(table);
console.log(text);
const env = environment();
if (outDir !== undefined) {
  mkdirSync(outDir, { recursive: true });
  for (const [name, dir] of [
    ['three-shares', lastSpread],
    ['one-machine', lastSingle],
  ] as const) {
    if (dir === null) continue;
    for (const f of ['summary.json', 'counters.json', 'histograms.json']) {
      mkdirSync(join(outDir, name), { recursive: true });
      cpSync(join(dir, f), join(outDir, name, f));
    }
  }
  writeFileSync(join(outDir, 'table.md'), `${text}\n`);
  writeFileSync(join(outDir, 'bench.json'), `${JSON.stringify({ env, rounds: table }, null, 2)}\n`);
}
