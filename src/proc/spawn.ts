import { spawn, type ChildProcess } from 'node:child_process';
import { trackChild } from './children.js';

/**
 * Child processes, started and stopped in one place: each by its PID (or, when it runs in a
 * process group of its own, by that group), never by name. A started child is tracked so that
 * a run stopped by Ctrl-C or a job runner's SIGTERM stops it too (see children.ts).
 */

/** Output kept per child: enough for an error message, bounded. */
const OUTPUT_KEEP_CHARS = 100_000;

export interface LaunchOptions {
  cwd?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /**
   * Run in a process group of its own (a shell and what it starts, a profiler and the program
   * it profiles): signals then go to the whole group.
   */
  group?: boolean;
  /** Called with each chunk of stdout/stderr text as it arrives. */
  onOutput?: (text: string) => void;
}

export interface ChildHandle {
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout and stderr so far (the last 100,000 characters). */
  output(): string;
  /** Resolves with the exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  readonly running: boolean;
  /** Sends a signal to the process (or its group); false when it is already gone. */
  signal(sig: NodeJS.Signals): boolean;
  /** SIGTERM (or `sig`), then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<number | null>;
}

/** Starts a long-running program. Throws if it cannot be spawned at all. */
export function launch(cmd: string, args: readonly string[], opts: LaunchOptions = {}): ChildHandle {
  const child = spawn(cmd, [...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.env !== undefined ? { env: { ...process.env, ...opts.env } } : {}),
    detached: opts.group === true,
  });
  if (child.pid === undefined) throw new Error(`cannot start ${cmd}`);
  const pid = child.pid;
  let out = '';
  const keep = (d: Buffer) => {
    const text = d.toString();
    out += text;
    if (out.length > 2 * OUTPUT_KEEP_CHARS) out = out.slice(-OUTPUT_KEEP_CHARS);
    opts.onOutput?.(text);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    });
    child.once('error', () => {
      exitCode ??= null;
      resolve(null);
    });
  });
  const signal = (sig: NodeJS.Signals): boolean => {
    if (exitCode !== undefined) return false;
    try {
      if (opts.group === true) process.kill(-pid, sig);
      else process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  };
  const untrack = trackChild(() => signal('SIGKILL'));
  void exited.then(untrack);
  return {
    child,
    pid,
    output: () => out.slice(-OUTPUT_KEEP_CHARS),
    exited,
    get running() {
      return exitCode === undefined;
    },
    signal,
    async stop({ signal: sig = 'SIGTERM', graceMs = 3000 } = {}) {
      if (exitCode !== undefined) return exitCode;
      signal(sig);
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion, killing it (by PID) if it outlives `timeoutMs`. */
export function runToEnd(
  cmd: string,
  args: readonly string[],
  timeoutMs = 60_000,
  env?: NodeJS.ProcessEnv,
  cwd?: string,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(env ? { env: { ...process.env, ...env } } : {}),
      ...(cwd !== undefined ? { cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const untrack = trackChild(() => child.kill('SIGKILL'));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      untrack();
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      untrack();
      resolve({ code, signal, stdout, stderr });
    });
  });
}
