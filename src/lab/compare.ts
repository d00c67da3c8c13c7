import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseRtmpUrl } from '../client/url.js';
import { UsageError } from '../input/usage-error.js';
import { RunError } from '../load/errors.js';
import { runScenario } from '../load/orchestrator.js';
import { needsHttp, withServerUrls } from '../load/play-urls.js';
import { perfProblems, syscallCountProblems } from '../proc/perf.js';
import {
  serverAvailability,
  startCommand,
  startServer,
  ServerStartError,
  type RunningServer,
  type ServerKind,
} from '../proc/servers.js';
import type { ComparisonFile, ComparisonRun, Variant } from '../results/comparison-file.js';
import { loadComparison, resultsFolderName, writeComparisonFile } from '../results/folder.js';
import { parseGateRules } from '../results/gates.js';
import type { Scenario, ServerSpec } from '../results/scenario.js';
import { failedThresholds, type RunSummary } from '../results/summary.js';
import { VERSION } from '../version.js';
import { evaluateGates } from './gate.js';
import type { SavedBaseline } from './saved-baseline.js';

export type { ComparisonFile, ComparisonRun, Variant } from '../results/comparison-file.js';

/**
 * Comparisons: one scenario run against several variants (servers, and built-in server
 * settings from a matrix), interleaved and repeated so that drift on a noisy machine falls on
 * every variant alike. Each run keeps its own results folder; `compare.json` ties them together
 * and the report (src/report/comparison.ts) computes every figure from those files.
 */

function cartesian(matrix: Record<string, (string | number | boolean)[]>): Record<string, string | number | boolean>[] {
  let out: Record<string, string | number | boolean>[] = [{}];
  for (const [key, values] of Object.entries(matrix)) out = out.flatMap((o) => values.map((v) => ({ ...o, [key]: v })));
  return out;
}

const serverName = (s: ServerSpec) => (typeof s === 'string' ? s : s.name);

/**
 * The variants of a comparison: every built-in matrix combination (or the built-in defaults),
 * each named settings set, and each other server once.
 */
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
      for (const v of spec.variants ?? []) out.push({ name: v.name, server: 'builtin', settings: v.settings });
    } else if (name === 'builtin') {
      out.push({ name, server: name, settings: {} });
      for (const v of spec.variants ?? []) out.push({ name: v.name, server: 'builtin', settings: v.settings });
    } else {
      out.push({ name, server: name, settings: {} });
    }
  }
  const seen = new Set<string>();
  for (const v of out) {
    if (seen.has(v.name)) throw new UsageError(`two variants are both named "${v.name}"`);
    seen.add(v.name);
  }
  return out;
}

/**
 * The order of runs: round r runs every variant, forwards in even rounds and backwards in odd
 * ones (A B C, C B A...), which also cancels linear drift.
 */
export function schedule(variants: readonly Variant[], repeat: number): { variant: Variant; round: number }[] {
  const out: { variant: Variant; round: number }[] = [];
  for (let round = 0; round < repeat; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) out.push({ variant, round });
  }
  return out;
}

/** Problems that make a comparison impossible, found before anything runs. */
export function checkComparison(
  scenario: Scenario,
  variants: readonly Variant[],
  baseline: string,
  opts: { profileServer?: boolean; serverSyscalls?: boolean } = {},
): string[] {
  const problems: string[] = [];
  const perf: [string, boolean | undefined, (pids: readonly number[]) => string[]][] = [
    ['--profile-server', opts.profileServer, perfProblems],
    ['--server-syscalls', opts.serverSyscalls, syscallCountProblems],
  ];
  for (const [flag, on, find] of perf) {
    if (on !== true) continue;
    problems.push(...find([]).map((p) => `${flag}: ${p}`));
    for (const s of scenario.compare?.servers ?? [])
      if (typeof s !== 'string' && s.start === undefined)
        problems.push(
          `${flag}: ${s.name} is not started by rtmpbench, so its process is not known; give it a start command`,
        );
  }
  if (!variants.some((v) => v.name === baseline))
    problems.push(`the baseline "${baseline}" is not a variant (variants: ${variants.map((v) => v.name).join(', ')})`);
  for (const s of scenario.compare?.servers ?? []) {
    if (typeof s !== 'string') continue;
    if (s === 'builtin') {
      if (scenario.target !== 'builtin')
        problems.push(`the builtin variant needs target: builtin (the scenario targets ${scenario.target})`);
      continue;
    }
    const { available, hint } = serverAvailability(s as ServerKind);
    if (!available) problems.push(`${s} is not installed here (${hint})`);
  }
  if (variants.length === 0) problems.push('a comparison needs a variant (compare.servers and/or compare.matrix)');
  return problems;
}

/** Starts the server a variant runs against, in its own process; null for the built-in one (the run starts it). */
async function startVariantServer(
  variant: Variant,
  specs: Map<string, ServerSpec>,
  scenario: Scenario,
  profileServer: boolean,
): Promise<RunningServer | null> {
  if (variant.server === 'builtin') return null;
  const spec = specs.get(variant.server);
  try {
    if (spec !== undefined && typeof spec !== 'string') {
      if (spec.start === undefined) return null;
      const { host, port } = parseRtmpUrl(spec.url);
      return await startCommand(
        { name: spec.name, url: spec.url, start: spec.start },
        host,
        port,
        15_000,
        scenario.serverCpuQuota,
      );
    }
    // A fresh server process per run: its CPU and memory are this run's alone.
    const chunkSize = typeof scenario.server.chunkSize === 'number' ? scenario.server.chunkSize : undefined;
    // With HTTP viewers, the server's HTTP outputs too (nginx-rtmp: HLS; node-media-server: HTTP-FLV and WS-FLV).
    return await startServer(variant.server as ServerKind, {
      ...(chunkSize !== undefined ? { chunkSize } : {}),
      ...(needsHttp(scenario) ? { http: true } : {}),
      ...(scenario.serverCpuQuota !== undefined ? { cpuQuota: scenario.serverCpuQuota } : {}),
      ...(profileServer ? { perfBasicProf: true } : {}),
    });
  } catch (e) {
    if (e instanceof ServerStartError) throw new RunError(`${variant.server} did not start: ${e.message}`);
    throw e;
  }
}

/** The scenario of one variant's run. */
function variantScenario(
  base: Scenario,
  variant: Variant,
  specs: Map<string, ServerSpec>,
  server: RunningServer | null,
): Scenario {
  if (variant.server === 'builtin')
    return { ...base, target: 'builtin', server: { ...base.server, ...variant.settings } };
  const spec = specs.get(variant.server);
  const url = server?.url ?? (spec !== undefined && typeof spec !== 'string' ? spec.url : base.target);
  const { serverPid: _ignored, ...rest } = base;
  // HTTP viewers play where this server serves them (its own URLs, or those its entry names).
  const urls = {
    ...(server?.playUrls ?? {}),
    ...(spec !== undefined && typeof spec !== 'string' ? (spec.playUrls ?? {}) : {}),
  };
  return withServerUrls(
    { ...rest, target: url, server: {}, ...(server !== null ? { serverPid: server.pid } : {}) },
    urls,
  ).scenario;
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
  /**
   * Gate rules (`METRIC +N%`, `METRIC +N UNIT`), judged for each variant against the baseline once
   * every run is done.
   */
  gates?: readonly string[];
  /**
   * The baseline's runs, read from results saved earlier instead of run here (the baseline variant is
   * then not run).
   */
  against?: SavedBaseline;
  /** Sample each run's server with Linux perf (see RunOptions.profileServer). */
  profileServer?: boolean;
  /** Count each run's server's system calls by kind (see RunOptions.serverSyscalls). */
  serverSyscalls?: boolean;
}

export interface CompareOutcome {
  file: ComparisonFile;
  dir: string;
}

/** Runs every variant `repeat` times in the interleaved order; writes compare.json as it goes. */
export async function runComparison(opts: CompareOptions): Promise<CompareOutcome> {
  const startedAt = new Date();
  const dir = join(opts.outDir ?? 'results', resultsFolderName(startedAt, `compare-${opts.scenario.name}`));
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
    ...(opts.against !== undefined ? { against: { dir: opts.against.dir, startedAt: opts.against.startedAt } } : {}),
  };
  // A saved baseline's runs take the rounds in order; its variant is not run here.
  if (opts.against !== undefined) {
    for (const [round, runDir] of opts.against.runs.slice(0, opts.repeat).entries())
      file.runs.push({ variant: opts.baseline, round, dir: relative(dir, runDir) });
  }
  writeComparisonFile(dir, file);
  const plan = schedule(
    opts.variants.filter((v) => opts.against === undefined || v.name !== opts.baseline),
    opts.repeat,
  );
  const specs = new Map((opts.scenario.compare?.servers ?? []).map((s) => [serverName(s), s]));
  for (const [i, { variant, round }] of plan.entries()) {
    opts.onStart?.(i, plan.length, variant, round);
    const run: ComparisonRun = { variant: variant.name, round, dir: null };
    let summary: RunSummary | null = null;
    let server: RunningServer | null = null;
    try {
      server = await startVariantServer(variant, specs, opts.scenario, opts.profileServer === true);
      const scenario = variantScenario(opts.scenario, variant, specs, server);
      const outcome = await runScenario({
        scenario,
        outDir: join(dir, 'runs', variant.name.replace(/[^A-Za-z0-9._=,-]/g, '_')),
        ...(server?.pgid !== undefined ? { serverGroup: server.pgid } : {}),
        ...(opts.profileServer === true ? { profileServer: true } : {}),
        ...(opts.serverSyscalls === true ? { serverSyscalls: true } : {}),
      });
      summary = outcome.summary;
      run.dir = relative(dir, outcome.resultsDir);
      run.thresholdsPassed = failedThresholds(summary).length === 0;
    } catch (e) {
      if (!(e instanceof RunError)) throw e;
      run.error = e.message;
    } finally {
      await server?.stop();
    }
    file.runs.push(run);
    writeComparisonFile(dir, file);
    opts.onRun?.(i + 1, plan.length, run, summary);
    if (i + 1 < plan.length) await new Promise((r) => setTimeout(r, opts.pauseMs ?? 1000));
  }
  if (opts.gates !== undefined && opts.gates.length > 0) {
    file.gateRules = [...opts.gates];
    file.gates = evaluateGates(parseGateRules(opts.gates), loadComparison(dir));
    writeComparisonFile(dir, file);
  }
  return { file, dir };
}
