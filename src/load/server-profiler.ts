import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../input/usage-error.js';
import { foldedText, sampleCount, speedscopeFile, StackFolder, topFunctions } from '../metrics/stack-samples.js';
import { groupMembers, PERF_EVENT, PERF_FREQUENCY_HZ, perfProblems, PerfRecording, perfScript } from '../proc/perf.js';
import type { Scenario } from '../results/scenario.js';
import { SERVER_PROFILE_FILES, type ServerProfileRecord } from '../results/server-profile.js';
import { RunError } from './errors.js';

/** Where the server under test runs, as far as the run knows before it starts it. */
export interface ServerProcess {
  /** A process group (a server a shell command started). */
  group?: number;
  /** One process (the built-in server, once started; --server-pid). */
  pid?: number;
}

/**
 * Refuses, before any load starts, a `--profile-server` that cannot work here: perf missing, the
 * kernel setting too strict for this user, no server process known, a process of another user.
 * The built-in server is started by the run itself, so its process is known and ours.
 */
export function checkServerProfiling(s: Scenario, serverGroup?: number): void {
  const pids = serverGroup !== undefined ? groupMembers(serverGroup) : s.serverPid !== undefined ? [s.serverPid] : [];
  const problems = perfProblems(pids);
  if (s.target !== 'builtin' && serverGroup === undefined && s.serverPid === undefined)
    problems.push(
      `the server's process is not known for ${s.target}: name it with --server-pid PID ` +
        '(or let rtmpbench start the server: the built-in one, or compare --servers)',
    );
  if (problems.length > 0)
    throw new UsageError(
      `perf cannot sample the server (--profile-server, profile --tool perf):\n  ${problems.join('\n  ')}`,
    );
}

/**
 * perf sampling the server's processes from the run's start to its end; at the end its samples
 * are folded into `server-profile.folded` and a speedscope file beside the summary.
 */
export class ServerProfiler {
  private recording: PerfRecording | null = null;

  constructor(private readonly server: ServerProcess) {}

  start(resultsDir: string): void {
    const pids =
      this.server.group !== undefined
        ? groupMembers(this.server.group)
        : this.server.pid !== undefined
          ? [this.server.pid]
          : [];
    if (pids.length === 0) throw new RunError("--profile-server: the server's process is gone");
    this.recording = new PerfRecording(pids, join(resultsDir, SERVER_PROFILE_FILES.raw));
  }

  /** Stops perf (SIGINT: it writes its file). */
  async stop(): Promise<void> {
    await this.recording?.stop();
  }

  /** Folds the samples and writes the profile's files; its record goes into the summary. */
  async finish(resultsDir: string, name: string): Promise<ServerProfileRecord> {
    const rec = this.recording;
    if (rec === null) throw new RunError('--profile-server: perf was not started');
    await rec.stop();
    if (!existsSync(rec.file)) throw new RunError(`perf wrote no samples: ${rec.output().trim().slice(-2000)}`);
    const folder = new StackFolder();
    await perfScript(rec.file, (text) => folder.push(text));
    const stacks = folder.finish();
    writeFileSync(join(resultsDir, SERVER_PROFILE_FILES.folded), foldedText(stacks));
    writeFileSync(
      join(resultsDir, SERVER_PROFILE_FILES.speedscope),
      JSON.stringify(speedscopeFile(stacks, `${name}: server CPU (perf ${PERF_EVENT} ${PERF_FREQUENCY_HZ} Hz)`)),
    );
    return {
      tool: 'perf',
      event: PERF_EVENT,
      frequencyHz: PERF_FREQUENCY_HZ,
      callGraph: 'fp',
      pids: [...rec.pids],
      samples: sampleCount(stacks),
      top: topFunctions(stacks, 20),
      files: SERVER_PROFILE_FILES,
    };
  }
}
