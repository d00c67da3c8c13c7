import { readdirSync, readFileSync } from 'node:fs';
import { clockTicks, ProcessGroupSampler } from './process-group.js';

export interface ProcessSample {
  /** User + system CPU time in seconds. */
  cpuSeconds: number;
  rssBytes: number;
  /** Peak resident set size so far (VmHWM). */
  maxRssBytes: number;
}

/**
 * CPU time and memory of any process on this host, read from /proc (Linux). Returns null
 * when the process is gone or /proc is not available.
 */
export function sampleProcess(pid: number): ProcessSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces: split after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
      return m ? Number(m[1]) * 1024 : 0;
    };
    return { cpuSeconds: (utime + stime) / clockTicks(), rssBytes: kb('VmRSS'), maxRssBytes: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** This process, from Node's own counters (works on every platform). */
function sampleSelf(): ProcessSample {
  const cpu = process.cpuUsage();
  return {
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rssBytes: process.memoryUsage().rss,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

/**
 * Samples a process at an interval, keeping CPU at start/end and the peak RSS. With `group`,
 * `pid` is a process group id and the figures are the whole group's (see process-group.ts).
 */
export class ProcessMonitor {
  private timer: NodeJS.Timeout | null = null;
  private first: ProcessSample | null = null;
  private last: ProcessSample | null = null;
  private readonly group: ProcessGroupSampler | null;
  peakRssBytes = 0;

  constructor(
    readonly pid: number,
    private readonly intervalMs = 250,
    opts: { group?: boolean } = {},
  ) {
    this.group = opts.group === true ? new ProcessGroupSampler(pid) : null;
  }

  start(): void {
    this.first = this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops sampling; returns CPU seconds used since start and the peak RSS seen. */
  stop(): { cpuSeconds: number; peakRssBytes: number; maxRssBytes: number } | null {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    if (this.first === null || this.last === null) return null;
    return {
      cpuSeconds: this.last.cpuSeconds - this.first.cpuSeconds,
      peakRssBytes: this.peakRssBytes,
      maxRssBytes: this.last.maxRssBytes,
    };
  }

  /** A sample taken now (null if the process is gone). */
  current(): ProcessSample | null {
    return this.sample();
  }

  private sample(): ProcessSample | null {
    const s =
      this.group !== null ? this.group.sample() : this.pid === process.pid ? sampleSelf() : sampleProcess(this.pid);
    if (s !== null) {
      this.last = s;
      if (s.rssBytes > this.peakRssBytes) this.peakRssBytes = s.rssBytes;
    }
    return s;
  }
}

export interface ProcessResources {
  rssBytes: number;
  /** Open file descriptors; null when /proc/PID/fd cannot be read (another user's process without root). */
  fds: number | null;
  threads: number;
}

/**
 * RSS, open descriptors and threads of any process on this host, from /proc (Linux); the
 * figures a soak follows second by second. Null when the process is gone.
 */
export function sampleProcessResources(pid: number): ProcessResources | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const field = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status);
    return m ? Number(m[1]) : 0;
  };
  let fds: number | null;
  try {
    fds = readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    fds = null;
  }
  return { rssBytes: field('VmRSS') * 1024, fds, threads: field('Threads') };
}
