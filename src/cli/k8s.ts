import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseDurationMs } from '../input/units.js';
import { UsageError } from '../input/usage-error.js';
import { k8sName, k8sYaml, nameProblem } from '../lab/k8s.js';
import { resolveScenarioPath } from '../load/scenario-file.js';
import { describedScenarioFlags, scenarioFromInput, type FlagValues } from '../load/scenario-input.js';
import { newRunId } from '../load/share-run.js';
import { startAtFlag } from './coordinate.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { addScenarioFlags } from './scenario-options.js';

interface K8sFlags extends FlagValues {
  shares?: string;
  image?: string;
  runId?: string;
  startAt?: string;
  startTimeout?: string;
  maxLate?: string;
  clockCorrection?: string;
  namespace?: string;
  jobName?: string;
  resultsVolume?: string;
}

/** The share's wait for the others when --start-timeout does not say (as `run`'s). */
const DEFAULT_START_TIMEOUT_MS = 10 * 60_000;

/** The scenario flags given, as `run` takes them again in each share. */
function scenarioArgs(flags: FlagValues): string[] {
  const args: string[] = [];
  for (const f of describedScenarioFlags()) {
    const v = flags[f.key];
    if (v === undefined || v === false) continue;
    if (v === true) args.push(`--${f.name}`);
    else for (const one of [v].flat()) args.push(`--${f.name}`, one);
  }
  return args;
}

function duration(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = parseDurationMs(v);
  if (ms === null || ms <= 0) throw new UsageError(`${flag}: "${v}" is not a duration`);
  return ms;
}

/** Checks every input, then prints the manifests; nothing is printed when something is wrong. */
function k8sCommand(file: string, flags: K8sFlags): number {
  const problems: string[] = [];
  const shares = Number(flags.shares);
  if (!Number.isInteger(shares) || shares < 1) problems.push(`--shares: "${flags.shares}" is not a number of shares`);
  if (flags.image === undefined || flags.image.trim() === '') problems.push('--image: the container image is needed');
  if (flags.runId !== undefined && !/^[A-Za-z0-9._:-]{1,64}$/.test(flags.runId))
    problems.push(`--run-id: "${flags.runId}" is not 1-64 letters, digits and . _ : -`);
  if (flags.clockCorrection !== undefined && !['on', 'off'].includes(flags.clockCorrection))
    problems.push(`--clock-correction: "${flags.clockCorrection}" is not on or off`);
  if (flags.jobName !== undefined) {
    const why = nameProblem(flags.jobName);
    if (why !== null) problems.push(`--job-name: ${why}`);
  }
  const checked = <T>(check: () => T): T | undefined => {
    try {
      return check();
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      problems.push(e.reason);
      return undefined;
    }
  };
  const startTimeoutMs = checked(() => duration('--start-timeout', flags.startTimeout)) ?? DEFAULT_START_TIMEOUT_MS;
  checked(() => duration('--max-late', flags.maxLate));
  if (flags.startAt !== undefined) checked(() => startAtFlag(flags.startAt!));
  const { scenario, problems: scenarioProblems } = scenarioFromInput(file, flags);
  problems.push(...scenarioProblems);
  if (scenario !== null && scenario.target === 'builtin')
    problems.push(
      'the shares need one server to load: give --target rtmp://HOST[:PORT]/APP (or a target: in the file)',
    );
  if (problems.length > 0 || scenario === null) {
    console.error(`rtmpbench k8s: nothing was printed:\n  ${problems.join('\n  ')}`);
    return EXIT_USAGE;
  }
  const runId = flags.runId ?? newRunId();
  const scenarioText = readFileSync(resolveScenarioPath(file), 'utf8');
  const passed = (flag: string, v: string | undefined) => (v !== undefined ? [flag, v] : []);
  process.stdout.write(
    k8sYaml({
      scenarioText,
      shares,
      image: flags.image!.trim(),
      runId,
      name: flags.jobName ?? k8sName(runId),
      ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
      ...(flags.resultsVolume !== undefined ? { resultsClaim: flags.resultsVolume } : {}),
      runArgs: [
        ...scenarioArgs(flags),
        ...passed('--start-timeout', flags.startTimeout),
        ...passed('--max-late', flags.maxLate),
        ...passed('--clock-correction', flags.clockCorrection),
      ],
      coordinatorArgs: passed('--start-at', flags.startAt),
      shareMaxMs: startTimeoutMs + scenario.warmupMs + scenario.durationMs,
    }),
  );
  return EXIT_OK;
}

export function registerK8s(program: Command): void {
  addScenarioFlags(
    program
      .command('k8s')
      .description('print Kubernetes manifests that run a scenario as N shares, one per node, and merge their results')
      .argument('<scenario>', 'a scenario file, or the name of a shipped one (embedded in a ConfigMap)'),
  )
    .option('--shares <n>', 'how many shares (pods, each on a node of its own)')
    .option('--image <image>', 'the rtmpbench container image (Containerfile)')
    .option('--run-id <id>', 'the id every share records (default: a new one)')
    .option('--start-at <time>', 'start at this time (ISO with zone) instead of when every share has joined')
    .option('--start-timeout <time>', 'how long a share waits for the coordinator and the others (default: 10m)')
    .option('--max-late <time>', 'fail a share that began later than this after the common start (default: 1s)')
    .option('--clock-correction <on|off>', 'marks on the reference clock (on, the default) or on each host’s own')
    .option('--namespace <ns>', 'the namespace of the objects (default: kubectl’s)')
    .option('--job-name <name>', 'name of the Job, its Service and ConfigMap (default: rtmpbench-<run id>)')
    .option(
      '--results-volume <claim>',
      'a ReadWriteMany PersistentVolumeClaim for the results (and a merge Job); without it, results go to the logs',
    )
    .action((file: string, flags: K8sFlags) => {
      process.exitCode = k8sCommand(file, flags);
    });
}
