import { relative } from 'node:path';
import type { Command } from 'commander';
import { cpuHotSpots, PROFILE_TOOLS, profileServer, profileWithPerf, type ProfileTool } from '../lab/profile.js';
import { scenarioFromInput } from '../load/scenario-input.js';
import { stopChildrenOnSignals } from '../proc/children.js';
import type { Progress } from '../results/progress.js';
import { formatProgress, formatSummary, table } from '../report/console.js';
import { EXIT_OK, EXIT_USAGE, failureExit } from './exit-codes.js';
import { addScenarioOptions, type RunFlags } from './scenario-options.js';

interface ProfileFlags extends RunFlags {
  tool?: string;
}

const shown = (p: string) => {
  const r = relative(process.cwd(), p);
  return r.startsWith('..') ? p : r;
};

async function profileCommand(file: string | undefined, flags: ProfileFlags): Promise<number> {
  const tool = (flags.tool ?? 'cpu-prof') as ProfileTool;
  const problems: string[] = [];
  if (!PROFILE_TOOLS.includes(tool)) problems.push(`--tool: "${flags.tool}" is not one of ${PROFILE_TOOLS.join(', ')}`);
  const { scenario, problems: more } = scenarioFromInput(file, flags);
  problems.push(...more);
  if (scenario !== null && scenario.target !== 'builtin' && tool !== 'perf')
    problems.push(
      `--tool ${tool} runs the built-in server under a Node profiler; the scenario targets ${scenario.target} ` +
        '(--tool perf samples any server: give its --server-pid)',
    );
  if (problems.length > 0 || scenario === null) {
    console.error(`rtmpbench profile: nothing was started:\n  ${problems.join('\n  ')}`);
    return EXIT_USAGE;
  }
  stopChildrenOnSignals();
  const showProgress = flags.progress !== false && process.stderr.isTTY === true;
  const what = scenario.target === 'builtin' ? 'the built-in server' : scenario.target;
  console.error(`rtmpbench profile: ${what} under ${tool}, load "${scenario.name}" from this process`);
  try {
    const onProgress = (p: Progress) => process.stderr.write(`\r${formatProgress(p)}`);
    const out =
      tool === 'perf'
        ? await profileWithPerf({
            scenario,
            outDir: flags.out ?? 'results',
            ...(showProgress ? { onProgress } : {}),
          })
        : await profileServer({
            scenario,
            tool,
            outDir: flags.out ?? 'results',
            ...(showProgress ? { onProgress } : {}),
            onLog: (line) => {
              if (flags.progress !== false) console.error(`  ${tool}: ${line}`);
            },
          });
    if (showProgress) process.stderr.write('\n');
    process.stdout.write(`${formatSummary(out.summary, out.resultsDir)}\n`);
    if (tool === 'cpu-prof') {
      const { totalMs, spots } = cpuHotSpots(out.report);
      process.stdout.write(`\nserver hot spots (self time, ${(totalMs / 1000).toFixed(1)} s of CPU samples):\n`);
      const rows = spots.map((h) => [h.functionName, h.location, h.selfPercent.toFixed(1), h.selfMs.toFixed(0)]);
      process.stdout.write(`${table([['function', 'where', 'self %', 'self ms'], ...rows], 2)}\n`);
    }
    process.stdout.write(`\nprofile: ${shown(out.report)}\n`);
    if (tool === 'perf')
      process.stdout.write(
        'open it at https://www.speedscope.app; the flame graph is in the HTML report (rtmpbench report DIR)\n',
      );
    if (tool === 'cpu-prof' || tool === 'heap-prof')
      process.stdout.write(
        'open it in Chrome DevTools (Performance / Memory tab: Load profile) or https://www.speedscope.app\n',
      );
    return EXIT_OK;
  } catch (e) {
    return failureExit('profile', e);
  }
}

export function registerProfile(program: Command): void {
  addScenarioOptions(
    program
      .command('profile')
      .description(
        "run the built-in server under a profiler (clinic or Node's own), or any server under Linux perf " +
          "(--tool perf), while a scenario loads it; the report goes into the run's results folder",
      )
      .argument('[scenario]', 'a scenario file, or the name of a shipped one (default quickstart)'),
  )
    .option(
      '--tool <tool>',
      `${PROFILE_TOOLS.join(' | ')} (default cpu-prof: works on every Node version, no clinic needed; ` +
        'perf: any server, kernel frames included, with --server-pid for an external one)',
    )
    .action(async (file: string | undefined, flags: ProfileFlags) => {
      process.exitCode = await profileCommand(file, flags);
    });
}
