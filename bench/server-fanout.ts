/**
 * Server macro benchmark: one 600 kbps publisher and 500 -> 1000 -> 2000 players on
 * loopback, against the built-in server, node-media-server and nginx-rtmp, each in its own
 * process. Reports per server and step: server CPU-seconds per 1000 player-minutes, peak RSS
 * above the idle process (per player), and bytes delivered against what was published.
 *
 *   npm run bench:server [-- --steps 500,1000,2000 --hold 10 --rounds 1 --servers builtin,node-media-server,nginx-rtmp]
 *                        [--builtin "default=;batched=--merge-write-ms 20 --tcp-nodelay off"]
 *
 * `--builtin` runs several settings of the built-in server as separate variants (name=flags).
 *
 * The players run in this process (a plain loop over the client's Player, reading only chunk
 * headers and tag headers); the servers' CPU and memory are read from /proc, so the players'
 * own cost is not counted. Servers run one after the other, in an order rotated per round.
 */
import { Player } from '../src/client/player.js';
import { Publisher } from '../src/client/publisher.js';
import { parseRtmpUrl } from '../src/client/url.js';
import { startServer, serverAvailability, SERVER_KINDS, type ServerKind } from '../src/proc/servers.js';
import { SyntheticSource } from '../src/media/synthetic.js';
import { monotonicUs } from '../src/media/timing-mark.js';
import { ProcessMonitor, sampleProcess } from '../src/metrics/process-stats.js';
import { argValue, environment, formatTable, writeResult } from './lib/env.js';

const VIDEO_BPS = 600_000;
const AUDIO_BPS = 64_000;

interface Variant {
  /** Label in the results: the server kind, or builtin:<name> for a built-in variant. */
  label: string;
  kind: ServerKind;
  builtinArgs: string[];
}

interface StepResult {
  server: string;
  round: number;
  players: number;
  connected: number;
  holdSeconds: number;
  serverCpuSeconds: number;
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
async function openPlayers(url: ReturnType<typeof parseRtmpUrl>, count: number, into: Player[], budgetMs = 60_000): Promise<void> {
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
  const server = await startServer(variant.kind, { builtinArgs: variant.builtinArgs });
  const results: StepResult[] = [];
  const players: Player[] = [];
  let publisher: Publisher | null = null;
  let pumpTimer: NodeJS.Timeout | null = null;
  try {
    const url = parseRtmpUrl(server.url);
    const source = new SyntheticSource({ videoBitrate: VIDEO_BPS, audioBitrate: AUDIO_BPS, fps: 30, gopSeconds: 2 });
    publisher = await Publisher.open({ url, streamName: 'bench', source });
    publisher.start();
    const pub = publisher;
    pumpTimer = setInterval(() => pub.pump(monotonicUs()), 5);
    await sleep(2000);
    const idleRssBytes = sampleProcess(server.pid)?.rssBytes ?? 0;
    for (const target of steps) {
      await openPlayers(url, target - players.length, players);
      await sleep(2000); // settle: joins done, GOP caches delivered
      const bytes0 = players.reduce((s, p) => s + p.counters.mediaBytes, 0);
      const frames0 = players.reduce((s, p) => s + p.counters.videoFrames, 0);
      const monitor = new ProcessMonitor(server.pid, 200);
      const t0 = performance.now();
      monitor.start();
      await sleep(holdSeconds * 1000);
      const usage = monitor.stop();
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
    if (pumpTimer !== null) clearInterval(pumpTimer);
    for (const p of players) p.close();
    publisher?.conn.close();
    await sleep(200);
    await server.stop();
  }
  return results;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const steps = (argValue('steps') ?? '500,1000,2000').split(',').map(Number);
  const holdSeconds = Number(argValue('hold') ?? 10);
  const rounds = Number(argValue('rounds') ?? 1);
  const wanted = (argValue('servers') ?? SERVER_KINDS.join(',')).split(',') as ServerKind[];
  const builtinSpecs = (argValue('builtin') ?? 'default=').split(';').filter((x) => x.trim() !== '');
  const variants: Variant[] = [];
  for (const k of wanted) {
    const a = serverAvailability(k);
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
      variants.push({ label: builtinSpecs.length === 1 ? 'builtin' : `builtin:${name!.trim()}`, kind: 'builtin', builtinArgs: flags.split(' ').filter(Boolean) });
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

  // Per server and step: medians over rounds, and ratios to the built-in server.
  const rows: Record<string, string | number>[] = [];
  const summary: Record<string, Record<number, { cpu: number; rssPerPlayer: number; delivered: number }>> = {};
  for (const kind of servers) {
    summary[kind] = {};
    for (const step of steps) {
      const rs = all.filter((r) => r.server === kind && r.players === step);
      if (rs.length === 0) continue;
      const cpu = median(rs.map((r) => r.cpuSecondsPer1000PlayerMinutes));
      const rss = median(rs.map((r) => r.rssPerPlayerBytes));
      const delivered = median(rs.map((r) => r.deliveredRatio));
      summary[kind]![step] = { cpu, rssPerPlayer: rss, delivered };
    }
  }
  for (const step of steps) {
    const base = summary[servers.find((l) => l.startsWith('builtin')) ?? '']?.[step];
    for (const kind of servers) {
      const s = summary[kind]?.[step];
      if (!s) continue;
      rows.push({
        players: step,
        server: kind,
        'CPU s / 1000 player-min': s.cpu.toFixed(2),
        [`x ${servers.find((l) => l.startsWith('builtin')) ?? 'builtin'}`]: base ? (s.cpu / base.cpu).toFixed(2) : '-',
        'RSS KB / player': (s.rssPerPlayer / 1024).toFixed(1),
        delivered: `${(s.delivered * 100).toFixed(1)}%`,
      });
    }
  }
  const env = environment();
  const path = writeResult('server-fanout', { bench: 'server-fanout', env, steps, holdSeconds, rounds, videoBps: VIDEO_BPS, audioBps: AUDIO_BPS, results: all, summary }, argValue('out'));
  console.log(`server fan-out: 1 publisher at ${VIDEO_BPS / 1000}+${AUDIO_BPS / 1000} kbps, players on loopback, ${env.cpuModel}, Node ${env.node}\n`);
  console.log(formatTable(rows));
  console.log(`\nwritten to ${path}`);
}

await main();
