import type { Command } from 'commander';
import { mergeRuns } from '../lab/merge.js';
import { UsageError } from '../input/usage-error.js';
import { loadRun } from '../results/folder.js';
import { checkManifest, hasManifest } from '../results/share.js';
import { failedThresholds } from '../results/summary.js';
import { formatSummary } from '../report/console.js';
import { EXIT_OK, EXIT_THRESHOLD_FAILED } from './exit-codes.js';

interface MergeFlags {
  allowPartial?: boolean;
  out?: string;
  name?: string;
  json?: boolean;
}

/** Merges; bad folders throw a UsageError (exit 2, from the program). */
function mergeCommand(dirs: string[], flags: MergeFlags): number {
  // A share's manifest is checked before anything of it is read: a cut or edited file is named as such.
  for (const d of dirs) {
    const problem = hasManifest(d) ? checkManifest(d) : null;
    if (problem !== null) throw new UsageError(`${d} is not a whole share: ${problem}`);
  }
  const runs = dirs.map((d) => loadRun(d));
  const { summary, dir, warnings } = mergeRuns(runs, flags.out ?? 'results', flags.name, {
    allowPartial: flags.allowPartial === true,
  });
  for (const w of warnings) console.error(`rtmpbench merge: note: ${w}`);
  if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else process.stdout.write(`merged ${runs.length} runs\n${formatSummary(summary, dir)}\n`);
  return failedThresholds(summary).length > 0 ? EXIT_THRESHOLD_FAILED : EXIT_OK;
}

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description(
      'merge runs of one scenario made on several machines (run --shard I/N) into one result with exact percentiles',
    )
    .argument('<dirs...>', 'results folders to merge (two or more)')
    .option('--out <dir>', 'root folder for the merged result (default: results)')
    .option('--name <name>', 'name of the merged result (default: <scenario>-merged)')
    .option('--json', 'print the merged summary as JSON')
    .option('--allow-partial', "merge the shares given though some of the run's are missing (the result says which)")
    .action((dirs: string[], flags: MergeFlags) => {
      process.exitCode = mergeCommand(dirs, flags);
    });
}
