import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { trackChild } from './children.js';
import { launch, type ChildHandle } from './spawn.js';

/**
 * Linux `perf` sampling a server's processes: what stops it from working here (said before any
 * load starts), `perf record` started and stopped by PID, and `perf script` streamed out.
 *
 * Sampling: the `cpu-clock` software event (no hardware PMU is needed, so it works in VMs and
 * containers), 499 Hz (off the beat of 1 ms and 10 ms timers), frame-pointer call graphs (`-g`).
 * `--call-graph dwarf` would unwind binaries built without frame pointers too, but copies 8 KB
 * of stack per sample and makes files a hundred times larger; Node's JIT code and the kernel keep
 * frame pointers, so `-g` gives whole stacks for Node servers and kernel paths, and shallow ones
 * (the function itself, sometimes its caller) for native servers built without them.
 */

export const PERF_FREQUENCY_HZ = 499;
export const PERF_EVENT = 'cpu-clock';

/** The `perf` program on PATH, or null. */
function findPerf(path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, 'perf');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

const PARANOID_FILE = '/proc/sys/kernel/perf_event_paranoid';

function readParanoid(): number | null {
  try {
    return Number(readFileSync(PARANOID_FILE, 'utf8').trim());
  } catch {
    return null;
  }
}

function ownerUid(pid: number): number | null {
  try {
    const m = /^Uid:\s+\d+\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Why `perf` cannot watch these processes as this user, each with its fix; empty when it can.
 * `maxParanoid`: the highest kernel.perf_event_paranoid at which an unprivileged user may do what
 * is asked (1: sample kernel code; -1: count tracepoints). `pids` may be empty (the server is
 * not started yet): only perf and the kernel setting are checked then.
 */
function perfUseProblems(pids: readonly number[], path: string, maxParanoid: number, what: string): string[] {
  const problems: string[] = [];
  if (findPerf(path) === null)
    problems.push(
      'perf is not installed (or not on PATH): install it (Debian: apt-get install linux-perf; ' +
        'Ubuntu: apt-get install linux-tools-generic; Fedora: dnf install perf)',
    );
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return problems;
  const paranoid = readParanoid();
  if (paranoid !== null && paranoid > maxParanoid)
    problems.push(
      `kernel.perf_event_paranoid is ${paranoid}: an unprivileged user may not ${what}; ` +
        `allow it with \`sudo sysctl kernel.perf_event_paranoid=${maxParanoid}\`, or run rtmpbench as root`,
    );
  for (const pid of pids) {
    const owner = ownerUid(pid);
    if (owner === null) problems.push(`process ${pid} does not exist`);
    else if (owner !== uid)
      problems.push(
        `process ${pid} belongs to user ${owner}, not to this user (${uid}): perf may not trace it; ` +
          'run rtmpbench as that user, or as root',
      );
  }
  return problems;
}

/**
 * Why `perf` cannot sample these processes with kernel frames as this user (above
 * perf_event_paranoid 1 an unprivileged user may not sample kernel code, where most of a
 * fan-out's cost lies); empty when it can.
 */
export function perfProblems(pids: readonly number[], path = process.env.PATH ?? ''): string[] {
  return perfUseProblems(pids, path, 1, 'sample the kernel');
}

/** The processes of a process group now (a server a shell command started, and what it started). */
export function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command (in parentheses, which may hold spaces): state, ppid, pgrp.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids.sort((a, b) => a - b);
}

/** A `perf record` running against some processes until stopped. */
export class PerfRecording {
  private readonly handle: ChildHandle;

  constructor(
    readonly pids: readonly number[],
    readonly file: string,
  ) {
    const perf = findPerf();
    if (perf === null) throw new Error('perf is not installed');
    this.handle = launch(perf, [
      'record',
      '-e',
      PERF_EVENT,
      '-F',
      String(PERF_FREQUENCY_HZ),
      '-g',
      '-p',
      pids.join(','),
      '-o',
      file,
    ]);
  }

  get running(): boolean {
    return this.handle.running;
  }

  /** perf's own words (errors, the "captured N samples" line). */
  output(): string {
    return this.handle.output();
  }

  /** SIGINT: perf writes its file and exits; SIGKILL if it takes longer than `graceMs`. */
  stop(graceMs = 30_000): Promise<number | null> {
    return this.handle.stop({ signal: 'SIGINT', graceMs });
  }
}

const TRACEFS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** Whether this kernel has the tracepoint syscalls:sys_enter_NAME (as this user sees tracefs). */
export function hasSyscallTracepoint(name: string): boolean {
  return TRACEFS.some((dir) => existsSync(`${dir}/events/syscalls/sys_enter_${name}`));
}

/**
 * Why `perf stat` cannot count this process's system calls by their tracepoints as this user,
 * each with its fix; empty when it can. Reading tracepoints needs the tracing file system
 * (root only on most systems) and, for an unprivileged user, kernel.perf_event_paranoid -1.
 */
export function syscallCountProblems(pids: readonly number[], path = process.env.PATH ?? ''): string[] {
  const problems = perfUseProblems(pids, path, -1, 'count tracepoints');
  if (!hasSyscallTracepoint('write'))
    problems.push(
      'the syscall tracepoints are not visible (tracefs at /sys/kernel/tracing is not mounted or not readable ' +
        'by this user; kernels built without CONFIG_FTRACE_SYSCALLS have none): run rtmpbench as root, ' +
        'or mount tracefs (`mount -t tracefs nodev /sys/kernel/tracing`)',
    );
  return problems;
}

/**
 * A `perf stat` counting events of some processes until stopped (SIGINT: it writes its counts
 * to `file` as `count,unit,event,...` lines). Counting is done in the kernel: no samples, no
 * copies; each counted event costs the traced thread a tracepoint hit.
 */
export class PerfStat {
  private readonly handle: ChildHandle;

  constructor(
    readonly pids: readonly number[],
    readonly events: readonly string[],
    readonly file: string,
  ) {
    const perf = findPerf();
    if (perf === null) throw new Error('perf is not installed');
    this.handle = launch(perf, ['stat', '-x,', '-e', events.join(','), '-p', pids.join(','), '-o', file]);
  }

  get running(): boolean {
    return this.handle.running;
  }

  output(): string {
    return this.handle.output();
  }

  /** SIGINT: perf writes its counts and exits. Resolves with the file's text ('' when it wrote none). */
  async stop(graceMs = 10_000): Promise<string> {
    await this.handle.stop({ signal: 'SIGINT', graceMs });
    try {
      return readFileSync(this.file, 'utf8');
    } catch {
      return '';
    }
  }
}

/** Streams `perf script -i file` to `onText`; rejects when perf fails. */
export function perfScript(file: string, onText: (text: string) => void, timeoutMs = 300_000): Promise<void> {
  const perf = findPerf();
  if (perf === null) return Promise.reject(new Error('perf is not installed'));
  return new Promise((resolve, reject) => {
    const child = spawn(perf, ['script', '-i', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', onText);
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 10_000) stderr += d.toString();
    });
    const untrack = trackChild(() => child.kill('SIGKILL'));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      untrack();
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      untrack();
      if (code === 0) resolve();
      else reject(new Error(`perf script exited ${code}: ${stderr.trim().slice(-2000)}`));
    });
  });
}
