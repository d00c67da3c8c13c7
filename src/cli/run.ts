import type { Command } from 'commander';
import { runScenario } from '../load/orchestrator.js';
import { runFailure } from '../load/run-failure.js';
import { parseShard, scenarioFromInput } from '../load/scenario-input.js';
import { stopChildrenOnSignals } from '../proc/children.js';
import type { Progress } from '../results/progress.js';
import { failedThresholds } from '../results/summary.js';
import { formatProgress, formatSummary } from '../report/console.js';
import { EXIT_OK, EXIT_RUN_FAILED, EXIT_THRESHOLD_FAILED, EXIT_USAGE, failureExit } from './exit-codes.js';
import { addScenarioOptions, type RunFlags } from './scenario-options.js';

interface RunCommandFlags extends RunFlags {
  shard?: string;
}

export async function runCommand(file: string | undefined, flags: RunCommandFlags): Promise<number> {
  const { scenario, problems } = scenarioFromInput(file, flags);
  if (scenario === null) {
    console.error(`rtmpbench run: the scenario is not valid (nothing was started):\n  ${problems.join('\n  ')}`);
    return EXIT_USAGE;
  }
  let shardOf: { index: number; count: number } | undefined;
  if (typeof flags.shard === 'string') {
    const s = parseShard(flags.shard);
    if (s === null) {
      console.error(`rtmpbench run: --shard: "${flags.shard}" is not I/N with 0 <= I < N`);
      return EXIT_USAGE;
    }
    shardOf = s;
  }
  stopChildrenOnSignals();
  const showProgress = flags.progress !== false && process.stderr.isTTY === true;
  let lastLen = 0;
  const onProgress = (p: Progress) => {
    if (!showProgress) return;
    const line = formatProgress(p);
    if (process.stderr.isTTY) {
      process.stderr.write(`\r${line}${' '.repeat(Math.max(0, lastLen - line.length))}`);
      lastLen = line.length;
    } else {
      process.stderr.write(`${line}\n`);
    }
  };
  try {
    const outcome = await runScenario({ scenario, outDir: flags.out ?? 'results', onProgress, ...(shardOf ? { shardOf } : {}) });
    if (showProgress && process.stderr.isTTY) process.stderr.write('\n');
    const { summary, resultsDir } = outcome;
    if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else process.stdout.write(`${formatSummary(summary, resultsDir)}\n`);
    const failed = runFailure(summary);
    if (failed !== null) {
      console.error(`rtmpbench run: ${failed}`);
      return EXIT_RUN_FAILED;
    }
    return failedThresholds(summary).length > 0 ? EXIT_THRESHOLD_FAILED : EXIT_OK;
  } catch (e) {
    if (showProgress && process.stderr.isTTY) process.stderr.write('\n');
    return failureExit('run', e);
  }
}

export function registerRun(program: Command): void {
  addScenarioOptions(
    program
      .command('run')
      .description('run a load scenario (default: the quickstart scenario against the built-in server) and print its summary')
      .argument('[scenario]', 'a scenario file, or the name of a shipped one (quickstart, capacity, ci-smoke, ...)'),
  )
    .option('--shard <i/n>', 'run only share I of N of the scenario (spread a run over machines; merge the results)')
    .action(async (file: string | undefined, flags: RunCommandFlags) => {
      process.exitCode = await runCommand(file, flags);
    });
}
