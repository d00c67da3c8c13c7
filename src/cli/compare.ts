import type { Command } from 'commander';
import { checkComparison, expandVariants, runComparison } from '../lab/compare.js';
import { scenarioFromInput } from '../load/scenario-input.js';
import { stopChildrenOnSignals } from '../proc/children.js';
import { SERVER_KINDS } from '../proc/servers.js';
import { loadComparison } from '../results/folder.js';
import type { Scenario } from '../results/scenario.js';
import { UsageError } from '../input/usage-error.js';
import { computeComparison } from '../report/comparison.js';
import { formatComparison } from '../report/console.js';
import { writeReports } from '../report/write.js';
import { formatDurationMs } from '../input/units.js';
import { EXIT_OK, EXIT_RUN_FAILED, EXIT_THRESHOLD_FAILED, EXIT_USAGE } from './exit-codes.js';
import { addScenarioOptions, type RunFlags } from './scenario-options.js';

export interface CompareFlags extends RunFlags {
  repeat?: string;
  baseline?: string;
  servers?: string;
  matrix?: string[];
}

/** Reads "key=v1,v2,v3" into a matrix entry (numbers and booleans as such). */
function matrixEntry(text: string): [string, (string | number | boolean)[]] | null {
  const i = text.indexOf('=');
  if (i <= 0 || i === text.length - 1) return null;
  const values = text
    .slice(i + 1)
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '')
    .map((v) => (v === 'true' || v === 'on' ? true : v === 'false' || v === 'off' ? false : /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v));
  return values.length > 0 ? [text.slice(0, i).trim(), values] : null;
}

/** Scenario + the comparison flags → what to compare, or every problem. */
export function buildComparison(file: string | undefined, flags: CompareFlags): { scenario: Scenario | null; problems: string[] } {
  const problems: string[] = [];
  // Matrix and server lists from flags go through the scenario schema like the file's own.
  const overrides: Record<string, unknown> = {};
  if (flags.repeat !== undefined) {
    if (!/^\d+$/.test(flags.repeat) || Number(flags.repeat) < 1) problems.push(`--repeat: "${flags.repeat}" is not a whole number of at least 1`);
    else overrides.repeat = Number(flags.repeat);
  }
  if (flags.baseline !== undefined) overrides.baseline = flags.baseline;
  if (flags.servers !== undefined) {
    const list = flags.servers.split(',').map((s) => s.trim());
    const unknown = list.filter((s) => !(SERVER_KINDS as readonly string[]).includes(s));
    if (unknown.length > 0) problems.push(`--servers: ${unknown.join(', ')} not one of ${SERVER_KINDS.join(', ')} (other servers: compare.servers in a scenario file, with a url)`);
    else overrides.servers = list;
  }
  if (flags.matrix !== undefined && flags.matrix.length > 0) {
    const matrix: Record<string, unknown> = {};
    for (const m of flags.matrix) {
      const e = matrixEntry(m);
      if (e === null) problems.push(`--matrix: "${m}" is not KEY=V1,V2 (e.g. chunkSize=128,4096)`);
      else matrix[e[0]] = e[1];
    }
    overrides.matrix = matrix;
  }
  const { scenario, problems: more } = scenarioFromInput(file, flags, Object.keys(overrides).length > 0 ? { compare: overrides } : {});
  problems.push(...more);
  if (scenario !== null && scenario.compare === undefined) problems.push('nothing to compare: give the scenario a compare section, or --servers / --matrix');
  return { scenario: problems.length === 0 ? scenario : null, problems };
}

export async function compareCommand(file: string | undefined, flags: CompareFlags): Promise<number> {
  const { scenario, problems } = buildComparison(file, flags);
  if (scenario === null) {
    console.error(`rtmpbench compare: the comparison is not valid (nothing was started):\n  ${problems.join('\n  ')}`);
    return EXIT_USAGE;
  }
  const spec = scenario.compare!;
  let variants;
  try {
    variants = expandVariants(spec);
  } catch (e) {
    console.error(`rtmpbench compare: ${(e as UsageError).reason ?? (e as Error).message}`);
    return EXIT_USAGE;
  }
  const baseline = spec.baseline ?? variants[0]!.name;
  const impossible = checkComparison(scenario, variants, baseline);
  if (impossible.length > 0) {
    console.error(`rtmpbench compare: the comparison cannot run (nothing was started):\n  ${impossible.join('\n  ')}`);
    return EXIT_USAGE;
  }
  stopChildrenOnSignals();
  const total = variants.length * spec.repeat;
  const perRunMs = scenario.durationMs + 3000;
  console.error(`rtmpbench compare "${scenario.name}": ${variants.length} variants × ${spec.repeat} repeat(s) = ${total} runs of ${formatDurationMs(scenario.durationMs)} (about ${formatDurationMs(Math.ceil((total * perRunMs) / 60_000) * 60_000)} in all)`);
  const outcome = await runComparison({
    scenario,
    variants,
    repeat: spec.repeat,
    baseline,
    outDir: flags.out ?? 'results',
    onStart: (i, n, v, round) => {
      if (flags.progress !== false) console.error(`[${i + 1}/${n}] ${v.name} (round ${round + 1})`);
    },
    onRun: (_done, _n, run, s) => {
      if (flags.progress === false) return;
      if (s === null) console.error(`    failed: ${run.error}`);
      else {
        const srv = s.server ? `, server ${s.server.cpuSeconds.toFixed(1)} s CPU` : '';
        console.error(`    e2e p99 ${s.latencyMs.endToEnd.p99.toFixed(1)} ms, first frame p99 ${s.latencyMs.firstFrame.p99.toFixed(1)} ms, lost ${s.frames.lost}${srv}${run.thresholdsPassed ? '' : ', a threshold FAILED'}`);
      }
    },
  });
  const loaded = loadComparison(outcome.dir);
  const table = computeComparison(loaded);
  const written = writeReports(loaded, table);
  if (flags.json) process.stdout.write(`${JSON.stringify({ dir: outcome.dir, comparison: outcome.file, table }, null, 2)}\n`);
  else process.stdout.write(`${formatComparison(table)}\nresults: ${outcome.dir}\nreports: ${written.join(', ')}\n`);
  if (outcome.file.runs.some((r) => r.dir === null)) {
    console.error(`rtmpbench compare: ${outcome.file.runs.filter((r) => r.dir === null).length} run(s) failed (see the table)`);
    return EXIT_RUN_FAILED;
  }
  return outcome.file.runs.some((r) => r.thresholdsPassed === false) ? EXIT_THRESHOLD_FAILED : EXIT_OK;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerCompare(program: Command): void {
  addScenarioOptions(
    program
      .command('compare')
      .description('run a scenario against several servers and/or built-in server settings, interleaved and repeated, and compare them')
      .argument('[scenario]', 'a scenario file with a compare section, or a shipped one (tuning-matrix)'),
  )
    .option('--repeat <n>', 'runs per variant (interleaved: A B C, C B A, ...)')
    .option('--baseline <variant>', 'variant the others are compared with (default: the first)')
    .option('--servers <list>', `servers to compare, comma-separated (${SERVER_KINDS.join(', ')})`)
    .option('--matrix <key=v1,v2>', 'a built-in server setting to vary, e.g. chunkSize=128,4096 (repeat; replaces the file\'s matrix)', collect)
    .action(async (file: string | undefined, flags: CompareFlags) => {
      process.exitCode = await compareCommand(file, flags);
    });
}
