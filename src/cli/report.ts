import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../input/usage-error.js';
import type { ComparisonFile } from '../results/comparison-file.js';
import {
  isComparisonDir,
  loadComparison,
  loadRun,
  resultsFolderName,
  type LoadedComparison,
  type LoadedRun,
} from '../results/folder.js';
import { failedThresholds } from '../results/summary.js';
import { computeComparison } from '../report/comparison.js';
import { formatComparison, formatSummary } from '../report/console.js';
import { comparisonMarkdown, runMarkdown, writeReports } from '../report/write.js';
import { VERSION } from '../version.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';

interface ReportFlags {
  out?: string;
  stdout?: string;
  baseline?: string;
  write?: boolean;
}

/** Several runs side by side: a comparison of one run per variant, the first as the baseline. */
function adHocComparison(runs: LoadedRun[], baseline?: string): LoadedComparison {
  const names = runs.map((r) => r.summary.name);
  const unique = new Set(names).size === names.length;
  const label = (r: LoadedRun) => (unique ? r.summary.name : basename(r.dir));
  const file: ComparisonFile = {
    schemaVersion: 1,
    kind: 'comparison',
    tool: { name: 'rtmpbench', version: VERSION },
    name: runs.map(label).join(' vs '),
    startedAt: runs[0]!.summary.startedAt,
    scenario: runs[0]!.summary.scenario,
    repeat: 1,
    baseline: baseline ?? label(runs[0]!),
    variants: runs.map((r) => ({
      name: label(r),
      server: r.summary.targetKind === 'builtin' ? 'builtin' : r.summary.target,
      settings: {},
    })),
    runs: runs.map((r) => ({
      variant: label(r),
      round: 0,
      dir: r.dir,
      thresholdsPassed: failedThresholds(r.summary).length === 0,
    })),
  };
  if (!file.variants.some((v) => v.name === file.baseline)) {
    throw new UsageError(`--baseline: "${file.baseline}" is none of ${file.variants.map((v) => v.name).join(', ')}`);
  }
  return { dir: runs[0]!.dir, file, runs: new Map(runs.map((r) => [label(r), [{ round: 0, run: r }]])) };
}

/** Renders; bad folders or names throw a UsageError (exit 2, from the program). */
function reportCommand(dirs: string[], flags: ReportFlags): number {
  const format = flags.stdout ?? 'console';
  if (!['console', 'markdown', 'none'].includes(format)) {
    console.error(`rtmpbench report: --stdout must be console, markdown or none, not "${format}"`);
    return EXIT_USAGE;
  }
  const write = flags.write !== false;
  let text: string;
  let markdown: string;
  let written: string[] = [];
  if (dirs.length === 1 && isComparisonDir(dirs[0]!)) {
    const c = loadComparison(dirs[0]!);
    if (flags.baseline !== undefined) c.file.baseline = flags.baseline;
    if (!c.file.variants.some((v) => v.name === c.file.baseline))
      throw new UsageError(`--baseline: "${c.file.baseline}" is not a variant`);
    const t = computeComparison(c);
    if (write) written = writeReports(c, t, flags.out);
    [text, markdown] = [formatComparison(t), comparisonMarkdown(c, t)];
  } else if (dirs.some((d) => isComparisonDir(d))) {
    throw new UsageError('report one comparison folder at a time (or several run folders side by side)');
  } else if (dirs.length === 1) {
    const run = loadRun(dirs[0]!);
    if (write) written = writeReports(run, undefined, flags.out);
    [text, markdown] = [formatSummary(run.summary, run.dir), runMarkdown(run)];
  } else {
    const c = adHocComparison(
      dirs.map((d) => loadRun(d)),
      flags.baseline,
    );
    const t = computeComparison(c);
    if (write) written = writeReports(c, t, flags.out ?? join('results', resultsFolderName(new Date(), 'report')));
    [text, markdown] = [formatComparison(t), comparisonMarkdown(c, t)];
  }
  if (format === 'console')
    process.stdout.write(`${text}\n${written.length > 0 ? `reports: ${written.join(', ')}\n` : ''}`);
  if (format === 'markdown') process.stdout.write(markdown);
  return EXIT_OK;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'render results folders (a run, a comparison, or several runs side by side) as a console ' +
        'table, Markdown and a self-contained HTML page',
    )
    .argument('<dirs...>', 'results folders (results/<time>-<name>)')
    .option(
      '--out <dir>',
      'where to write report.md and report.html (default: the results folder; for several runs, results/<time>-report)',
    )
    .option('--stdout <format>', 'what to print: console (default), markdown (e.g. >> $GITHUB_STEP_SUMMARY) or none')
    .option('--baseline <name>', 'variant (or run name) the others are compared with')
    .option('--no-write', 'print only; write no files')
    .action((dirs: string[], flags: ReportFlags) => {
      process.exitCode = reportCommand(dirs, flags);
    });
}
