import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Holding a server under test to a share of the CPU: a cgroup of its own with a CPU quota
 * (cgroup v1 `cpu.cfs_quota_us`, or v2 `cpu.max`), holding the whole process (every thread) or
 * a whole process group (a start command's shell and what it started). With one load machine
 * the generator shares the cores; a quota on the server makes capacity a property of the
 * server at that share of a core, not of what the generator left over.
 */

/** The quota's period: 100 ms, the kernel's default. */
const PERIOD_US = 100_000;
const V1_CPU = '/sys/fs/cgroup/cpu';
const V2_ROOTS = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'];

let counter = 0;

export interface CpuQuota {
  /** Cores the processes may use (0.25 is a quarter of one core). */
  readonly cores: number;
  readonly path: string;
  readonly version: 1 | 2;
  /** Moves a process (all its threads) into the group. */
  add(pid: number): void;
  /** Moves every process of a process group into the group. */
  addGroup(pgid: number): void;
  /** CPU time used by the group's processes so far, seconds (from the cgroup's own accounting). */
  cpuSeconds(): number | null;
  /** Removes the group once its processes are gone (best effort). */
  remove(): void;
}

/** Why a quota cannot be set here, or null when it can (checked before a run starts). */
export function cpuQuotaUnavailable(): string | null {
  if (process.platform !== 'linux') return 'CPU quotas need Linux cgroups';
  const v = findCgroup();
  if (v === null)
    return (
      'no writable cgroup with a cpu controller (cgroup v1 at /sys/fs/cgroup/cpu or v2 with ' +
      'cpu enabled); run as root, or give the server a delegated cgroup'
    );
  return null;
}

function writable(dir: string): boolean {
  const probe = join(dir, `rtmpbench-probe-${process.pid}-${counter++}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}

function findCgroup(): { version: 1 | 2; root: string } | null {
  if (existsSync(join(V1_CPU, 'cpu.cfs_quota_us')) && writable(V1_CPU)) return { version: 1, root: V1_CPU };
  for (const root of V2_ROOTS) {
    try {
      const controllers = readFileSync(join(root, 'cgroup.controllers'), 'utf8');
      if (!/\bcpu\b/.test(controllers)) continue;
      const subtree = readFileSync(join(root, 'cgroup.subtree_control'), 'utf8');
      if (!/\bcpu\b/.test(subtree)) writeFileSync(join(root, 'cgroup.subtree_control'), '+cpu');
      if (writable(root)) return { version: 2, root };
    } catch {
      // Not this one.
    }
  }
  return null;
}

/** Creates a cgroup limited to `cores` of CPU. Throws with the reason when it cannot. */
export function createCpuQuota(cores: number): CpuQuota {
  if (!(cores > 0)) throw new Error(`a CPU quota is more than 0 cores, not ${cores}`);
  const found = findCgroup();
  if (found === null) throw new Error(cpuQuotaUnavailable() ?? 'no cgroup');
  const path = join(found.root, `rtmpbench-${process.pid}-${counter++}`);
  mkdirSync(path);
  const quotaUs = Math.max(1000, Math.round(cores * PERIOD_US));
  if (found.version === 1) {
    writeFileSync(join(path, 'cpu.cfs_period_us'), String(PERIOD_US));
    writeFileSync(join(path, 'cpu.cfs_quota_us'), String(quotaUs));
  } else {
    writeFileSync(join(path, 'cpu.max'), `${quotaUs} ${PERIOD_US}`);
  }
  const add = (pid: number) => writeFileSync(join(path, 'cgroup.procs'), String(pid));
  return {
    cores,
    path,
    version: found.version,
    add,
    addGroup(pgid: number) {
      for (const pid of groupMembers(pgid)) {
        try {
          add(pid);
        } catch {
          // Gone since the scan.
        }
      }
    },
    cpuSeconds() {
      try {
        if (found.version === 1) {
          const usage = join(path.replace(V1_CPU, '/sys/fs/cgroup/cpuacct'), 'cpuacct.usage');
          if (existsSync(usage)) return Number(readFileSync(usage, 'utf8')) / 1e9;
          return null;
        }
        const m = /usage_usec (\d+)/.exec(readFileSync(join(path, 'cpu.stat'), 'utf8'));
        return m ? Number(m[1]) / 1e6 : null;
      } catch {
        return null;
      }
    },
    remove() {
      try {
        rmdirSync(path);
      } catch {
        // Processes still inside (they are stopped by PID elsewhere), or gone already.
      }
    },
  };
}

/** The processes of a process group, from /proc. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command name: state, ppid, pgrp.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) out.push(Number(name));
    } catch {
      // Gone.
    }
  }
  return out;
}
