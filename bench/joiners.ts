/**
 * Joiners against viewers already watching: 500 players watch one 600 kbps stream; then 1500
 * more join over 5 s, each served the GOP cache (2 s GOP). Reports, per server, the end-to-end
 * latency p99 of the first 500 per second in the 5 s before the joins and during them (and the
 * worst second's ratio to the p99 before), the joiners' time to first frame, and the server's
 * CPU while they join; and the first players' p99 over the 5 s after the joins, everyone watching,
 * which tells what the joins cost apart from what a four times larger audience costs. Rounds
 * alternate the servers' order.
 *
 *   node dist/bench/joiners.js [--steady 500 --joiners 1500 --join-seconds 5 --rounds 2]
 *                              [--builtin "default=;burst0=--burst-bytes 0"] [--servers builtin,nginx-rtmp]
 *
 * The publisher runs in a process of its own (paced every 2 ms); the steady players in this
 * process, measuring; the joiners in a child process of their own, so what the joiners cost
 * their reader does not show in the steady players' latency: what is left is the server's.
 */
import { readFileSync } from 'node:fs';
import { Player } from '../src/client/player.js';
import { parseRtmpUrl, type RtmpUrl } from '../src/client/url.js';
import { ownModule } from '../src/proc/own-module.js';
import { serverAvailability, startServer, type ServerKind } from '../src/proc/servers.js';
import { launch, type ChildHandle } from '../src/proc/spawn.js';
import { argValue, environment, formatTable, writeResult } from './lib/env.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

/** Opens `count` players spread over `seconds`, 64 at a time at most. */
async function openPlayers(
  url: RtmpUrl,
  count: number,
  seconds: number,
  make: (url: RtmpUrl) => Promise<Player>,
): Promise<Player[]> {
  const out: Player[] = [];
  const start = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < count) {
        const i = next++;
        const wait = start + (seconds * 1000 * i) / count - Date.now();
        if (wait > 0) await sleep(wait);
        try {
          out.push(await make(url));
        } catch {
          // counted as not joined
        }
      }
    }),
  );
  return out;
}

/** The joiners' side (a child process): join, report first-frame times, stay until SIGTERM. */
async function joinerMain(): Promise<void> {
  const url = parseRtmpUrl(argValue('url')!);
  const players = await openPlayers(url, Number(argValue('joiners')), Number(argValue('join-seconds')), (u) =>
    Player.open({ url: u, streamName: 'bench', timeoutMs: 20_000 }),
  );
  await sleep(3000);
  const firstFrameMs = players
    .map((p) => (p.firstFrameUs > 0 ? (p.firstFrameUs - p.playSentUs) / 1000 : NaN))
    .filter((x) => !Number.isNaN(x));
  console.log(
    JSON.stringify({
      joined: players.length,
      firstFrameP50Ms: percentile(firstFrameMs, 0.5),
      firstFrameP99Ms: percentile(firstFrameMs, 0.99),
    }),
  );
  process.on('SIGTERM', () => process.exit(0));
}

interface Outcome {
  variant: string;
  round: number;
  p99BeforeMs: number;
  p99PerSecondDuringMs: number[];
  worstRatio: number;
  /** The steady players' p99 over the 5 s after the joins, everyone watching: what the larger audience costs them, joins apart. */
  p99AfterMs: number;
  joined: number;
  firstFrameP50Ms: number;
  firstFrameP99Ms: number;
  serverCpuSecondsDuringJoins: number;
}

async function runOnce(
  label: string,
  kind: ServerKind,
  builtinArgs: string[],
  round: number,
  steady: number,
  joiners: number,
  joinSeconds: number,
): Promise<Outcome> {
  const server = await startServer(kind, { builtinArgs });
  const self = ownModule(import.meta.url, './joiners.js');
  const pubScript = ownModule(import.meta.url, './lib/paced-publisher.js');
  let publisher: ChildHandle | null = null;
  let joinerProc: ChildHandle | null = null;
  const watchers: Player[] = [];
  try {
    let ready!: () => void;
    const publishing = new Promise<void>((r) => (ready = r));
    publisher = launch(
      process.execPath,
      [...pubScript.execArgv, pubScript.path, '--url', server.url, '--stream', 'bench'],
      { onOutput: (t) => t.includes('publishing') && ready() },
    );
    await publishing;
    await sleep(1000);
    const t0 = performance.now();
    const perSecond = new Map<number, number[]>();
    const url = parseRtmpUrl(server.url);
    watchers.push(
      ...(await openPlayers(url, steady, 1, (u) =>
        Player.open({
          url: u,
          streamName: 'bench',
          onVideo: (v) => {
            if (v.mark === null) return;
            const sec = Math.floor((performance.now() - t0) / 1000);
            let a = perSecond.get(sec);
            if (a === undefined) {
              a = [];
              perSecond.set(sec, a);
            }
            a.push((v.arrivalUs - Math.max(v.mark.intendedUs, v.mark.sentUs)) / 1000);
          },
        }),
      )),
    );
    await sleep(6000);
    const joinStart = Math.floor((performance.now() - t0) / 1000);
    const cpu0 = cpuSeconds(server.pid);
    let report = '';
    joinerProc = launch(
      process.execPath,
      [
        ...self.execArgv,
        self.path,
        '--joiner',
        '--url',
        server.url,
        '--joiners',
        String(joiners),
        '--join-seconds',
        String(joinSeconds),
      ],
      { onOutput: (t) => (report += t) },
    );
    while (!report.includes('firstFrameP99Ms') && joinerProc.running) await sleep(100);
    const joinEnd = Math.ceil((performance.now() - t0) / 1000) - 3; // the joiner process waits 3 s before it reports
    const cpu1 = cpuSeconds(server.pid);
    await sleep(3000); // the 5 s after the joins, with everyone watching
    const after: number[] = [];
    for (let s = joinEnd + 1; s <= joinEnd + 5; s++) after.push(...(perSecond.get(s) ?? []));
    const joined = JSON.parse(report.slice(report.indexOf('{'), report.indexOf('}') + 1)) as {
      joined: number;
      firstFrameP50Ms: number;
      firstFrameP99Ms: number;
    };
    const before: number[] = [];
    for (let s = joinStart - 5; s < joinStart; s++) before.push(...(perSecond.get(s) ?? []));
    const during: number[] = [];
    for (let s = joinStart; s <= joinEnd; s++) during.push(percentile(perSecond.get(s) ?? [], 0.99));
    const p99Before = percentile(before, 0.99);
    const out: Outcome = {
      variant: label,
      round,
      p99BeforeMs: p99Before,
      p99PerSecondDuringMs: during.map((x) => Math.round(x * 10) / 10),
      worstRatio: Math.max(...during) / p99Before,
      p99AfterMs: percentile(after, 0.99),
      joined: joined.joined,
      firstFrameP50Ms: joined.firstFrameP50Ms,
      firstFrameP99Ms: joined.firstFrameP99Ms,
      serverCpuSecondsDuringJoins: cpu1 - cpu0,
    };
    console.error(
      `  ${label}: p99 before ${p99Before.toFixed(1)} ms, during ${out.p99PerSecondDuringMs.join(' ')} ms (worst ${out.worstRatio.toFixed(2)}x), after ${out.p99AfterMs.toFixed(1)} ms, first frame p50/p99 ${joined.firstFrameP50Ms.toFixed(0)}/${joined.firstFrameP99Ms.toFixed(0)} ms, ${joined.joined} joined`,
    );
    return out;
  } finally {
    for (const p of watchers) p.close();
    await joinerProc?.stop();
    await publisher?.stop();
    await server.stop();
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--joiner')) return joinerMain();
  if (process.argv.includes('--help')) {
    console.log(
      readFileSync(new URL(import.meta.url), 'utf8')
        .split('*/')[0]!
        .replace(/^\/\*\*\n?/, '')
        .replace(/^ \* ?/gm, ''),
    );
    return;
  }
  const steady = Number(argValue('steady') ?? 500);
  const joiners = Number(argValue('joiners') ?? 1500);
  const joinSeconds = Number(argValue('join-seconds') ?? 5);
  const rounds = Number(argValue('rounds') ?? 1);
  const variants: { label: string; kind: ServerKind; args: string[] }[] = [];
  for (const k of (argValue('servers') ?? 'builtin').split(',') as ServerKind[]) {
    if (!serverAvailability(k).available) continue;
    if (k !== 'builtin') {
      variants.push({ label: k, kind: k, args: [] });
      continue;
    }
    const specs = (argValue('builtin') ?? 'default=').split(';').filter((x) => x.trim() !== '');
    for (const spec of specs) {
      const [name, flags = ''] = spec.split('=');
      variants.push({
        label: specs.length === 1 ? 'builtin' : `builtin:${name!.trim()}`,
        kind: 'builtin',
        args: flags.split(' ').filter(Boolean),
      });
    }
  }
  const all: Outcome[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      console.error(`round ${round + 1}/${rounds}: ${v.label}`);
      all.push(await runOnce(v.label, v.kind, v.args, round, steady, joiners, joinSeconds));
    }
  }
  const rows = all.map((o) => ({
    variant: o.variant,
    round: o.round + 1,
    'p99 before ms': o.p99BeforeMs.toFixed(1),
    'worst second during joins ms': Math.max(...o.p99PerSecondDuringMs).toFixed(1),
    'worst / before': o.worstRatio.toFixed(2),
    'p99 after ms (all watching)': o.p99AfterMs.toFixed(1),
    'first frame p50 / p99 ms': `${o.firstFrameP50Ms.toFixed(0)} / ${o.firstFrameP99Ms.toFixed(0)}`,
    joined: o.joined,
    'server CPU s': o.serverCpuSecondsDuringJoins.toFixed(2),
  }));
  const env = environment();
  const path = writeResult(
    'joiners',
    { bench: 'joiners', env, steady, joiners, joinSeconds, rounds, results: all },
    argValue('out'),
  );
  console.log(
    `joiners: ${steady} watching one 600 kbps stream, ${joiners} joining over ${joinSeconds} s, ${env.cpuModel}, Node ${env.node}\n`,
  );
  console.log(formatTable(rows));
  console.log(`\nwritten to ${path}`);
}

await main();
