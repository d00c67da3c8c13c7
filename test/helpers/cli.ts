import { run, type RunResult } from '../../bench/lib/proc.js';
import { CLI } from './server.js';

/** Runs the built CLI to the end; kills it (by PID) if it outlives `timeoutMs`. `env` adds to this process's environment. */
export function cli(args: string[], timeoutMs = 60_000, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], timeoutMs, env);
}
