import { ProcessGroupSampler } from '../../../metrics/process-group.js';
import { sampleProcess, sampleProcessResources } from '../../../metrics/process-stats.js';
import type { AttackFigures } from '../../../results/probe.js';

/**
 * The server's process seen from /proc while an attack runs: RSS, open descriptors and CPU time
 * before, at their highest during, and after. Sampled every 50 ms, so an attack learns within
 * one sample (and one step of its own) that the server passed its RSS bound. A process group
 * (a server started by a shell command) is read as a whole: RSS and CPU summed, descriptors not
 * counted.
 */

const SAMPLE_MS = 50;

interface Reading {
  rssBytes: number;
  fds: number | null;
  cpuSeconds: number | null;
}

export class ServerWatch {
  private timer: NodeJS.Timeout | null = null;
  private readonly group: ProcessGroupSampler | null;
  private before: Reading | null = null;
  private peakRss = 0;
  private peakFds: number | null = null;
  private last: Reading | null = null;
  private cpuAtStop: number | null = null;

  constructor(
    readonly server: { pid: number; group: boolean },
    /** RSS growth over `before` at which `overBound` turns true. */
    readonly rssBoundBytes: number,
  ) {
    this.group = server.group ? new ProcessGroupSampler(server.pid) : null;
  }

  /** Takes the "before" reading and starts sampling; false when the process cannot be read. */
  start(): boolean {
    this.before = this.read();
    if (this.before === null) return false;
    this.peakRss = this.before.rssBytes;
    this.peakFds = this.before.fds;
    this.timer = setInterval(() => this.read(), SAMPLE_MS);
    this.timer.unref();
    return true;
  }

  /** Whether the server's RSS grew past the bound (at the last sample). */
  get overBound(): boolean {
    return this.before !== null && this.last !== null && this.last.rssBytes - this.before.rssBytes > this.rssBoundBytes;
  }

  /** Stops sampling at the end of the attack (the peak is kept; CPU is counted up to here). */
  stop(): void {
    this.cpuAtStop = this.read()?.cpuSeconds ?? null;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The figures: before, peak growth during, growth after (a reading taken now), CPU during. */
  figures(): AttackFigures {
    const out: AttackFigures = {};
    if (this.before === null) return out;
    const after = this.read();
    out.rssBeforeBytes = this.before.rssBytes;
    out.rssPeakGrowthBytes = Math.max(0, this.peakRss - this.before.rssBytes);
    if (after !== null) out.rssAfterGrowthBytes = after.rssBytes - this.before.rssBytes;
    if (this.before.fds !== null && this.peakFds !== null) out.fdsPeakGrowth = this.peakFds - this.before.fds;
    if (this.before.fds !== null && after?.fds != null) out.fdsAfterGrowth = after.fds - this.before.fds;
    if (this.before.cpuSeconds !== null && this.cpuAtStop !== null)
      out.serverCpuSeconds = Math.round((this.cpuAtStop - this.before.cpuSeconds) * 100) / 100;
    return out;
  }

  private read(): Reading | null {
    let r: Reading | null;
    if (this.group !== null) {
      const g = this.group.sample();
      r = g === null ? null : { rssBytes: g.rssBytes, fds: null, cpuSeconds: g.cpuSeconds };
    } else {
      const res = sampleProcessResources(this.server.pid);
      r = res === null ? null : { rssBytes: res.rssBytes, fds: res.fds, cpuSeconds: null };
      if (r !== null) r.cpuSeconds = sampleProcess(this.server.pid)?.cpuSeconds ?? null;
    }
    if (r === null) return null;
    this.last = r;
    if (this.timer !== null || this.before === null) {
      this.peakRss = Math.max(this.peakRss, r.rssBytes);
      if (r.fds !== null) this.peakFds = Math.max(this.peakFds ?? r.fds, r.fds);
    }
    return r;
  }
}
