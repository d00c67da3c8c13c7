import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, relative } from 'node:path';
import { parseRtmpUrl } from '../client/url.js';
import { UsageError } from '../protocol/errors.js';
import { VERSION } from '../version.js';
import { trackChild } from './children.js';
import { RunError, runScenario } from './orchestrator.js';
import type { Scenario } from './scenario.js';
import { serverAvailability, startServer, type RunningServer, type ServerKind } from './servers.js';
import { failedThresholds, type RunSummary } from './summary.js';

/**
 * Comparisons: one scenario run against several variants (servers, and built-in server
 * settings from a matrix), interleaved and repeated so that drift on a noisy machine falls on
 * every variant alike. Each run keeps its own results folder; `compare.json` ties them together
 * and the report (src/report/comparison.ts) computes every figure from those files.
 */

export type ServerSpec = NonNullable<Scenario['compare']>['servers'][number];

export interface Variant {
  /** Unique name: the matrix settings ("chunkSize=128,gopCache=true"), or the server's name. */
  name: string;
  server: string;
  /** Built-in server settings of this variant (over the scenario's own). */
  settings: Record<string, string | number | boolean>;
}

export interface ComparisonRun {
  variant: string;
  /** Round of the interleaved schedule (0-based); runs of one round are paired for ratios. */
  round: number;
  /** Results folder, relative to the comparison's folder. */
  dir: string | null;
  /** Why the run did not complete (no results then). */
  error?: string;
  thresholdsPassed?: boolean;
}

/** compare.json: what ran, in which order, and where each run's results are. */
export interface ComparisonFile {
  schemaVersion: 1;
  kind: 'comparison';
  tool: { name: 'rtmpbench'; version: string };
  name: string;
  startedAt: string;
  scenario: Scenario;
  repeat: number;
  baseline: string;
  variants: Variant[];
  runs: ComparisonRun[];
}

export const COMPARISON_FILE = 'compare.json';

function cartesian(matrix: Record<string, (string | number | boolean)[]>): Record<string, string | number | boolean>[] {
  let out: Record<string, string | number | boolean>[] = [{}];
  for (const [key, values] of Object.entries(matrix)) out = out.flatMap((o) => values.map((v) => ({ ...o, [key]: v })));
  return out;
}

const serverName = (s: ServerSpec) => (typeof s === 'string' ? s : s.name);

/** The variants of a comparison: every built-in matrix combination, and each other server once. */
export function expandVariants(spec: NonNullable<Scenario['compare']>): Variant[] {
  const combos = cartesian(spec.matrix);
  const hasMatrix = Object.keys(spec.matrix).length > 0;
  const several = spec.servers.length > 1;
  const out: Variant[] = [];
  for (const s of spec.servers) {
    const name = serverName(s);
    if (name === 'builtin' && hasMatrix) {
      for (const c of combos) {
        const label = Object.entries(c)
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
        out.push({ name: several ? `builtin:${label}` : label, server: 'builtin', settings: c });
      }
    } else {
      out.push({ name, server: name, settings: {} });
    }
  }
  const seen = new Set<string>();
  for (const v of out) {
    if (seen.has(v.name)) throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `two variants are both named "${v.name}"`);
    seen.add(v.name);
  }
  return out;
}

/** The order of runs: round r runs every variant, forwards in even rounds and backwards in odd ones (A B C, C B A...), which also cancels linear drift. */
export function schedule(variants: readonly Variant[], repeat: number): { variant: Variant; round: number }[] {
  const out: { variant: Variant; round: number }[] = [];
  for (let round = 0; round < repeat; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) out.push({ variant, round });
  }
  return out;
}

/** Problems that make a comparison impossible, found before anything runs. */
export function checkComparison(scenario: Scenario, variants: readonly Variant[], baseline: string): string[] {
  const problems: string[] = [];
  if (!variants.some((v) => v.name === baseline)) problems.push(`the baseline "${baseline}" is not a variant (variants: ${variants.map((v) => v.name).join(', ')})`);
  for (const s of scenario.compare?.servers ?? []) {
    if (typeof s !== 'string') continue;
    if (s === 'builtin') {
      if (scenario.target !== 'builtin') problems.push(`the builtin variant needs target: builtin (the scenario targets ${scenario.target})`);
      continue;
    }
    const { available, hint } = serverAvailability(s as ServerKind);
    if (!available) problems.push(`${s} is not installed here (${hint})`);
  }
  if (variants.length < 2) problems.push('a comparison needs at least two variants (compare.servers and/or compare.matrix)');
  return problems;
}

/** A server a user names by URL, started by a shell command (and stopped by its PID), or already running. */
async function startCustom(spec: { name: string; url: string; start?: string }): Promise<{ url: string; pid?: number; stop: () => Promise<void> }> {
  if (spec.start === undefined) return { url: spec.url, stop: async () => {} };
  const { host, port } = parseRtmpUrl(spec.url);
  // Its own process group, so the shell and whatever it started are stopped together.
  const child: ChildProcess = spawn('/bin/sh', ['-c', spec.start], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const untrack = trackChild(() => process.kill(-child.pid!, 'SIGTERM'));
  void exited.then(untrack);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 3000);
      await exited;
      clearTimeout(t);
    }
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new RunError(`${spec.name}: "${spec.start}" exited with code ${child.exitCode}: ${err.trim()}`);
    const up = await new Promise<boolean>((r) => {
      const s = net.connect(port, host);
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (up) break;
    if (Date.now() > deadline) {
      await stop();
      throw new RunError(`${spec.name}: nothing accepts connections on ${host}:${port} 15 s after "${spec.start}"`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: spec.url, ...(child.pid !== undefined ? { pid: child.pid } : {}), stop };
}

export interface CompareOptions {
  scenario: Scenario;
  variants: Variant[];
  repeat: number;
  baseline: string;
  /** Root of result folders (default: results). */
  outDir?: string;
  /** Called after each run. */
  onRun?: (done: number, total: number, run: ComparisonRun, summary: RunSummary | null) => void;
  /** Called when a run starts. */
  onStart?: (index: number, total: number, variant: Variant, round: number) => void;
  /** Pause between runs, so sockets of the last run are gone. */
  pauseMs?: number;
}

export interface CompareOutcome {
  file: ComparisonFile;
  dir: string;
}

/** Runs every variant `repeat` times in the interleaved order; writes compare.json as it goes. */
export async function runComparison(opts: CompareOptions): Promise<CompareOutcome> {
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
  const dir = join(opts.outDir ?? 'results', `${stamp}-compare-${opts.scenario.name}`);
  mkdirSync(dir, { recursive: true });
  const file: ComparisonFile = {
    schemaVersion: 1,
    kind: 'comparison',
    tool: { name: 'rtmpbench', version: VERSION },
    name: opts.scenario.name,
    startedAt: startedAt.toISOString(),
    scenario: opts.scenario,
    repeat: opts.repeat,
    baseline: opts.baseline,
    variants: opts.variants,
    runs: [],
  };
  const save = () => writeFileSync(join(dir, COMPARISON_FILE), `${JSON.stringify(file, null, 2)}\n`);
  save();
  const plan = schedule(opts.variants, opts.repeat);
  const specs = new Map((opts.scenario.compare?.servers ?? []).map((s) => [serverName(s), s]));
  for (const [i, { variant, round }] of plan.entries()) {
    opts.onStart?.(i, plan.length, variant, round);
    const run: ComparisonRun = { variant: variant.name, round, dir: null };
    let summary: RunSummary | null = null;
    let external: RunningServer | null = null;
    let custom: Awaited<ReturnType<typeof startCustom>> | null = null;
    try {
      let scenario: Scenario;
      if (variant.server === 'builtin') {
        scenario = { ...opts.scenario, target: 'builtin', server: { ...opts.scenario.server, ...variant.settings } };
      } else {
        const spec = specs.get(variant.server);
        if (spec !== undefined && typeof spec !== 'string') {
          custom = await startCustom(spec);
          scenario = { ...opts.scenario, target: custom.url, server: {}, ...(custom.pid !== undefined ? { serverPid: custom.pid } : {}) };
        } else {
          // A fresh server process per run: its CPU and memory are this run's alone.
          const chunkSize = typeof opts.scenario.server.chunkSize === 'number' ? opts.scenario.server.chunkSize : undefined;
          try {
            external = await startServer(variant.server as ServerKind, chunkSize !== undefined ? { chunkSize } : {});
          } catch (e) {
            throw new RunError(`${variant.server} did not start: ${(e as Error).message}`);
          }
          scenario = { ...opts.scenario, target: external.url, server: {}, serverPid: external.pid };
        }
      }
      const outcome = await runScenario({ scenario, outDir: join(dir, 'runs', variant.name.replace(/[^A-Za-z0-9._=,-]/g, '_')) });
      summary = outcome.summary;
      run.dir = relative(dir, outcome.resultsDir);
      run.thresholdsPassed = failedThresholds(summary).length === 0;
    } catch (e) {
      if (!(e instanceof RunError)) throw e;
      run.error = e.message;
    } finally {
      await external?.stop();
      await custom?.stop();
    }
    file.runs.push(run);
    save();
    opts.onRun?.(i + 1, plan.length, run, summary);
    if (i + 1 < plan.length) await new Promise((r) => setTimeout(r, opts.pauseMs ?? 1000));
  }
  return { file, dir };
}
