import { readdirSync, readFileSync } from 'node:fs';
import { clockTicks, eachGroupMember, F_CSTIME, F_CUTIME, F_PGRP, F_PPID, F_STIME, F_UTIME } from './process-group.js';

/**
 * Where a process spends its time, from the kernel's own counters (Linux /proc): CPU in user and
 * kernel mode, context switches, and the read and write family of system calls with their bytes.
 * Any process of this host can be read this way, whatever it is written in; nothing is traced, so
 * reading costs the process under test nothing (a few files per sample, read by the generator).
 *
 * - `/proc/PID/stat` utime, stime (and cutime, cstime: children it has reaped), clock ticks.
 * - `/proc/PID/task/TID/status` voluntary_ctxt_switches, nonvoluntary_ctxt_switches: kept per
 *   thread, so summed over the threads that are alive (a thread that ended takes its counts with it).
 * - `/proc/PID/io` syscw, wchar, syscr, rchar: the whole process (every thread, ended ones too,
 *   and children it has reaped). The kernel counts them where reads and writes go through the
 *   file layer: read, readv, pread, write, writev, pwrite, sendfile, splice — on sockets, files
 *   and pipes alike — but not the socket calls send, sendto, sendmsg, recv, recvfrom, recvmsg
 *   (libuv, so Node, uses read, write and writev; nginx-rtmp sends with send and reads with recv).
 *   Reading another user's /proc/PID/io needs the right to trace it (root, or the same user).
 */
const COST_COUNT_KEYS = [
  'userCpuSeconds',
  'kernelCpuSeconds',
  'voluntaryCtxSwitches',
  'involuntaryCtxSwitches',
  'writeCalls',
  'writeBytes',
  'readCalls',
  'readBytes',
] as const;

export type CostCounts = Record<(typeof COST_COUNT_KEYS)[number], number>;

/** A `key:  value` line of a /proc status or io file, or 0. */
function field(text: string, key: string): number {
  const at = text.indexOf(`${key}:`);
  if (at < 0) return 0;
  return Number.parseInt(text.slice(at + key.length + 1).trimStart(), 10) || 0;
}

function zero(): CostCounts {
  return Object.fromEntries(COST_COUNT_KEYS.map((k) => [k, 0])) as CostCounts;
}

function addInto(into: CostCounts, c: CostCounts): void {
  for (const k of COST_COUNT_KEYS) into[k] += c[k];
}

/** The counts of one process (every thread of it), with its parent and group; null when it is gone or unreadable. */
function readOne(pid: number): { counts: CostCounts; ppid: number; pgrp: number } | null {
  let stat: string;
  let io: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    io = readFileSync(`/proc/${pid}/io`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces: split after its closing parenthesis.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tck = clockTicks();
  const counts = zero();
  counts.userCpuSeconds = (Number(f[F_UTIME]) + Number(f[F_CUTIME])) / tck;
  counts.kernelCpuSeconds = (Number(f[F_STIME]) + Number(f[F_CSTIME])) / tck;
  counts.writeCalls = field(io, 'syscw');
  counts.writeBytes = field(io, 'wchar');
  counts.readCalls = field(io, 'syscr');
  counts.readBytes = field(io, 'rchar');
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    tids = [];
  }
  for (const tid of tids) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      counts.voluntaryCtxSwitches += field(status, 'voluntary_ctxt_switches');
      counts.involuntaryCtxSwitches += field(status, 'nonvoluntary_ctxt_switches');
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return { counts, ppid: Number(f[F_PPID]), pgrp: Number(f[F_PGRP]) };
}

/** One process's counts now (null when it is gone or its /proc/PID/io cannot be read). */
export function readProcessCost(pid: number): CostCounts | null {
  return readOne(pid)?.counts ?? null;
}

/**
 * The counts of a process group (every process whose pgrp is `pgid`), by the rule of
 * process-group.ts: a member that ended under a parent of the group handed its CPU and I/O to that
 * parent when it was reaped; one that ended elsewhere keeps the counts it last had. Each count
 * never goes down.
 */
export class ProcessGroupCost {
  private members = new Map<number, { ppid: number; counts: CostCounts }>();
  private readonly departed = zero();
  private readonly last = zero();

  constructor(readonly pgid: number) {}

  sample(): CostCounts | null {
    const seen = new Map<number, { ppid: number; counts: CostCounts }>();
    const listed = eachGroupMember(this.pgid, (pid) => {
      const one = readOne(pid);
      if (one !== null) seen.set(pid, { ppid: one.ppid, counts: one.counts });
    });
    if (!listed) return null;
    for (const [pid, m] of this.members) if (!seen.has(pid) && !seen.has(m.ppid)) addInto(this.departed, m.counts);
    this.members = seen;
    if (seen.size === 0) return null;
    const now = zero();
    addInto(now, this.departed);
    for (const m of seen.values()) addInto(now, m.counts);
    for (const k of COST_COUNT_KEYS) this.last[k] = Math.max(this.last[k], now[k]);
    return { ...this.last };
  }
}

/** The counts of a process or a process group, at the start, at the end and when asked (each second). */
export class CostMonitor {
  private first: CostCounts | null = null;
  private latest: CostCounts | null = null;
  private readonly group: ProcessGroupCost | null;

  constructor(
    readonly pid: number,
    opts: { group?: boolean } = {},
  ) {
    this.group = opts.group === true ? new ProcessGroupCost(pid) : null;
  }

  start(): void {
    this.first = this.current();
  }

  /** Counts since the start, as they stand now (cumulative); null when the process could not be read. */
  current(): CostCounts | null {
    const s = this.group !== null ? this.group.sample() : readProcessCost(this.pid);
    if (s !== null) this.latest = s;
    return s;
  }

  /** The counts over the run: the end's less the start's. */
  stop(): CostCounts | null {
    this.current();
    if (this.first === null || this.latest === null) return null;
    const out = zero();
    for (const k of COST_COUNT_KEYS) out[k] = this.latest[k] - this.first[k];
    return out;
  }
}
