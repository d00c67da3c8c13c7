import type { TopFunction } from '../metrics/stack-samples.js';

/** Files of a server profile in a results folder. */
export const SERVER_PROFILE_FILES = {
  folded: 'server-profile.folded',
  speedscope: 'server-profile.speedscope.json',
  /** perf's raw samples: kept for `perf report`, never committed (results/baselines ignores it). */
  raw: 'perf.data',
} as const;

/** A CPU profile of the server under test, sampled by Linux perf while the load ran (`--profile-server`). */
export interface ServerProfileRecord {
  tool: 'perf';
  event: string;
  frequencyHz: number;
  /** `fp`: frame-pointer call graphs (perf record -g). */
  callGraph: 'fp';
  /** The processes sampled. */
  pids: number[];
  samples: number;
  /** The functions with the most samples on top of the stack, with their share anywhere in it. */
  top: TopFunction[];
  files: typeof SERVER_PROFILE_FILES;
}

/** perf stat's counts of the server's system calls (`--server-syscalls`), beside the summary. */
export const SYSCALL_COUNTS_FILE = 'server-syscalls.csv';
