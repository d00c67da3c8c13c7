import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mean, welchTest } from '../../src/metrics/stats.js';
import { UsageError } from '../../src/input/usage-error.js';
import { PACKAGE_ROOT } from '../../src/version.js';
import { trackChild } from '../../src/proc/children.js';
import { RunError } from '../../src/load/errors.js';

/**
 * Performance regression checks in the manner of Node core's benchmark compare: the figures
 * of `bench/figures.ts` (one JSON per run) from the current tree and from a baseline (a git
 * ref, built in a worktree, or a saved file of runs), each run in a fresh process, the two
 * interleaved and repeated; per figure a Welch t-test, and a verdict only when the change is
 * both significant and larger than a threshold.
 */

/** One figure as `bench/figures.ts` reports it. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  better: 'lower' | 'higher';
  machineIndependent: boolean;
  description: string;
}

export interface FiguresRun {
  schemaVersion: 1;
  kind: 'rtmpbench-figures';
  env: { node: string; cpuModel: string; cpus: number; commit: string; dirty: boolean; date: string };
  quick: boolean;
  /** Which figures ran: micro (codec, seconds), macro (scenarios against the server), or all. */
  suite?: 'micro' | 'macro' | 'all';
  figures: Figure[];
}

/** Several runs of one tree: what `regress --record` saves and `--baseline FILE` reads. */
export interface FigureSamples {
  schemaVersion: 1;
  kind: 'rtmpbench-figure-samples';
  label: string;
  quick: boolean;
  suite?: Suite;
  runs: FiguresRun[];
}

export type Verdict =
  | 'regression'
  | 'improvement'
  | 'within threshold'
  | 'no significant change'
  | 'too few runs'
  | 'missing';

export interface FigureComparison {
  name: string;
  unit: string;
  better: 'lower' | 'higher';
  machineIndependent: boolean;
  baseline: number[];
  current: number[];
  baselineMean: number | null;
  currentMean: number | null;
  /** Change of the mean, % of the baseline (null when the baseline is 0 or missing). */
  changePercent: number | null;
  /** Confidence interval of the change, % of the baseline. */
  changeLow: number | null;
  changeHigh: number | null;
  p: number | null;
  verdict: Verdict;
  /** Counts toward the exit code (the gate). */
  gated: boolean;
}

/**
 * Fails the gate: a significant regression of a gated figure, or a gated machine-independent
 * figure the baseline has and the current tree no longer reports (it could hide a regression;
 * record a new baseline when a figure is removed on purpose).
 */
export function failsGate(r: FigureComparison): boolean {
  if (!r.gated) return false;
  return (
    r.verdict === 'regression' ||
    (r.verdict === 'missing' && r.machineIndependent && r.baseline.length > 0 && r.current.length === 0)
  );
}

export interface RegressOptions {
  confidence: number;
  /** Smallest change (%) that gets a verdict. */
  thresholdPercent: number;
  gate: 'all' | 'machine-independent';
}

/** Compares runs figure by figure. */
export function compareFigures(
  baseline: readonly FiguresRun[],
  current: readonly FiguresRun[],
  opts: RegressOptions,
): FigureComparison[] {
  const meta = new Map<string, Figure>();
  for (const r of [...current, ...baseline]) for (const f of r.figures) if (!meta.has(f.name)) meta.set(f.name, f);
  const values = (runs: readonly FiguresRun[], name: string) =>
    runs
      .map((r) => r.figures.find((f) => f.name === name)?.value)
      .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const out: FigureComparison[] = [];
  for (const [name, f] of meta) {
    const a = values(baseline, name);
    const b = values(current, name);
    const gated = opts.gate === 'all' || f.machineIndependent;
    const base = {
      name,
      unit: f.unit,
      better: f.better,
      machineIndependent: f.machineIndependent,
      baseline: a,
      current: b,
      gated,
    };
    if (a.length === 0 || b.length === 0) {
      out.push({
        ...base,
        baselineMean: a.length ? mean(a) : null,
        currentMean: b.length ? mean(b) : null,
        changePercent: null,
        changeLow: null,
        changeHigh: null,
        p: null,
        verdict: 'missing',
      });
      continue;
    }
    // Exact figures (every run gives the same value on each side) need no test. Compared as
    // values: neither the mean nor the standard deviation of equal floats need come out exact
    // (the mean of three 0.2 is 0.20000000000000004).
    const exact = a.every((v) => v === a[0]) && b.every((v) => v === b[0]);
    const ma = exact ? a[0]! : mean(a);
    const mb = exact ? b[0]! : mean(b);
    const pct = (d: number) => (ma === 0 ? (d === 0 ? 0 : null) : (d / Math.abs(ma)) * 100);
    let p: number | null;
    let low: number | null;
    let high: number | null;
    if (exact && f.machineIndependent) {
      p = ma === mb ? 1 : 0;
      low = high = pct(mb - ma);
    } else {
      const w = welchTest(a, b, opts.confidence);
      p = w?.p ?? null;
      low = w ? pct(w.low) : null;
      high = w ? pct(w.high) : null;
    }
    const change = pct(mb - ma);
    let verdict: Verdict;
    if (p === null) verdict = 'too few runs';
    else if (p >= 1 - opts.confidence) verdict = 'no significant change';
    else {
      const worse = f.better === 'lower' ? mb > ma : mb < ma;
      const big = change === null || Math.abs(change) >= opts.thresholdPercent;
      verdict = !big ? 'within threshold' : worse ? 'regression' : 'improvement';
    }
    out.push({
      ...base,
      baselineMean: ma,
      currentMean: mb,
      changePercent: change,
      changeLow: low,
      changeHigh: high,
      p,
      verdict,
    });
  }
  return out;
}

const fmt = (v: number | null, unit = '') => {
  if (v === null || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  const s = a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
  return unit ? `${s} ${unit}` : s;
};
const signed = (v: number | null) => (v === null ? '-' : `${v > 0 ? '+' : ''}${v.toFixed(1)}%`);

/** The Markdown table (for a CI job summary). */
export function regressMarkdown(
  rows: readonly FigureComparison[],
  title: string,
  opts: RegressOptions,
  runs: { baseline: number; current: number },
): string {
  const icon: Record<Verdict, string> = {
    regression: '🔴 regression',
    improvement: '🟢 improvement',
    'within threshold': 'within threshold',
    'no significant change': 'no significant change',
    'too few runs': 'too few runs',
    missing: 'missing',
  };
  const lines = [
    `### ${title}`,
    '',
    `${runs.current} current and ${runs.baseline} baseline run(s); Welch's t-test at ${(opts.confidence * 100).toFixed(0)}% confidence; a verdict needs a significant change of at least ${opts.thresholdPercent}%. ` +
      `Gate (exit 1 on a regression): ${opts.gate === 'all' ? 'every figure' : 'figures independent of the machine (marked ●)'}.`,
    '',
    '| figure | baseline | current | change | CI | p | verdict |',
    '| :--- | ---: | ---: | ---: | ---: | ---: | :--- |',
  ];
  for (const r of rows) {
    const ci = r.changeLow === null || r.changeHigh === null ? '-' : `${signed(r.changeLow)} … ${signed(r.changeHigh)}`;
    const p = r.p === null ? '-' : r.p < 0.001 ? '<0.001' : r.p.toFixed(3);
    lines.push(
      `| ${r.machineIndependent ? '● ' : ''}${r.name} | ${fmt(r.baselineMean, r.unit)} | ${fmt(r.currentMean, r.unit)} | ${signed(r.changePercent)} | ${ci} | ${p} | ${icon[r.verdict]}${r.verdict === 'regression' && !r.gated ? ' (not gated)' : ''}${r.verdict === 'missing' && failsGate(r) ? ' (gated: no longer reported)' : ''} |`,
    );
  }
  const bad = rows.filter((r) => r.verdict === 'regression' && r.gated);
  const gone = rows.filter((r) => r.verdict === 'missing' && failsGate(r));
  lines.push(
    '',
    bad.length === 0
      ? '**No significant regression.**'
      : `**${bad.length} significant regression(s): ${bad.map((r) => r.name).join(', ')}.**`,
  );
  if (gone.length > 0)
    lines.push('', `**${gone.length} gated figure(s) no longer reported: ${gone.map((r) => r.name).join(', ')}.**`);
  lines.push('');
  return lines.join('\n');
}

export type Suite = NonNullable<FiguresRun['suite']>;

/** The suite a figure belongs to (macro figures are named macro.*). */
function suiteOf(name: string): Exclude<Suite, 'all'> {
  return name.startsWith('macro.') ? 'macro' : 'micro';
}

/** Keeps the figures of one suite (a baseline recorded with every figure, compared with a part). */
export function onlySuite(runs: readonly FiguresRun[], suite: Suite): FiguresRun[] {
  return suite === 'all'
    ? [...runs]
    : runs.map((r) => ({ ...r, figures: r.figures.filter((f) => suiteOf(f.name) === suite) }));
}

/** Runs `bench/figures` of a built tree once, in a fresh process. */
export function runFigures(
  treeRoot: string,
  quick: boolean,
  suite: Suite = 'all',
  timeoutMs = 600_000,
): Promise<FiguresRun> {
  const script = join(treeRoot, 'dist', 'bench', 'figures.js');
  if (!existsSync(script))
    throw new UsageError(`${treeRoot} has no dist/bench/figures.js (a tree older than bench/figures.ts, or not built)`);
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', script, '--json', ...(quick ? ['--quick'] : []), ...(suite !== 'all' ? ['--suite', suite] : [])],
      { cwd: treeRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const untrack = trackChild(() => child.kill('SIGTERM'));
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      untrack();
      if (code !== 0) return reject(new RunError(`figures of ${treeRoot} exited with ${code}: ${err.trim()}`));
      try {
        const last = out.trim().split('\n').pop() ?? '';
        const run = JSON.parse(last) as FiguresRun;
        if (run.kind !== 'rtmpbench-figures') throw new Error('not a figures run');
        resolve(run);
      } catch (e) {
        reject(
          new RunError(`figures of ${treeRoot} printed no result: ${(e as Error).message}: ${out.slice(-500)} ${err}`),
        );
      }
    });
  });
}

function git(args: string[], cwd = PACKAGE_ROOT): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Builds a tree with its own TypeScript (typescript is a dependency of every version). */
export function buildTree(root: string): void {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', root], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const out = (e as { stdout?: Buffer }).stdout?.toString() ?? '';
    throw new RunError(`building ${root} failed: ${out.slice(-2000)}`);
  }
}

export interface BaselineTree {
  root: string;
  commit: string;
  remove(): void;
}

/** Checks out a git ref in a temporary worktree and builds it (sharing node_modules when the lock file is the same). */
export function prepareBaselineTree(ref: string, onLog: (line: string) => void = () => {}): BaselineTree {
  let commit: string;
  try {
    commit = git(['rev-parse', '--verify', `${ref}^{commit}`]);
  } catch {
    throw new UsageError(`--baseline: "${ref}" is neither a saved figures file nor a git ref of this repository`);
  }
  const root = mkdtempSync(join(tmpdir(), `rtmpbench-baseline-${commit.slice(0, 10)}-`));
  rmSync(root, { recursive: true, force: true });
  let untrack = () => {};
  const remove = () => {
    untrack();
    try {
      git(['worktree', 'remove', '--force', root]);
    } catch {
      rmSync(root, { recursive: true, force: true });
      try {
        git(['worktree', 'prune']);
      } catch {
        /* nothing registered */
      }
    }
  };
  // Removed on SIGINT/SIGTERM too (the signal handler exits without running finally blocks).
  untrack = trackChild(remove);
  try {
    git(['worktree', 'add', '--detach', '--force', root, commit]);
    const sameLock = (() => {
      try {
        return (
          readFileSync(join(root, 'package-lock.json'), 'utf8') ===
          readFileSync(join(PACKAGE_ROOT, 'package-lock.json'), 'utf8')
        );
      } catch {
        return false;
      }
    })();
    if (sameLock) {
      symlinkSync(join(PACKAGE_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
    } else {
      onLog(`installing the baseline's dependencies (its package-lock.json differs)`);
      try {
        execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], {
          cwd: root,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (e) {
        const err = (e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message;
        throw new RunError(`installing the baseline's dependencies failed: ${err.slice(-2000)}`);
      }
    }
    onLog(`building ${ref} (${commit.slice(0, 10)})`);
    buildTree(root);
  } catch (e) {
    remove();
    if (e instanceof RunError || e instanceof UsageError) throw e;
    const err = (e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message;
    throw new RunError(`preparing the baseline ${ref} failed: ${err.trim().slice(-2000)}`);
  }
  return { root, commit, remove };
}

/** Reads a saved baseline: several runs (`regress --record`) or one run (`npm run bench`). */
export function readSamples(path: string): FigureSamples {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read the baseline ${path}: ${(e as Error).message}`);
  }
  const d = data as { kind?: string; runs?: unknown; figures?: unknown };
  if (d.kind === 'rtmpbench-figure-samples' && Array.isArray(d.runs)) return data as FigureSamples;
  if (d.kind === 'rtmpbench-figures' && Array.isArray(d.figures)) {
    const run = data as FiguresRun;
    return {
      schemaVersion: 1,
      kind: 'rtmpbench-figure-samples',
      label: path,
      quick: run.quick ?? false,
      ...(run.suite ? { suite: run.suite } : {}),
      runs: [run],
    };
  }
  throw new UsageError(`${path} is not an rtmpbench figures file (from npm run bench or regress --record)`);
}

/** Runs A and B `repeat` times each, interleaved (A B, B A, A B...), each run a fresh process. */
export async function interleave(
  a: () => Promise<FiguresRun>,
  b: (() => Promise<FiguresRun>) | null,
  repeat: number,
  onRun: (which: 'baseline' | 'current', i: number) => void,
): Promise<{ baseline: FiguresRun[]; current: FiguresRun[] }> {
  const baseline: FiguresRun[] = [];
  const current: FiguresRun[] = [];
  for (let i = 0; i < repeat; i++) {
    const order: ('baseline' | 'current')[] =
      b === null ? ['current'] : i % 2 === 0 ? ['baseline', 'current'] : ['current', 'baseline'];
    for (const which of order) {
      onRun(which, i);
      if (which === 'current') current.push(await a());
      else baseline.push(await b!());
    }
  }
  return { baseline, current };
}
