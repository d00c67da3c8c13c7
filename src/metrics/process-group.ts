import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time and memory of a whole process group, read from /proc (Linux): a server started by a
 * shell command (`sh -c "./server ..."`) runs as the shell's child, so the shell's own figures
 * say nothing about it. The group is every process whose pgrp is the group's id.
 *
 * CPU of a member counts its own time and that of the children it has reaped (cutime, cstime),
 * so time moves from a child to its parent when the child ends and nothing is counted twice. A
 * member that ends under a parent outside the group (or none) keeps the time it last had. The
 * sum never goes down.
 */

/** The same shape as a single process's sample (process-stats.ts). */
export interface GroupSample {
  cpuSeconds: number;
  rssBytes: number;
  maxRssBytes: number;
}

interface Member {
  ppid: number;
  /** Own and reaped children's CPU time, clock ticks. */
  cpuTicks: number;
}

let ticksPerSecond: number | null = null;
let pageBytes: number | null = null;

/** Clock ticks per second of /proc's CPU times (read once). */
export function clockTicks(): number {
  ticksPerSecond ??= getconf('CLK_TCK', 100);
  return ticksPerSecond;
}

function getconf(name: string, fallback: number): number {
  try {
    return Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim()) || fallback;
  } catch {
    return fallback;
  }
}

/** One line of /proc/PID/stat, split after the command name (which may hold spaces). */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * Each process of a process group now, with its /proc/PID/stat fields (after the command name);
 * false when /proc cannot be listed.
 */
export function eachGroupMember(pgid: number, visit: (pid: number, fields: string[]) => void): boolean {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return false;
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    const f = statFields(pid);
    if (f !== null && Number(f[F_PGRP]) === pgid) visit(pid, f);
  }
  return true;
}

// Fields of /proc/PID/stat after the command name (proc(5), counted from "state" as 0).
export const F_PPID = 1;
export const F_PGRP = 2;
export const F_UTIME = 11;
export const F_STIME = 12;
export const F_CUTIME = 13;
export const F_CSTIME = 14;
const F_RSS_PAGES = 21;

export class ProcessGroupSampler {
  private readonly members = new Map<number, Member>();
  /** CPU ticks of members that ended where no member of the group reaps them. */
  private departedTicks = 0;
  private lastCpuTicks = 0;

  constructor(readonly pgid: number) {
    clockTicks();
    pageBytes ??= getconf('PAGESIZE', 4096);
  }

  /** The group now: summed CPU (never less than before) and RSS; null when no member is left. */
  sample(): GroupSample | null {
    const seen = new Map<number, Member>();
    let rssPages = 0;
    const listed = eachGroupMember(this.pgid, (pid, f) => {
      seen.set(pid, {
        ppid: Number(f[F_PPID]),
        cpuTicks: Number(f[F_UTIME]) + Number(f[F_STIME]) + Number(f[F_CUTIME]) + Number(f[F_CSTIME]),
      });
      rssPages += Number(f[F_RSS_PAGES]);
    });
    if (!listed) return null;
    for (const [pid, m] of this.members) {
      // Gone: its time went to its parent's reaped-children time if the parent is one of ours.
      if (!seen.has(pid) && !seen.has(m.ppid)) this.departedTicks += m.cpuTicks;
    }
    this.members.clear();
    for (const [pid, m] of seen) this.members.set(pid, m);
    if (seen.size === 0) return null;
    let ticks = this.departedTicks;
    for (const m of seen.values()) ticks += m.cpuTicks;
    this.lastCpuTicks = Math.max(this.lastCpuTicks, ticks);
    const rssBytes = rssPages * pageBytes!;
    return { cpuSeconds: this.lastCpuTicks / ticksPerSecond!, rssBytes, maxRssBytes: rssBytes };
  }
}

/**
 * Proportional set size of a process group, bytes: each member's resident pages, a page shared
 * by n processes counted 1/n in each (smaps_rollup). A browser's processes share most of their
 * code and much of their data, so the sum of their RSS counts the shared part many times; PSS
 * sums to what the group holds. Null when no member could be read.
 */
export function groupPssBytes(pgid: number): number | null {
  let total = 0;
  let read = 0;
  const listed = eachGroupMember(pgid, (pid) => {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (m !== null) {
        total += Number(m[1]) * 1024;
        read++;
      }
    } catch {
      // gone, or not ours to read
    }
  });
  if (!listed) return null;
  return read > 0 ? total : null;
}
