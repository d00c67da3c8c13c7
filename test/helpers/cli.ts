import { run, type RunResult } from '../../bench/lib/proc.js';
import { CLI } from './server.js';

/** Runs the built CLI to the end; kills it (by PID) if it outlives `timeoutMs`. */
export function cli(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], timeoutMs);
}
