/**
 * The simulated viewers checked against real players: the scenario bench/browser-agreement.yaml (10
 * simulated HLS and 10 simulated HTTP-FLV viewers beside 2 hls.js and 2 mpegts.js viewers in
 * headless Chromium, on one stream of a real clip) against the built-in server and nginx-rtmp
 * (HLS only: it serves no HTTP-FLV), then the agreement table of docs/browser-viewers.md: each
 * simulated figure beside the real players' on the same stream at the same time, mean over the
 * rounds with their range.
 *
 *   npm run bench:browsers [-- --source clip.flv] [--rounds 2] [--out DIR] [--from results/…-compare-browser-agreement]
 *
 * Without --source it makes a clip with ffmpeg (60 s, 640x360 at 30 fps, a keyframe a second,
 * 1 Mbit/s H.264 and AAC). --from reads a comparison already made instead of running one; a
 * comparison of bench/browser-llhls.yaml (hls.js in lowLatencyMode beside simulated viewers that
 * speak LL-HLS) gives the LL-HLS rows instead of the HLS ones.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandVariants, runComparison } from '../src/lab/compare.js';
import { scenarioFromInput } from '../src/load/scenario-input.js';
import { loadComparison } from '../src/results/folder.js';
import type { RunSummary } from '../src/results/summary.js';
import { argValue, environment, writeResult } from './lib/env.js';
import { run } from './lib/proc.js';

/** The scenario (beside this file's source: it needs a clip, so it is not among the shipped ones). */
const SCENARIO = join(dirname(fileURLToPath(import.meta.url)), '../../bench/browser-agreement.yaml');

interface Pair {
  server: string;
  delivery: string;
  figure: string;
  simulated: (s: RunSummary) => number | null;
  browser: (s: RunSummary) => number | null;
}

const group = (s: RunSummary, name: string, m: 'playout' | 'firstFrame' | 'endToEnd', p: 'p50' | 'p99') => {
  const l = s.byGroup?.[name]?.latencyMs[m];
  return l !== undefined && l.count > 0 ? l[p] : null;
};
const browser = (s: RunSummary, key: string) => {
  const b = s.browser?.[key];
  return b !== undefined && b.viewersPlaying > 0 ? b : null;
};

/**
 * Whether the run's simulated HLS viewers spoke LL-HLS: a run with hls.js in lowLatencyMode beside
 * them (bench/browser-llhls.yaml) serves parts, and its simulated viewers are compared with that.
 */
const lowLatency = (s: RunSummary) => s.browser?.llHls !== undefined;

/** The simulated HLS viewers' figure, when they played what hls.js in this mode played. */
const simHls = (s: RunSummary, ll: boolean, m: 'playout' | 'firstFrame', p: 'p50' | 'p99') =>
  lowLatency(s) === ll ? group(s, 'simHls', m, p) : null;

/** The figures compared: the simulation's against the real player's, per delivery. */
function pairs(server: string): Pair[] {
  const ll: Pair[] = [
    {
      server,
      delivery: 'LL-HLS',
      figure: 'latency at playout p50 (ms)',
      simulated: (s) => simHls(s, true, 'playout', 'p50'),
      browser: (s) => browser(s, 'llHls')?.latencyP50Ms ?? null,
    },
    {
      server,
      delivery: 'LL-HLS',
      figure: 'latency at playout p99 (ms)',
      simulated: (s) => simHls(s, true, 'playout', 'p99'),
      browser: (s) => browser(s, 'llHls')?.latencyP99Ms ?? null,
    },
    {
      server,
      delivery: 'LL-HLS',
      figure: 'first frame p50 (ms)',
      simulated: (s) => simHls(s, true, 'firstFrame', 'p50'),
      browser: (s) => browser(s, 'llHls')?.firstFrameP50Ms ?? null,
    },
    {
      server,
      delivery: 'LL-HLS',
      figure: "hls.js's own latency estimate p50 (ms)",
      simulated: () => null,
      browser: (s) => browser(s, 'llHls')?.playerEstimateP50Ms ?? null,
    },
    {
      server,
      delivery: 'LL-HLS',
      figure: 'media time shown per second of the clock',
      simulated: () => null,
      browser: (s) => browser(s, 'llHls')?.mediaRate ?? null,
    },
  ];
  const hls: Pair[] = [
    {
      server,
      delivery: 'HLS',
      figure: 'latency at playout p50 (ms)',
      simulated: (s) => simHls(s, false, 'playout', 'p50'),
      browser: (s) => browser(s, 'hls')?.latencyP50Ms ?? null,
    },
    {
      server,
      delivery: 'HLS',
      figure: 'latency at playout p99 (ms)',
      simulated: (s) => simHls(s, false, 'playout', 'p99'),
      browser: (s) => browser(s, 'hls')?.latencyP99Ms ?? null,
    },
    {
      server,
      delivery: 'HLS',
      figure: 'first frame p50 (ms)',
      simulated: (s) => simHls(s, false, 'firstFrame', 'p50'),
      browser: (s) => browser(s, 'hls')?.firstFrameP50Ms ?? null,
    },
    {
      server,
      delivery: 'HLS',
      figure: "hls.js's own latency estimate p50 (ms)",
      simulated: () => null,
      browser: (s) => browser(s, 'hls')?.playerEstimateP50Ms ?? null,
    },
    {
      server,
      delivery: 'HLS',
      figure: 'player buffer p50: mark parsed to frame shown (ms)',
      simulated: () => null,
      browser: (s) => browser(s, 'hls')?.bufferP50Ms ?? null,
    },
  ];
  const flv: Pair[] = [
    {
      server,
      delivery: 'HTTP-FLV',
      figure: 'latency at playout p50 (ms)',
      simulated: (s) => group(s, 'simHttpFlv', 'playout', 'p50'),
      browser: (s) => browser(s, 'httpFlv')?.latencyP50Ms ?? null,
    },
    {
      server,
      delivery: 'HTTP-FLV',
      figure: 'latency at playout p99 (ms)',
      simulated: (s) => group(s, 'simHttpFlv', 'playout', 'p99'),
      browser: (s) => browser(s, 'httpFlv')?.latencyP99Ms ?? null,
    },
    {
      server,
      delivery: 'HTTP-FLV',
      figure: 'latency at arrival p50 (ms)',
      simulated: (s) => group(s, 'simHttpFlv', 'endToEnd', 'p50'),
      browser: () => null,
    },
    {
      server,
      delivery: 'HTTP-FLV',
      figure: 'first frame p50 (ms)',
      simulated: (s) => group(s, 'simHttpFlv', 'firstFrame', 'p50'),
      browser: (s) => browser(s, 'httpFlv')?.firstFrameP50Ms ?? null,
    },
    {
      server,
      delivery: 'HTTP-FLV',
      figure: 'first frame held before the clock ran p50 (ms)',
      simulated: () => null,
      browser: (s) => browser(s, 'httpFlv')?.startHoldP50Ms ?? null,
    },
    {
      server,
      delivery: 'HTTP-FLV',
      figure: 'player buffer p50: mark parsed to frame shown (ms)',
      simulated: () => null,
      browser: (s) => browser(s, 'httpFlv')?.bufferP50Ms ?? null,
    },
  ];
  return [...hls, ...ll, ...flv];
}

function stats(values: (number | null)[]): { mean: number; min: number; max: number } | null {
  const v = values.filter((x): x is number => x !== null);
  if (v.length === 0) return null;
  return { mean: v.reduce((a, b) => a + b, 0) / v.length, min: Math.min(...v), max: Math.max(...v) };
}

const cell = (s: { mean: number; min: number; max: number } | null) =>
  s === null ? '-' : s.min === s.max ? fmt(s.mean) : `${fmt(s.mean)} (${fmt(s.min)}–${fmt(s.max)})`;
/** Milliseconds whole; a rate (about 1) to four places. */
const fmt = (v: number) => (Math.abs(v) < 2 && !Number.isInteger(v) ? v.toFixed(4) : v.toFixed(0));

async function makeClip(): Promise<string> {
  const path = join(tmpdir(), 'rtmpbench-agreement-clip.flv');
  if (existsSync(path)) return path;
  const r = await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30'],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', '60'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '1000k', '-g', '30', '-keyint_min', '30'],
    ...['-sc_threshold', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', '-y', path],
  ]);
  if (r.code !== 0) throw new Error(`ffmpeg could not make the clip: ${r.stderr}`);
  return path;
}

async function comparisonDir(): Promise<string> {
  const from = argValue('from');
  if (from !== undefined) return from;
  const source = argValue('source') ?? (await makeClip());
  const { scenario, problems } = scenarioFromInput(SCENARIO, { source });
  if (scenario === null) throw new Error(problems.join('\n'));
  const outcome = await runComparison({
    scenario,
    variants: expandVariants(scenario.compare!),
    repeat: Number(argValue('rounds') ?? 2),
    baseline: 'builtin',
    ...(argValue('out') !== undefined ? { outDir: argValue('out')! } : {}),
    onRun: (done, total, r) => process.stderr.write(`[${done}/${total}] ${r.variant} round ${r.round + 1}\n`),
  });
  return outcome.dir;
}

const dir = await comparisonDir();
const c = loadComparison(dir);
const rows: Record<string, string>[] = [];
for (const [server, runs] of c.runs) {
  const summaries = runs.map((r) => r.run.summary);
  for (const p of pairs(server)) {
    const sim = stats(summaries.map(p.simulated));
    const real = stats(summaries.map(p.browser));
    if (sim === null && real === null) continue;
    const diff = stats(
      summaries.map((s) => {
        const a = p.simulated(s);
        const b = p.browser(s);
        return a === null || b === null ? null : b - a;
      }),
    );
    rows.push({
      server,
      delivery: p.delivery,
      figure: p.figure,
      simulated: cell(sim),
      'real player': cell(real),
      'real − simulated': cell(diff),
    });
  }
}
const cols = Object.keys(rows[0] ?? {});
const md = [
  `| ${cols.join(' | ')} |`,
  `|${cols.map(() => '---').join('|')}|`,
  ...rows.map((r) => `| ${cols.map((k) => r[k]).join(' | ')} |`),
].join('\n');
process.stdout.write(`${md}\n\n${c.file.repeat} round(s); comparison: ${dir}\n`);
writeResult('browser-agreement', { environment: environment(), comparison: dir, rows });
