import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  compareFigures,
  failsGate,
  readSamples,
  regressMarkdown,
  type Figure,
  type FigureComparison,
  type FiguresRun,
  type RegressOptions,
} from '../../bench/lib/regress.js';
import { PACKAGE_ROOT } from '../../src/version.js';
import { run, type RunResult } from '../helpers/tools.js';

/** The contributor tool, built (npm test builds first). */
const REGRESS = join(PACKAGE_ROOT, 'dist', 'bench', 'regress.js');
const regress = (args: string[], timeoutMs = 60_000, env?: NodeJS.ProcessEnv): Promise<RunResult> =>
  run(process.execPath, [REGRESS, ...args], timeoutMs, env);

const work = mkdtempSync(join(tmpdir(), 'rtmpbench-regress-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const meta: Record<string, Omit<Figure, 'value' | 'name'>> = {
  'decode.MBps': { unit: 'MB/s', better: 'higher', machineIndependent: false, description: '' },
  'cpu.seconds': { unit: 'CPU-s', better: 'lower', machineIndependent: false, description: '' },
  'copies.perMessage': { unit: 'B', better: 'lower', machineIndependent: true, description: '' },
  'writes.perMessage': { unit: '', better: 'lower', machineIndependent: true, description: '' },
};

/** Runs made of known values: `values[name][i]` is run i's value of that figure. */
function runs(values: Record<string, number[]>): FiguresRun[] {
  const n = Math.max(...Object.values(values).map((v) => v.length));
  return Array.from({ length: n }, (_, i) => ({
    schemaVersion: 1 as const,
    kind: 'rtmpbench-figures' as const,
    env: { node: 'v20', cpuModel: 'test', cpus: 2, commit: 'abc', dirty: false, date: '2026-01-01' },
    quick: true,
    figures: Object.entries(values)
      .filter(([, v]) => i < v.length)
      .map(([name, v]) => ({ name, value: v[i]!, ...meta[name]! })),
  }));
}

const opts: RegressOptions = { confidence: 0.95, thresholdPercent: 5, gate: 'all' };
const row = (rows: FigureComparison[], name: string) => rows.find((r) => r.name === name)!;

// The textbook pair for Welch's test: means 20.82 and 22.99 (+10.4%), t = 2.46, p = 0.021.
const A = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
const B = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];

describe('regression verdicts from known samples', () => {
  it('calls a significant change larger than the threshold a regression or an improvement, by the side that is better', () => {
    const rows = compareFigures(
      runs({ 'cpu.seconds': A, 'decode.MBps': A }),
      runs({ 'cpu.seconds': B, 'decode.MBps': B }),
      opts,
    );
    const cpu = row(rows, 'cpu.seconds');
    expect(cpu.p).toBeCloseTo(0.021, 3);
    expect(cpu.changePercent).toBeCloseTo(10.43, 1);
    expect(cpu.changeLow!).toBeGreaterThan(0);
    expect(cpu.verdict).toBe('regression'); // more CPU
    expect(row(rows, 'decode.MBps').verdict).toBe('improvement'); // more MB/s
  });

  it('gives no verdict when the change is not significant at the confidence level, or smaller than the threshold', () => {
    const base = runs({ 'cpu.seconds': A });
    const cur = runs({ 'cpu.seconds': B });
    expect(compareFigures(base, cur, { ...opts, confidence: 0.99 })[0]!.verdict).toBe('no significant change'); // p 0.021 > 0.01
    expect(compareFigures(base, cur, { ...opts, thresholdPercent: 15 })[0]!.verdict).toBe('within threshold'); // +10.4% < 15%
    // The same samples on both sides: p = 1.
    const same = compareFigures(base, base, opts)[0]!;
    expect(same.p).toBeCloseTo(1, 6);
    expect(same.verdict).toBe('no significant change');
    // Overlapping noise: 100 ± 5 against 101 ± 5.
    expect(
      compareFigures(runs({ 'cpu.seconds': [95, 100, 105] }), runs({ 'cpu.seconds': [96, 101, 106] }), opts)[0]!
        .verdict,
    ).toBe('no significant change');
  });

  it('judges exact machine-independent figures without a test: any change beyond the threshold counts, even from one run', () => {
    const rows = compareFigures(
      runs({ 'copies.perMessage': [100], 'writes.perMessage': [1, 1] }),
      runs({ 'copies.perMessage': [200], 'writes.perMessage': [1, 1] }),
      opts,
    );
    expect(row(rows, 'copies.perMessage')).toMatchObject({ verdict: 'regression', p: 0, changePercent: 100 });
    expect(row(rows, 'writes.perMessage')).toMatchObject({ verdict: 'no significant change', p: 1, changePercent: 0 });
    expect(
      compareFigures(runs({ 'copies.perMessage': [100, 100] }), runs({ 'copies.perMessage': [102, 102] }), opts)[0]!
        .verdict,
    ).toBe('within threshold');
    expect(
      compareFigures(runs({ 'writes.perMessage': [1] }), runs({ 'writes.perMessage': [0.5] }), opts)[0]!.verdict,
    ).toBe('improvement');
    // Equal values whose mean or standard deviation is not exact in floating point are still exact.
    expect(
      compareFigures(
        runs({ 'writes.perMessage': [0.2, 0.2, 0.2] }),
        runs({ 'writes.perMessage': [0.2, 0.2] }),
        opts,
      )[0],
    ).toMatchObject({ verdict: 'no significant change', p: 1, changePercent: 0 });
    expect(
      compareFigures(
        runs({ 'copies.perMessage': [2963.8, 2963.8, 2963.8] }),
        runs({ 'copies.perMessage': [5927.7] }),
        opts,
      )[0],
    ).toMatchObject({ verdict: 'regression', p: 0 });
  });

  it('needs two runs a side for a timing, and reports figures that one side lacks', () => {
    const rows = compareFigures(
      runs({ 'cpu.seconds': [10], 'copies.perMessage': [5], 'decode.MBps': [1] }),
      runs({ 'cpu.seconds': [20], 'writes.perMessage': [1] }),
      opts,
    );
    expect(row(rows, 'cpu.seconds').verdict).toBe('too few runs');
    expect(failsGate(row(rows, 'cpu.seconds'))).toBe(false);
    // A machine-independent figure the current tree no longer reports fails the gate; a new one, or a lost timing, does not.
    expect(row(rows, 'copies.perMessage').verdict).toBe('missing');
    expect(failsGate(row(rows, 'copies.perMessage'))).toBe(true);
    expect(failsGate(row(rows, 'writes.perMessage'))).toBe(false);
    expect(failsGate(row(rows, 'decode.MBps'))).toBe(false);
    expect(regressMarkdown(rows, 'test', opts, { baseline: 1, current: 1 })).toContain(
      '**1 gated figure(s) no longer reported: copies.perMessage.**',
    );
  });

  it('gates either every figure or only the machine-independent ones, and says which in the Markdown table', () => {
    const base = runs({ 'cpu.seconds': A, 'copies.perMessage': A.map(() => 100) });
    const cur = runs({ 'cpu.seconds': B, 'copies.perMessage': B.map(() => 100) });
    const gatedAll = compareFigures(base, cur, opts);
    expect(gatedAll.filter((r) => r.verdict === 'regression' && r.gated).map((r) => r.name)).toEqual(['cpu.seconds']);
    const mi: RegressOptions = { ...opts, gate: 'machine-independent' };
    const gatedMi = compareFigures(base, cur, mi);
    expect(gatedMi.filter((r) => r.verdict === 'regression' && r.gated)).toEqual([]);
    const md = regressMarkdown(gatedMi, 'test', mi, { baseline: 15, current: 15 });
    expect(md).toContain(
      '| cpu.seconds | 20.82 CPU-s | 22.99 CPU-s | +10.4% | +1.7% … +19.1% | 0.021 | 🔴 regression (not gated) |',
    );
    expect(md).toContain(
      '| ● copies.perMessage | 100.0 B | 100.0 B | 0.0% | 0.0% … 0.0% | 1.000 | no significant change |',
    );
    expect(md).toContain('**No significant regression.**');
    expect(regressMarkdown(gatedAll, 'test', opts, { baseline: 15, current: 15 })).toContain(
      '**1 significant regression(s): cpu.seconds.**',
    );
  });
});

describe('rtmpbench regress (real figures runs, the codec suite)', () => {
  const baseline = join(work, 'baseline.json');
  type RegressJson = { rows: FigureComparison[]; current: FiguresRun[] };
  const read = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as RegressJson;

  it('records runs of this tree as a baseline file', async () => {
    const r = await regress(
      ['--record', baseline, '--suite', 'micro', '--quick', '--repeat', '2', '--no-build'],
      120_000,
    );
    expect(r.stderr).toContain(`recorded 2 run(s) in ${baseline}`);
    expect(r.code).toBe(0);
    const saved = readSamples(baseline);
    expect(saved).toMatchObject({ kind: 'rtmpbench-figure-samples', suite: 'micro', quick: true });
    expect(saved.runs).toHaveLength(2);
    const names = saved.runs[0]!.figures.map((f) => f.name);
    expect(names).toContain('codec.decode.chunk4096.copiedBytesPerMessage');
    expect(names.every((n) => !n.startsWith('macro.'))).toBe(true);
    expect(saved.runs[0]!.env).toMatchObject({ node: process.version, cpus: expect.any(Number) });
    expect(saved.runs[0]!.env.commit).toMatch(/^[0-9a-f]{40}$|^unknown$/);
  }, 150_000);

  it('does not flag the unchanged tree, run after run', async () => {
    for (const i of [1, 2]) {
      const json = join(work, `same-${i}.json`);
      const r = await regress(
        ['--baseline', baseline, '--suite', 'micro', '--quick', '--repeat', '2', '--no-build', '--json', json],
        120_000,
      );
      expect(r.stdout).toContain('**No significant regression.**');
      expect(r.code).toBe(0);
      const rows = read(json).rows.filter((x) => x.machineIndependent);
      expect(rows.length).toBeGreaterThanOrEqual(6);
      for (const x of rows) expect(failsGate(x), x.name).toBe(false);
      // The codec's counts are pure functions of the input: equal to the last digit.
      for (const x of rows.filter((r) => r.name.startsWith('codec.')))
        expect(x, x.name).toMatchObject({ verdict: 'no significant change', changePercent: 0 });
      // The server's write count depends on reads the test arranges, not on speed.
      expect(row(rows, 'server.burst.writesPerMessage')).toMatchObject({
        verdict: 'no significant change',
        changePercent: 0,
      });
    }
  }, 300_000);

  it('flags a deliberately slowed build (one extra copy of every message) and exits 1', async () => {
    const json = join(work, 'slowed.json');
    const md = join(work, 'slowed.md');
    const r = await regress(
      [
        '--baseline',
        baseline,
        '--suite',
        'micro',
        '--quick',
        '--repeat',
        '2',
        '--no-build',
        '--json',
        json,
        '--markdown',
        md,
      ],
      120_000,
      { RTMPBENCH_INJECT_COPIES: '1' },
    );
    expect(r.code).toBe(1);
    const rows = read(json).rows;
    for (const chunk of [128, 4096]) {
      const copied = row(rows, `codec.decode.chunk${chunk}.copiedBytesPerMessage`);
      expect(copied).toMatchObject({ verdict: 'regression', gated: true });
      expect(copied.changePercent!).toBeGreaterThan(50);
      expect(row(rows, `codec.decode.chunk${chunk}.allocationsPerMessage`).verdict).toBe('regression');
    }
    expect(row(rows, 'codec.encode.chunk4096.headerBytesPer60kFrame').verdict).toBe('no significant change');
    const table = readFileSync(md, 'utf8');
    expect(table).toBe(r.stdout);
    expect(table).toMatch(/\*\*\d+ significant regression\(s\): .*codec\.decode\.chunk128\.copiedBytesPerMessage/);
  }, 150_000);

  it('compares with a git ref built in a temporary worktree, interleaved, and removes the worktree', async () => {
    const worktrees = () => execFileSync('git', ['worktree', 'list'], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
    const before = worktrees();
    const json = join(work, 'head.json');
    const r = await regress(
      [
        '--baseline',
        'HEAD',
        '--suite',
        'micro',
        '--quick',
        '--repeat',
        '2',
        '--no-build',
        '--gate',
        'machine-independent',
        '--json',
        json,
      ],
      240_000,
    );
    expect(r.stderr).toMatch(/building HEAD \([0-9a-f]{10}\)/);
    expect(r.stderr.match(/run \d\/2: (baseline|current)/g)).toEqual([
      'run 1/2: baseline',
      'run 1/2: current',
      'run 2/2: current',
      'run 2/2: baseline',
    ]);
    expect(r.code).toBe(0);
    const out = read(json);
    expect(out.current).toHaveLength(2);
    expect(row(out.rows, 'codec.encode.chunk4096.headerBytesPer60kFrame').verdict).toBe('no significant change');
    expect(worktrees()).toBe(before);
  }, 300_000);

  it('removes the baseline worktree when stopped by SIGINT in the middle of the runs, and exits 130', async () => {
    const worktrees = () =>
      execFileSync('git', ['worktree', 'list', '--porcelain'], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
    const before = worktrees();
    const child = spawn(
      process.execPath,
      [REGRESS, '--baseline', 'HEAD', '--suite', 'micro', '--quick', '--repeat', '3', '--no-build'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 180_000;
    while (!/run 1\/3: current/.test(stderr) && child.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(stderr).toMatch(/run 1\/3: current/);
    const during = worktrees();
    const root = /worktree (\S*rtmpbench-baseline-\S+)/.exec(during)?.[1];
    expect(root).toBeDefined();
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(existsSync(root!)).toBe(false);
    expect(worktrees()).toBe(before);
  }, 240_000);

  it('refuses what it cannot use, before running anything (exit 2)', async () => {
    const notFigures = join(work, 'not-figures.json');
    writeFileSync(notFigures, '{"hello": 1}');
    // One run as `npm run bench -- --suite micro --out FILE` writes it.
    const oneRun = join(work, 'one-run.json');
    writeFileSync(oneRun, JSON.stringify(readSamples(baseline).runs[0]));
    const cases: [string[], RegExp][] = [
      [[], /give --baseline REF\|FILE/],
      [['--baseline', 'no-such-ref-xyz', '--no-build'], /neither a saved figures file nor a git ref/],
      [['--baseline', notFigures, '--no-build'], /is not an rtmpbench figures file/],
      [
        ['--baseline', baseline, '--suite', 'macro', '--no-build'],
        /holds the micro figures only; run with --suite micro/,
      ],
      [['--baseline', oneRun, '--no-build'], /holds the micro figures only; run with --suite micro/],
      [['--baseline', baseline, '--suite', 'tiny'], /--suite: "tiny" is not micro, macro or all/],
      [
        ['--baseline', baseline, '--repeat', '0', '--threshold', 'x', '--confidence', '2', '--gate', 'some'],
        /--repeat: "0".*\n.*--threshold: "x".*\n.*--confidence: "2".*\n.*--gate: "some"/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await regress(args);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.code, args.join(' ')).toBe(2);
    }
  }, 60_000);
});
