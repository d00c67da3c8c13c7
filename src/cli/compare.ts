import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { checkComparison, expandVariants, runComparison, type Variant } from '../lab/compare.js';
import { loadSavedBaseline, type SavedBaseline } from '../lab/saved-baseline.js';
import { readScenarioFile, resolveScenarioPath } from '../load/scenario-file.js';
import { scenarioFromInput } from '../load/scenario-input.js';
import { stopChildrenOnSignals } from '../proc/children.js';
import { SERVER_KINDS } from '../proc/servers.js';
import { loadComparison } from '../results/folder.js';
import { failedGates } from '../results/gates.js';
import type { Scenario } from '../results/scenario.js';
import { UsageError } from '../input/usage-error.js';
import { computeComparison } from '../report/comparison.js';
import { formatComparison, profileDifferenceText } from '../report/console.js';
import { comparisonJunit } from '../report/junit.js';
import { writeReports } from '../report/write.js';
import { formatDurationMs } from '../input/units.js';
import { EXIT_OK, EXIT_RUN_FAILED, EXIT_THRESHOLD_FAILED, EXIT_USAGE } from './exit-codes.js';
import { addScenarioOptions, type RunFlags } from './scenario-options.js';

export interface CompareFlags extends RunFlags {
  repeat?: string;
  baseline?: string;
  servers?: string;
  addServer?: string[];
  matrix?: string[];
  variant?: string[];
  gate?: string[];
  against?: string;
  junit?: string;
  profileServer?: boolean;
  serverSyscalls?: boolean;
}

type RawServer = string | { name?: unknown; url?: unknown; start?: unknown };

const rawName = (s: RawServer) => (typeof s === 'string' ? s : String(s.name));

/**
 * "NAME URL [COMMAND...]": a server to compare (started by the shell command, when there is one), as a
 * compare.servers entry.
 */
function addedServer(text: string): RawServer | null {
  const m = /^\s*(\S+)\s+(\S+)(?:\s+(\S[\s\S]*?))?\s*$/.exec(text);
  if (m === null) return null;
  return m[3] !== undefined ? { name: m[1], url: m[2], start: m[3] } : { name: m[1], url: m[2] };
}

/**
 * The compare section of the scenario file as written (servers to pick from, gates to add to); empty
 * when it cannot be read.
 */
function fileCompare(file: string | undefined): { servers: RawServer[]; gate: string[] } {
  try {
    const c = readScenarioFile(resolveScenarioPath(file ?? 'quickstart')).data.compare as
      | { servers?: unknown; gate?: unknown }
      | undefined;
    return {
      servers: Array.isArray(c?.servers) ? (c.servers as RawServer[]) : [],
      gate: Array.isArray(c?.gate) ? (c.gate as string[]) : [],
    };
  } catch {
    return { servers: [], gate: [] }; // scenarioFromInput reports it
  }
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
    .map((v) =>
      v === 'true' || v === 'on'
        ? true
        : v === 'false' || v === 'off'
          ? false
          : /^-?\d+(\.\d+)?$/.test(v)
            ? Number(v)
            : v,
    );
  return values.length > 0 ? [text.slice(0, i).trim(), values] : null;
}

/** Reads "NAME key=v,key=v" into a named settings variant. */
function namedVariant(text: string): { name: string; settings: Record<string, string | number | boolean> } | null {
  const m = /^\s*(\S+)\s+(\S[\s\S]*?)\s*$/.exec(text);
  if (m === null) return null;
  const settings: Record<string, string | number | boolean> = {};
  for (const pair of m[2]!.split(',')) {
    const e = matrixEntry(pair.trim());
    if (e === null || e[1].length !== 1) return null;
    settings[e[0]] = e[1][0]!;
  }
  return { name: m[1]!, settings };
}

/** Scenario + the comparison flags → what to compare, or every problem. */
function buildComparison(
  file: string | undefined,
  flags: CompareFlags,
): { scenario: Scenario | null; problems: string[] } {
  const problems: string[] = [];
  // Matrix and server lists from flags go through the scenario schema like the file's own.
  const overrides: Record<string, unknown> = {};
  if (flags.repeat !== undefined) {
    if (!/^\d+$/.test(flags.repeat) || Number(flags.repeat) < 1)
      problems.push(`--repeat: "${flags.repeat}" is not a whole number of at least 1`);
    else overrides.repeat = Number(flags.repeat);
  }
  if (flags.baseline !== undefined) overrides.baseline = flags.baseline;
  const fromFile = fileCompare(file);
  const commands: RawServer[] = [];
  for (const c of flags.addServer ?? []) {
    const e = addedServer(c);
    if (e === null)
      problems.push(
        `--add-server: "${c}" is not NAME URL [COMMAND] (e.g. "mine rtmp://127.0.0.1:1940/live ` +
          `exec ./my-server --port 1940")`,
      );
    else commands.push(e);
  }
  if (flags.servers !== undefined) {
    // Names pick entries of the file's compare.servers (and of --add-server), or built-in kinds.
    const pool = [...fromFile.servers, ...commands];
    const picked: RawServer[] = [];
    for (const name of flags.servers
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')) {
      const entry =
        pool.find((s) => rawName(s) === name) ??
        ((SERVER_KINDS as readonly string[]).includes(name) ? name : undefined);
      if (entry !== undefined) picked.push(entry);
      else
        problems.push(
          `--servers: "${name}" is neither a server of the scenario's ` +
            `compare.servers${pool.length > 0 ? ` (${pool.map(rawName).join(', ')})` : ''} nor one ` +
            `of ${SERVER_KINDS.join(', ')}`,
        );
    }
    overrides.servers = picked;
  } else if (commands.length > 0) {
    overrides.servers = commands;
  }
  if (flags.gate !== undefined && flags.gate.length > 0) overrides.gate = [...fromFile.gate, ...flags.gate];
  if (flags.matrix !== undefined && flags.matrix.length > 0) {
    const matrix: Record<string, unknown> = {};
    for (const m of flags.matrix) {
      const e = matrixEntry(m);
      if (e === null) problems.push(`--matrix: "${m}" is not KEY=V1,V2 (e.g. chunkSize=128,4096)`);
      else matrix[e[0]] = e[1];
    }
    overrides.matrix = matrix;
  }
  if (flags.variant !== undefined && flags.variant.length > 0) {
    const variants = [];
    for (const v of flags.variant) {
      const e = namedVariant(v);
      if (e === null) problems.push(`--variant: "${v}" is not NAME KEY=V[,KEY=V] (e.g. "merge-50 mergeWriteMs=50")`);
      else variants.push(e);
    }
    overrides.variants = variants;
  }
  const { scenario, problems: more } = scenarioFromInput(
    file,
    flags,
    Object.keys(overrides).length > 0 ? { compare: overrides } : {},
  );
  problems.push(...more);
  if (scenario !== null && scenario.compare === undefined)
    problems.push(
      'nothing to compare: give the scenario a compare section, or --servers / --add-server / --matrix / --variant',
    );
  const gates = scenario?.compare?.gate ?? [];
  if (scenario?.compare !== undefined && gates.length > 0 && scenario.compare.repeat < 2) {
    problems.push(
      `gates compare runs paired by round and need --repeat 2 or more (repeat is ${scenario.compare.repeat})`,
    );
  }
  return { scenario: problems.length === 0 ? scenario : null, problems };
}

async function compareCommand(file: string | undefined, flags: CompareFlags): Promise<number> {
  const { scenario, problems } = buildComparison(file, flags);
  if (scenario === null) {
    console.error(`rtmpbench compare: the comparison is not valid (nothing was started):\n  ${problems.join('\n  ')}`);
    return EXIT_USAGE;
  }
  const spec = scenario.compare!;
  let variants: Variant[];
  let against: SavedBaseline | undefined;
  try {
    variants = expandVariants(spec);
    if (flags.against !== undefined) {
      // The baseline comes from saved results: a variant of its own, not run here.
      const name = spec.baseline ?? 'saved';
      if (variants.some((v) => v.name === name))
        throw new UsageError(
          `--against: the saved baseline is named "${name}", as a variant that runs here; name it ` +
            `otherwise with --baseline`,
        );
      against = loadSavedBaseline(flags.against, name);
      if ((spec.gate ?? []).length > 0 && against.runs.length < 2)
        throw new UsageError(
          `--against: ${flags.against} holds ${against.runs.length} run; gates need at least two rounds`,
        );
      variants = [{ name, server: 'saved', settings: {} }, ...variants];
    }
  } catch (e) {
    console.error(`rtmpbench compare: ${(e as UsageError).reason ?? (e as Error).message}`);
    return EXIT_USAGE;
  }
  const baseline = against !== undefined ? variants[0]!.name : (spec.baseline ?? variants[0]!.name);
  const impossible = checkComparison(scenario, variants, baseline, {
    profileServer: flags.profileServer === true,
    serverSyscalls: flags.serverSyscalls === true,
  });
  if (impossible.length > 0) {
    console.error(`rtmpbench compare: the comparison cannot run (nothing was started):\n  ${impossible.join('\n  ')}`);
    return EXIT_USAGE;
  }
  stopChildrenOnSignals();
  const total = (variants.length - (against !== undefined ? 1 : 0)) * spec.repeat;
  const perRunMs = scenario.durationMs + 3000;
  console.error(
    `rtmpbench compare "${scenario.name}": ${variants.length} variants × ${spec.repeat} ` +
      `repeat(s) = ${total} runs of ${roughDuration(scenario.durationMs)} (about ` +
      `${formatDurationMs(Math.ceil((total * perRunMs) / 60_000) * 60_000)} in all)`,
  );
  if (against !== undefined)
    console.error(
      `baseline "${baseline}": ${against.runs.length} run(s) saved in ${against.dir} (started ` +
        `${against.startedAt}), not interleaved with these runs: a change of machine or load ` +
        `counts as a difference`,
    );
  const outcome = await runComparison({
    scenario,
    variants,
    repeat: spec.repeat,
    baseline,
    outDir: flags.out ?? 'results',
    ...(spec.gate !== undefined ? { gates: spec.gate } : {}),
    ...(against !== undefined ? { against } : {}),
    ...(flags.profileServer === true ? { profileServer: true } : {}),
    ...(flags.serverSyscalls === true ? { serverSyscalls: true } : {}),
    onStart: (i, n, v, round) => {
      if (flags.progress !== false) console.error(`[${i + 1}/${n}] ${v.name} (round ${round + 1})`);
    },
    onRun: (_done, _n, run, s) => {
      if (flags.progress === false) return;
      if (s === null) console.error(`    failed: ${run.error}`);
      else {
        const srv = s.server ? `, server ${s.server.cpuSeconds.toFixed(1)} s CPU` : '';
        console.error(
          `    e2e p99 ${s.latencyMs.endToEnd.p99.toFixed(1)} ms, first frame p99 ` +
            `${s.latencyMs.firstFrame.p99.toFixed(1)} ms, lost ` +
            `${s.frames.lost}${srv}${run.thresholdsPassed ? '' : ', a threshold FAILED'}`,
        );
      }
    },
  });
  const loaded = loadComparison(outcome.dir);
  const table = computeComparison(loaded);
  const written = writeReports(loaded, table);
  if (flags.junit !== undefined) {
    writeFileSync(flags.junit, comparisonJunit(loaded));
    written.push(flags.junit);
  }
  if (flags.json)
    process.stdout.write(`${JSON.stringify({ dir: outcome.dir, comparison: outcome.file, table }, null, 2)}\n`);
  else {
    const diff = profileDifferenceText(loaded);
    process.stdout.write(
      `${formatComparison(table)}\n${diff !== null ? `\n${diff}\n` : ''}results: ${outcome.dir}\nreports: ${written.join(', ')}\n`,
    );
  }
  // A failed run first (3), then a failed gate or threshold (1).
  if (outcome.file.runs.some((r) => r.dir === null)) {
    console.error(
      `rtmpbench compare: ${outcome.file.runs.filter((r) => r.dir === null).length} run(s) failed (see the table)`,
    );
    return EXIT_RUN_FAILED;
  }
  const gatesFailed = failedGates(outcome.file.gates);
  for (const g of gatesFailed) console.error(`rtmpbench compare: gate FAILED: ${g.message}`);
  return gatesFailed.length > 0 || outcome.file.runs.some((r) => r.thresholdsPassed === false)
    ? EXIT_THRESHOLD_FAILED
    : EXIT_OK;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerCompare(program: Command): void {
  addScenarioOptions(
    program
      .command('compare')
      .description(
        'run a scenario against several servers and/or built-in server settings, interleaved and ' +
          'repeated, and compare them',
      )
      .argument('[scenario]', 'a scenario file with a compare section, or a shipped one (tuning-matrix)'),
  )
    .option('--repeat <n>', 'runs per variant (interleaved: A B C, C B A, ...)')
    .option(
      '--profile-server',
      "sample each run's server with Linux perf: a flame graph per run, and where each variant's samples go " +
        "against the baseline's",
    )
    .option(
      '--server-syscalls',
      "count each run's server's system calls by kind with perf's syscall tracepoints (server.syscalls)",
    )
    .option('--baseline <variant>', 'variant the others are compared with (default: the first)')
    .option(
      '--servers <list>',
      `servers to compare, comma-separated: names of the scenario's compare.servers entries, ` +
        `or ${SERVER_KINDS.join(', ')}`,
    )
    .option(
      '--add-server <"name url [command]">',
      'a server to compare: its name, its URL and, to start it before each run (stopped with ' +
        'its process group after it), a shell command, e.g. "mine rtmp://127.0.0.1:1940/live ' +
        'exec ./my-server --port 1940" (repeat; replaces the file\'s compare.servers unless ' +
        '--servers picks from both)',
      collect,
    )
    .option(
      '--matrix <key=v1,v2>',
      "a built-in server setting to vary, e.g. chunkSize=128,4096 (repeat; replaces the file's matrix)",
      collect,
    )
    .option(
      '--variant <"name key=v,key=v">',
      'a named set of built-in server settings run as a variant of its own, beside the matrix ' +
        'or the defaults, e.g. "merge-50 mergeWriteMs=50" (repeat; replaces the file\'s ' +
        'compare.variants)',
      collect,
    )
    .option(
      '--gate <rule>',
      'how much worse than the baseline a variant may get, e.g. "latency.endToEnd.p99 +10%" or ' +
        '"latency.firstFrame.p95 +50ms" (repeat; adds to the file\'s compare.gate); exit 1 if a ' +
        'variant is significantly worse beyond it',
      collect,
    )
    .option(
      '--against <dir>',
      "take the baseline's runs from results saved earlier (a comparison, a run, or a folder " +
        'of runs) instead of running it: not interleaved, so less trustworthy',
    )
    .option(
      '--junit <file>',
      'also write JUnit XML: a test case per gate rule and variant, and per threshold of each run',
    )
    .action(async (file: string | undefined, flags: CompareFlags) => {
      process.exitCode = await compareCommand(file, flags);
    });
}

/**
 * A run's length as a person reads it: whole minutes from two minutes on, else whole seconds (waves
 * add a millisecond each).
 */
function roughDuration(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)}m` : `${Math.max(1, Math.round(ms / 1000))}s`;
}
