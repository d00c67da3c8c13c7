import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../input/usage-error.js';
import { RunError } from '../load/errors.js';
import { runScenario } from '../load/orchestrator.js';
import { freePort, waitForPort } from '../proc/port.js';
import { serveCommand } from '../proc/servers.js';
import { launch } from '../proc/spawn.js';
import type { Progress } from '../results/progress.js';
import type { Scenario } from '../results/scenario.js';
import type { RunSummary } from '../results/summary.js';
import { PACKAGE_ROOT } from '../version.js';

/**
 * Profiling the built-in server: it runs in its own process under a profiler (clinic, or
 * Node's own --cpu-prof / --heap-prof) while the scenario's load runs from this process
 * (worker threads), so the profile holds the server alone. When the load is done the server
 * gets SIGINT, the profiler writes its output, and that goes into the run's results folder.
 */

export const PROFILE_TOOLS = [
  'doctor',
  'flame',
  'bubbleprof',
  'heapprofiler',
  'cpu-prof',
  'heap-prof',
  'perf',
] as const;
export type ProfileTool = (typeof PROFILE_TOOLS)[number];
/** The tools that run the built-in server under a Node profiler (perf samples any server). */
export type NodeProfileTool = Exclude<ProfileTool, 'perf'>;

const CLINIC_TOOLS = new Set<ProfileTool>(['doctor', 'flame', 'bubbleprof', 'heapprofiler']);

/** clinic's CLI, if installed (it is a development dependency: heavy, and no longer maintained). */
function clinicBin(): string | null {
  try {
    return createRequire(import.meta.url).resolve('clinic/bin.js');
  } catch {
    return null;
  }
}

export interface ProfileOptions {
  scenario: Scenario;
  tool: NodeProfileTool;
  outDir?: string;
  onProgress?: (p: Progress) => void;
  /** Called with the profiler's own output lines (clinic prints what it does). */
  onLog?: (line: string) => void;
  /** How long the profiler may take to write its report after the server stops. */
  analysisTimeoutMs?: number;
}

export interface ProfileOutcome {
  summary: RunSummary;
  resultsDir: string;
  /** The profiler's main output: clinic's HTML page, or the .cpuprofile / .heapprofile. */
  report: string;
  /** Every file or folder the profiler wrote, moved into `resultsDir/profile/`. */
  files: string[];
}

/**
 * Any server under Linux perf (the built-in one, or an external target with its --server-pid):
 * a run with `profileServer`, whose folder holds the folded stacks, the speedscope file and the
 * flame graph.
 */
export async function profileWithPerf(
  opts: Pick<ProfileOptions, 'scenario' | 'outDir' | 'onProgress'>,
): Promise<ProfileOutcome> {
  const outcome = await runScenario({
    scenario: opts.scenario,
    outDir: opts.outDir ?? 'results',
    profileServer: true,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const files = outcome.summary.serverProfile?.files;
  if (files === undefined) throw new RunError('perf recorded no profile');
  const report = join(outcome.resultsDir, files.speedscope);
  return {
    summary: outcome.summary,
    resultsDir: outcome.resultsDir,
    report,
    files: [report, join(outcome.resultsDir, files.folded), join(outcome.resultsDir, files.raw)],
  };
}

export async function profileServer(opts: ProfileOptions): Promise<ProfileOutcome> {
  const { scenario, tool } = opts;
  if (scenario.target !== 'builtin')
    throw new UsageError(`profile runs the built-in server; the scenario targets ${scenario.target}`);
  const clinic = CLINIC_TOOLS.has(tool) ? clinicBin() : null;
  if (CLINIC_TOOLS.has(tool) && clinic === null) {
    throw new UsageError(
      `clinic is not installed (npm install clinic), or use --tool cpu-prof / heap-prof (Node's own profilers)`,
    );
  }
  const scratch = mkdtempSync(join(tmpdir(), 'rtmpbench-profile-'));
  const dest = join(scratch, 'out');
  mkdirSync(dest);
  const port = await freePort();
  const config = join(scratch, 'server.json');
  writeFileSync(config, JSON.stringify(scenario.server));
  const serve = serveCommand([
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--config',
    config,
    '--log-level',
    'warn',
  ]);
  const args =
    clinic !== null
      ? [clinic, tool, '--dest', dest, '--open=false', '--', process.execPath, ...serve.args]
      : tool === 'cpu-prof'
        ? [`--cpu-prof`, `--cpu-prof-dir=${dest}`, ...serve.args]
        : [`--heap-prof`, `--heap-prof-dir=${dest}`, ...serve.args];
  // Its own process group: clinic starts the server as its child, and both must stop.
  const child = launch(process.execPath, args, {
    cwd: scratch,
    group: true,
    env: { NO_INSIGHT: 'true', NO_UPDATE_NOTIFIER: '1' },
    onOutput: (text) => {
      for (const line of text.split('\n')) if (line.trim() !== '') opts.onLog?.(line.trimEnd());
    },
  });
  try {
    try {
      await waitForPort(port, {
        timeoutMs: 60_000,
        intervalMs: 100,
        abandon: () => (child.running ? null : 'the profiled server exited'),
      });
    } catch (e) {
      throw new RunError(`${(e as Error).message}: ${child.output().slice(-2000)}`);
    }
    const outcome = await runScenario({
      scenario: { ...scenario, target: `rtmp://127.0.0.1:${port}/live`, server: {} },
      outDir: opts.outDir ?? 'results',
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    // Stop the server: clinic (or Node) writes the profile as it exits.
    const code = await child.stop({ signal: 'SIGINT', graceMs: opts.analysisTimeoutMs ?? 300_000 });
    const written = readdirSync(dest);
    if (written.length === 0)
      throw new RunError(`${tool} wrote nothing (exit ${code}): ${child.output().slice(-2000)}`);
    const target = join(outcome.resultsDir, 'profile');
    mkdirSync(target, { recursive: true });
    const files = written.map((f) => {
      renameSync(join(dest, f), join(target, f));
      return join(target, f);
    });
    const report =
      files.find((f) => f.endsWith('.html')) ??
      files.find((f) => f.endsWith('.cpuprofile') || f.endsWith('.heapprofile')) ??
      files.find((f) => statSync(f).isDirectory()) ??
      files[0]!;
    if (clinic !== null && !report.endsWith('.html'))
      throw new RunError(`clinic ${tool} wrote no HTML report (exit ${code}): ${child.output().slice(-2000)}`);
    return { summary: outcome.summary, resultsDir: outcome.resultsDir, report, files };
  } finally {
    await child.stop({ signal: 'SIGKILL', graceMs: 1000 });
    rmSync(scratch, { recursive: true, force: true });
  }
}

export interface HotSpot {
  functionName: string;
  /** file:line of the function, relative to the package where it is inside it. */
  location: string;
  selfMs: number;
  selfPercent: number;
}

/** The functions with the most self time in a .cpuprofile (V8's format, as --cpu-prof writes it). */
export function cpuHotSpots(file: string, top = 15): { totalMs: number; spots: HotSpot[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = Math.max(0, profile.timeDeltas[i] ?? 0);
    const node = byId.get(id);
    if (node === undefined) return;
    const f = node.callFrame;
    if (f.functionName === '(idle)') return;
    const root = PACKAGE_ROOT.endsWith('/') ? PACKAGE_ROOT : `${PACKAGE_ROOT}/`;
    const url = f.url.replace(/^file:\/\//, '').replace(root, '');
    const key = `${f.functionName || '(anonymous)'}\u0000${url ? `${url}:${f.lineNumber + 1}` : '(native)'}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    total += dt;
  });
  const spots = [...selfUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, us]) => {
      const [functionName, location] = key.split('\u0000') as [string, string];
      return {
        functionName,
        location,
        selfMs: Math.round(us / 100) / 10,
        selfPercent: total > 0 ? Math.round((us / total) * 1000) / 10 : 0,
      };
    });
  return { totalMs: Math.round(total / 1000), spots };
}
