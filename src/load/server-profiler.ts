import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../input/usage-error.js';
import {
  type FoldedStacks,
  foldedText,
  sampleCount,
  speedscopeFile,
  StackFolder,
  topFunctions,
} from '../metrics/stack-samples.js';
import { parseSyscallCounts, type SyscallCounts, syscallEvents } from '../metrics/syscall-counts.js';
import {
  groupMembers,
  hasSyscallTracepoint,
  PERF_EVENT,
  PERF_FREQUENCY_HZ,
  PerfRecording,
  PerfStat,
  perfProblems,
  perfScript,
  syscallCountProblems,
} from '../proc/perf.js';
import type { Scenario } from '../results/scenario.js';
import { SERVER_PROFILE_FILES, type ServerProfileRecord, SYSCALL_COUNTS_FILE } from '../results/server-profile.js';
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
  checkServerPerf(s, serverGroup, 'sample the server (--profile-server, profile --tool perf)', perfProblems);
}

/** The same for `--server-syscalls`: perf counting the server's system calls by their tracepoints. */
export function checkServerSyscalls(s: Scenario, serverGroup?: number): void {
  checkServerPerf(s, serverGroup, "count the server's system calls (--server-syscalls)", syscallCountProblems);
}

function checkServerPerf(
  s: Scenario,
  serverGroup: number | undefined,
  what: string,
  find: (pids: readonly number[]) => string[],
): void {
  const pids = serverGroup !== undefined ? groupMembers(serverGroup) : s.serverPid !== undefined ? [s.serverPid] : [];
  const problems = find(pids);
  if (s.target !== 'builtin' && serverGroup === undefined && s.serverPid === undefined)
    problems.push(
      `the server's process is not known for ${s.target}: name it with --server-pid PID ` +
        '(or let rtmpbench start the server: the built-in one, or compare --servers)',
    );
  if (problems.length > 0) throw new UsageError(`perf cannot ${what}:\n  ${problems.join('\n  ')}`);
}

/** The server's processes now: its group's members, or its one process. */
function serverPids(server: ServerProcess): number[] {
  return server.group !== undefined ? groupMembers(server.group) : server.pid !== undefined ? [server.pid] : [];
}

/**
 * perf counting the server's system calls by kind from the run's start to its end (see
 * metrics/syscall-counts.ts). Its counts go into the summary under `server.syscalls`.
 */
export class ServerSyscallCounter {
  private stat: PerfStat | null = null;

  constructor(private readonly server: ServerProcess) {}

  start(resultsDir: string): void {
    const pids = serverPids(this.server);
    if (pids.length === 0) throw new RunError("--server-syscalls: the server's process is gone");
    this.stat = new PerfStat(pids, syscallEvents(hasSyscallTracepoint), join(resultsDir, SYSCALL_COUNTS_FILE));
  }

  /** Stops perf; the counts by kind, or null (with perf's words on stderr) when it counted nothing. */
  async stop(): Promise<SyscallCounts | null> {
    const stat = this.stat;
    if (stat === null) return null;
    this.stat = null;
    const counts = parseSyscallCounts(await stat.stop());
    if (counts === null) process.stderr.write(`perf stat counted nothing: ${stat.output().trim().slice(-2000)}\n`);
    return counts;
  }
}

/**
 * perf sampling the server's processes from the run's start to its end; at the end its samples
 * are folded into `server-profile.folded` and a speedscope file beside the summary.
 */
export class ServerProfiler {
  private recording: PerfRecording | null = null;

  constructor(private readonly server: ServerProcess) {}

  start(resultsDir: string): void {
    const pids = serverPids(this.server);
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
    return writeServerProfile(resultsDir, folder.finish(), name, [...rec.pids]);
  }
}

/**
 * A server profile's files beside a summary (the folded stacks and a speedscope file) and its
 * record for the summary: for one run's samples, and for a merged run's.
 */
export function writeServerProfile(
  resultsDir: string,
  stacks: FoldedStacks,
  name: string,
  pids: number[],
): ServerProfileRecord {
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
    pids,
    samples: sampleCount(stacks),
    top: topFunctions(stacks, 20),
    files: SERVER_PROFILE_FILES,
  };
}
