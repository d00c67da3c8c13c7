/**
 * Server macro benchmark: one 600 kbps publisher and 500 -> 1000 -> 2000 players on
 * loopback, against the built-in server, the floor relay (bench/floor-relay.ts: each read of the
 * publisher written to every player, no RTMP logic), nginx-rtmp and node-media-server, each in
 * its own process. Reports per server and step: server CPU-seconds per 1000 player-minutes (user
 * and system apart), peak RSS above the idle process (per player), and bytes delivered against
 * what was published; then the built-in server's CPU over each other server's, paired by round,
 * with a 95% interval when there are two rounds or more.
 *
 *   npm run bench:server [-- --steps 500,1000,2000 --hold 10 --rounds 1 --servers builtin,floor,nginx-rtmp,node-media-server]
 *                        [--builtin "default=;batched=--merge-write-ms 20 --tcp-nodelay off"]
 *
 * `--builtin` runs several settings of the built-in server as separate variants (name=flags).
 *
 * The publisher runs in a process of its own, paced every 2 ms, with fmt-0 headers (so the floor
 * relay can hand its bytes on as they are). The players run in this process (a plain loop over
 * the client's Player, reading only chunk headers and tag headers); the servers' CPU and memory
 * are read from /proc, so the players' own cost is not counted. Servers run one after the
 * other, in an order rotated per round.
 */
import { readFileSync } from 'node:fs';
import { Player } from '../src/client/player.js';
import { parseRtmpUrl } from '../src/client/url.js';
import { ProcessMonitor, sampleProcess } from '../src/metrics/process-stats.js';
import { median, pairedRatio } from '../src/metrics/stats.js';
import { ownModule } from '../src/proc/own-module.js';
import { freePort, waitForPort } from '../src/proc/port.js';
import {
  serverAvailability,
  SERVER_KINDS,
  startServer,
  type RunningServer,
  type ServerKind,
} from '../src/proc/servers.js';
import { launch, type ChildHandle } from '../src/proc/spawn.js';
import { argValue, environment, formatTable, writeResult } from './lib/env.js';

const VIDEO_BPS = 600_000;
const AUDIO_BPS = 64_000;

/** User and system CPU seconds of a process so far (from /proc), or null when it is gone. */
function cpuTimes(pid: number): { user: number; system: number } | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const ticks = 100; // USER_HZ on Linux
    return { user: Number(fields[11]) / ticks, system: Number(fields[12]) / ticks };
  } catch {
    return null;
  }
}

/** A server under test, or `floor`: the relay with no RTMP logic (floor-relay.ts). */
type BenchKind = ServerKind | 'floor';

interface Variant {
  /** Label in the results: the server kind, or builtin:<name> for a built-in variant. */
  label: string;
  kind: BenchKind;
  builtinArgs: string[];
}

/** The floor relay, in a process of its own on a free port. */
async function startFloor(): Promise<Pick<RunningServer, 'pid' | 'url' | 'stop'>> {
  const port = await freePort();
  const relay = ownModule(import.meta.url, './floor-relay.js');
  const handle = launch(process.execPath, [...relay.execArgv, relay.path, '--port', String(port)]);
  await waitForPort(port, { abandon: () => (handle.running ? null : `the floor relay exited: ${handle.output()}`) });
  return { pid: handle.pid, url: `rtmp://127.0.0.1:${port}/live`, stop: () => handle.stop() };
}

/** The paced publisher (lib/paced-publisher.ts), in a process of its own; resolves once it publishes. */
async function startPublisher(url: string): Promise<ChildHandle> {
  const script = ownModule(import.meta.url, './lib/paced-publisher.js');
  let ready!: () => void;
  const publishing = new Promise<void>((r) => (ready = r));
  const handle = launch(
    process.execPath,
    [
      ...script.execArgv,
      script.path,
      '--url',
      url,
      '--stream',
      'bench',
      '--video-bps',
      String(VIDEO_BPS),
      '--audio-bps',
      String(AUDIO_BPS),
    ],
    {
      onOutput: (text) => {
        if (text.includes('publishing')) ready();
      },
    },
  );
  const failed = handle.exited.then((code) => {
    throw new Error(`the publisher exited (${code}): ${handle.output()}`);
  });
  await Promise.race([publishing, failed]);
  return handle;
}

interface StepResult {
  server: string;
  round: number;
  players: number;
  connected: number;
  holdSeconds: number;
  serverCpuSeconds: number;
  /** Of which in the kernel (system time). */
  serverSystemSeconds: number;
  cpuSecondsPer1000PlayerMinutes: number;
  idleRssBytes: number;
  peakRssBytes: number;
  rssPerPlayerBytes: number;
  bytesDelivered: number;
  deliveredRatio: number;
  framesPerPlayerPerSecond: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Opens players, 64 at a time, for at most `budgetMs`: a saturated server that stops
 * accepting is measured with the players it took.
 */
async function openPlayers(
  url: ReturnType<typeof parseRtmpUrl>,
  count: number,
  into: Player[],
  budgetMs = 60_000,
): Promise<void> {
  const concurrency = 64;
  const deadline = Date.now() + budgetMs;
  let next = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (next < count && Date.now() < deadline) {
      next++;
      try {
        into.push(await Player.open({ url, streamName: 'bench', timeoutMs: 10_000 }));
      } catch {
        // Counted as not connected.
      }
    }
  });
  await Promise.all(workers);
}

async function runServer(variant: Variant, round: number, steps: number[], holdSeconds: number): Promise<StepResult[]> {
  const kind = variant.label;
  const server =
    variant.kind === 'floor'
      ? await startFloor()
      : await startServer(variant.kind, { builtinArgs: variant.builtinArgs });
  const results: StepResult[] = [];
  const players: Player[] = [];
  let publisher: ChildHandle | null = null;
  try {
    const url = parseRtmpUrl(server.url);
    publisher = await startPublisher(server.url);
    await sleep(2000);
    const idleRssBytes = sampleProcess(server.pid)?.rssBytes ?? 0;
    for (const target of steps) {
      await openPlayers(url, target - players.length, players);
      await sleep(2000); // settle: joins done, GOP caches delivered
      const bytes0 = players.reduce((s, p) => s + p.counters.mediaBytes, 0);
      const frames0 = players.reduce((s, p) => s + p.counters.videoFrames, 0);
      const monitor = new ProcessMonitor(server.pid, 200);
      const t0 = performance.now();
      const times0 = cpuTimes(server.pid);
      monitor.start();
      await sleep(holdSeconds * 1000);
      const usage = monitor.stop();
      const times1 = cpuTimes(server.pid);
      const seconds = (performance.now() - t0) / 1000;
      const live = players.filter((p) => !p.closed);
      const bytes = players.reduce((s, p) => s + p.counters.mediaBytes, 0) - bytes0;
      const frames = players.reduce((s, p) => s + p.counters.videoFrames, 0) - frames0;
      const expected = ((VIDEO_BPS + AUDIO_BPS) / 8) * seconds * live.length;
      const cpu = usage?.cpuSeconds ?? NaN;
      results.push({
        server: kind,
        round,
        players: target,
        connected: live.length,
        holdSeconds: seconds,
        serverCpuSeconds: cpu,
        serverSystemSeconds: times0 !== null && times1 !== null ? times1.system - times0.system : NaN,
        cpuSecondsPer1000PlayerMinutes: (cpu / ((live.length * seconds) / 60)) * 1000,
        idleRssBytes,
        peakRssBytes: usage?.peakRssBytes ?? NaN,
        rssPerPlayerBytes: ((usage?.peakRssBytes ?? NaN) - idleRssBytes) / Math.max(1, live.length),
        bytesDelivered: bytes,
        deliveredRatio: bytes / expected,
        framesPerPlayerPerSecond: frames / Math.max(1, live.length) / seconds,
      });
      const r = results[results.length - 1]!;
      console.error(
        `  ${kind} ${target} players: cpu ${r.cpuSecondsPer1000PlayerMinutes.toFixed(2)} s/1000 player-min, ` +
          `rss +${(r.rssPerPlayerBytes / 1024).toFixed(1)} KB/player, delivered ${(r.deliveredRatio * 100).toFixed(1)}%`,
      );
    }
  } finally {
    for (const p of players) p.close();
    await publisher?.stop();
    await sleep(200);
    await server.stop();
  }
  return results;
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(
      readFileSync(new URL(import.meta.url), 'utf8')
        .split('*/')[0]!
        .replace(/^\/\*\*\n?/, '')
        .replace(/^ \* ?/gm, ''),
    );
    return;
  }
  const steps = (argValue('steps') ?? '500,1000,2000').split(',').map(Number);
  const holdSeconds = Number(argValue('hold') ?? 10);
  const rounds = Number(argValue('rounds') ?? 1);
  const wanted = (
    argValue('servers') ?? ['builtin', 'floor', ...SERVER_KINDS.filter((k) => k !== 'builtin')].join(',')
  ).split(',') as BenchKind[];
  const builtinSpecs = (argValue('builtin') ?? 'default=').split(';').filter((x) => x.trim() !== '');
  const variants: Variant[] = [];
  for (const k of wanted) {
    const a = k === 'floor' ? { available: true, hint: '' } : serverAvailability(k);
    if (!a.available) {
      console.error(`skipping ${k}: not installed (${a.hint})`);
      continue;
    }
    if (k !== 'builtin') {
      variants.push({ label: k, kind: k, builtinArgs: [] });
      continue;
    }
    for (const spec of builtinSpecs) {
      const [name, flags = ''] = spec.split('=');
      variants.push({
        label: builtinSpecs.length === 1 ? 'builtin' : `builtin:${name!.trim()}`,
        kind: 'builtin',
        builtinArgs: flags.split(' ').filter(Boolean),
      });
    }
  }
  const servers = variants.map((v) => v.label);
  const all: StepResult[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
    for (const v of order) {
      console.error(`round ${round + 1}/${rounds}: ${v.label} ${v.builtinArgs.join(' ')}`);
      all.push(...(await runServer(v, round, steps, holdSeconds)));
    }
  }

  // Per server and step: medians over rounds, and the built-in server's CPU over each other
  // server's, paired by round (geometric mean, 95% interval from two rounds on).
  const builtinLabel = servers.find((l) => l.startsWith('builtin'));
  const rows: Record<string, string | number>[] = [];
  const summary: Record<
    string,
    Record<
      number,
      {
        cpu: number;
        systemShare: number;
        rssPerPlayer: number;
        delivered: number;
        builtinOver?: { estimate: number; low: number; high: number; n: number };
      }
    >
  > = {};
  const perRound = (kind: string, step: number) =>
    Array.from(
      { length: rounds },
      (_, round) =>
        all.find((r) => r.server === kind && r.players === step && r.round === round)?.cpuSecondsPer1000PlayerMinutes ??
        NaN,
    );
  for (const kind of servers) {
    summary[kind] = {};
    for (const step of steps) {
      const rs = all.filter((r) => r.server === kind && r.players === step);
      if (rs.length === 0) continue;
      const ratio =
        builtinLabel !== undefined && kind !== builtinLabel
          ? pairedRatio(perRound(builtinLabel, step), perRound(kind, step))
          : null;
      summary[kind]![step] = {
        cpu: median(rs.map((r) => r.cpuSecondsPer1000PlayerMinutes)),
        systemShare: median(rs.map((r) => r.serverSystemSeconds / r.serverCpuSeconds)),
        rssPerPlayer: median(rs.map((r) => r.rssPerPlayerBytes)),
        delivered: median(rs.map((r) => r.deliveredRatio)),
        ...(ratio !== null ? { builtinOver: ratio } : {}),
      };
    }
  }
  const fmtRatio = (r: { estimate: number; low: number; high: number } | undefined) =>
    r === undefined
      ? '-'
      : Number.isNaN(r.low)
        ? r.estimate.toFixed(2)
        : `${r.estimate.toFixed(2)} [${r.low.toFixed(2)}-${r.high.toFixed(2)}]`;
  for (const step of steps) {
    for (const kind of servers) {
      const s = summary[kind]?.[step];
      if (!s) continue;
      rows.push({
        players: step,
        server: kind,
        'CPU s / 1000 player-min': s.cpu.toFixed(2),
        'in kernel': `${(s.systemShare * 100).toFixed(0)}%`,
        [`${builtinLabel ?? 'builtin'} / this`]: fmtRatio(s.builtinOver),
        'RSS KB / player': (s.rssPerPlayer / 1024).toFixed(1),
        delivered: `${(s.delivered * 100).toFixed(1)}%`,
      });
    }
  }
  const env = environment();
  const path = writeResult(
    'server-fanout',
    {
      bench: 'server-fanout',
      env,
      steps,
      holdSeconds,
      rounds,
      videoBps: VIDEO_BPS,
      audioBps: AUDIO_BPS,
      results: all,
      summary,
    },
    argValue('out'),
  );
  console.log(
    `server fan-out: 1 publisher at ${VIDEO_BPS / 1000}+${AUDIO_BPS / 1000} kbps, players on loopback, ${env.cpuModel}, Node ${env.node}\n`,
  );
  console.log(formatTable(rows));
  console.log(`\nwritten to ${path}`);
}

await main();
