/**
 * Performance regression check of rtmpbench itself, for contributors (a checkout, not an
 * install): `npm run regress -- --baseline REF|FILE`. The figures of `bench/figures.ts` of this
 * tree and of a baseline (a git ref, built in a temporary worktree, or a saved file), run in
 * fresh processes, interleaved and repeated; exit 1 on a significant regression of a gated figure.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT_OK, EXIT_THRESHOLD_FAILED, EXIT_USAGE, failureExit } from '../src/cli/exit-codes.js';
import { UsageError } from '../src/input/usage-error.js';
import { stopChildrenOnSignals } from '../src/proc/children.js';
import { PACKAGE_ROOT } from '../src/version.js';
import {
  buildTree,
  compareFigures,
  failsGate,
  interleave,
  prepareBaselineTree,
  readSamples,
  regressMarkdown,
  runFigures,
  onlySuite,
  type FigureSamples,
  type Suite,
  type RegressOptions,
} from './lib/regress.js';

interface RegressFlags {
  baseline?: string;
  record?: string;
  repeat?: string;
  quick?: boolean;
  suite?: string;
  threshold?: string;
  confidence?: string;
  gate?: string;
  build?: boolean;
  markdown?: string;
  json?: string;
}

function parseFlags(f: RegressFlags): { opts: RegressOptions; repeat: number; problems: string[] } {
  const problems: string[] = [];
  const num = (flag: string, v: string | undefined, def: number, ok: (n: number) => boolean, what: string) => {
    if (v === undefined) return def;
    const n = Number(v.replace(/%$/, ''));
    if (!Number.isFinite(n) || !ok(n)) problems.push(`${flag}: "${v}" is not ${what}`);
    return n;
  };
  const repeat = num(
    '--repeat',
    f.repeat,
    3,
    (n) => Number.isInteger(n) && n >= 1 && n <= 100,
    'a whole number from 1 to 100',
  );
  const thresholdPercent = num('--threshold', f.threshold, 5, (n) => n >= 0, 'a percentage such as 5 or 5%');
  const confidence = num(
    '--confidence',
    f.confidence,
    0.95,
    (n) => n > 0.5 && n < 1,
    'a level between 0.5 and 1, such as 0.95',
  );
  let gate: RegressOptions['gate'] | 'auto' = 'auto';
  if (f.gate !== undefined) {
    if (f.gate === 'all' || f.gate === 'machine-independent' || f.gate === 'auto') gate = f.gate;
    else problems.push(`--gate: "${f.gate}" is not auto, all or machine-independent`);
  }
  if (f.suite !== undefined && f.suite !== 'all' && f.suite !== 'micro' && f.suite !== 'macro')
    problems.push(`--suite: "${f.suite}" is not micro, macro or all`);
  if (f.baseline === undefined && f.record === undefined)
    problems.push('give --baseline REF|FILE (compare) or --record FILE (save runs as a baseline)');
  const isFile = f.baseline !== undefined && existsSync(f.baseline);
  // A saved file was likely made on another machine: only machine-independent figures gate by default.
  const resolvedGate = gate === 'auto' ? (isFile ? 'machine-independent' : 'all') : gate;
  return { opts: { confidence, thresholdPercent, gate: resolvedGate }, repeat, problems };
}

export async function regressCommand(flags: RegressFlags): Promise<number> {
  const { opts, repeat, problems } = parseFlags(flags);
  if (problems.length > 0) {
    console.error(`rtmpbench regress: nothing was run:\n  ${problems.join('\n  ')}`);
    return EXIT_USAGE;
  }
  stopChildrenOnSignals();
  const quick = flags.quick === true;
  const suite = (flags.suite ?? 'all') as Suite;
  const log = (line: string) => console.error(`rtmpbench regress: ${line}`);
  let tree: ReturnType<typeof prepareBaselineTree> | null = null;
  try {
    if (flags.build !== false) {
      log('building the current tree');
      buildTree(PACKAGE_ROOT);
    }
    let saved: FigureSamples | null = null;
    let label = '';
    if (flags.baseline !== undefined) {
      if (existsSync(flags.baseline)) {
        saved = readSamples(flags.baseline);
        label = `${flags.baseline} (${saved.runs.length} saved run(s) of ${saved.runs[0]?.env.commit.slice(0, 10) ?? '?'})`;
        if (saved.quick !== quick)
          log(
            `note: the baseline was recorded ${saved.quick ? 'with' : 'without'} --quick, this run is ${quick ? 'with' : 'without'} it`,
          );
        const savedSuite = saved.suite ?? 'all';
        if (savedSuite !== 'all' && savedSuite !== suite)
          throw new UsageError(
            `the baseline ${flags.baseline} holds the ${savedSuite} figures only; run with --suite ${savedSuite}`,
          );
      } else {
        tree = prepareBaselineTree(flags.baseline, log);
        label = `${flags.baseline} (${tree.commit.slice(0, 10)})`;
      }
    }
    const baselineRoot = tree?.root ?? null;
    const { baseline, current } = await interleave(
      () => runFigures(PACKAGE_ROOT, quick, suite),
      baselineRoot === null ? null : () => runFigures(baselineRoot, quick, suite),
      repeat,
      (which, i) => log(`run ${i + 1}/${repeat}: ${which}`),
    );
    if (flags.record !== undefined) {
      const samples: FigureSamples = {
        schemaVersion: 1,
        kind: 'rtmpbench-figure-samples',
        label: current[0]?.env.commit ?? 'current',
        quick,
        suite,
        runs: current,
      };
      writeFileSync(flags.record, `${JSON.stringify(samples, null, 2)}\n`);
      log(`recorded ${current.length} run(s) in ${flags.record}`);
      if (flags.baseline === undefined) return EXIT_OK;
    }
    const base = onlySuite(saved?.runs ?? baseline, suite);
    const rows = compareFigures(base, current, opts);
    const md = regressMarkdown(rows, `rtmpbench regress: current tree vs ${label}`, opts, {
      baseline: base.length,
      current: current.length,
    });
    process.stdout.write(md);
    if (flags.markdown !== undefined) writeFileSync(flags.markdown, md);
    if (flags.json !== undefined)
      writeFileSync(flags.json, `${JSON.stringify({ options: opts, baseline: base, current, rows }, null, 2)}\n`);
    return rows.some(failsGate) ? EXIT_THRESHOLD_FAILED : EXIT_OK;
  } catch (e) {
    return failureExit('regress', e);
  } finally {
    tree?.remove();
  }
}

export function regressProgram(): Command {
  return new Command('regress')
    .description(
      'compare the performance figures (npm run bench) of this tree with a baseline: runs interleaved in fresh processes, Welch t-test per figure; exit 1 on a significant regression',
    )
    .option(
      '--baseline <ref|file>',
      'a git ref (built in a temporary worktree) or a saved figures file (regress --record, npm run bench)',
    )
    .option('--record <file>', "save the current tree's runs as a baseline file")
    .option('--repeat <n>', 'runs of each side (default 3)')
    .option('--quick', 'shorter figures runs (about 25 s each)')
    .option(
      '--suite <which>',
      'micro (codec figures, seconds per run), macro (scenarios against the built-in server) or all (default)',
    )
    .option('--threshold <percent>', 'smallest change that gets a verdict (default 5%)')
    .option('--confidence <level>', 'confidence level of the test (default 0.95)')
    .option(
      '--gate <which>',
      'figures that decide the exit code: auto (default: all against a git ref, machine-independent ones against a file), all, machine-independent',
    )
    .option('--no-build', 'do not rebuild the current tree first')
    .option('--markdown <file>', 'also write the table to a file (e.g. $GITHUB_STEP_SUMMARY)')
    .option('--json <file>', 'write every run and verdict as JSON')
    .exitOverride()
    .action(async (flags: RegressFlags) => {
      process.exitCode = await regressCommand(flags);
    });
}

try {
  await regressProgram().parseAsync(process.argv);
} catch (e) {
  process.exitCode =
    e instanceof CommanderError ? (e.exitCode === 0 ? EXIT_OK : EXIT_USAGE) : failureExit('regress', e);
}
