import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ProcessMonitor, sampleProcess } from '../../src/metrics/process-stats.js';

/** A node process that spins until it has used `ms` of CPU (not of wall time: the machine may be busy). */
const spin = (ms: number, thenWait = false) =>
  `${process.execPath} -e "while (process.cpuUsage().user < ${ms * 1000});${thenWait ? ' setTimeout(() => {}, 30000);' : ''}"`;

function stopGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** A shell that starts a busy child: the group's CPU is the child's, not the shell's. */
describe('CPU of a process group', () => {
  it('counts the CPU of every process of the group, the children a shell started included', async () => {
    // The shell itself does nothing; its child spins until it has used 0.6 s of CPU, then waits.
    const shell = spawn('/bin/sh', ['-c', `${spin(600, true)}; sleep 30`], { detached: true, stdio: 'ignore' });
    const pgid = shell.pid!;
    const group = new ProcessMonitor(pgid, 50, { group: true });
    const alone = new ProcessMonitor(pgid, 50);
    group.start();
    alone.start();
    try {
      // Wait for the child to have burnt its CPU (by the group's own figures, not by a clock).
      for (let i = 0; i < 100 && (group.current()?.cpuSeconds ?? 0) < 0.5; i++)
        await new Promise((r) => setTimeout(r, 100));
      const g = group.stop()!;
      const a = alone.stop()!;
      expect(g.cpuSeconds).toBeGreaterThanOrEqual(0.4);
      expect(a.cpuSeconds).toBeLessThan(0.1); // the shell's own
      expect(g.peakRssBytes).toBeGreaterThan(sampleProcess(pgid)!.rssBytes); // the node child's memory counts too
    } finally {
      stopGroup(pgid);
    }
  });

  it('keeps the CPU of a member that ended, and never goes down', async () => {
    const shell = spawn('/bin/sh', ['-c', `${spin(400)}; sleep 30`], { detached: true, stdio: 'ignore' });
    const pgid = shell.pid!;
    const group = new ProcessMonitor(pgid, 50, { group: true });
    group.start();
    try {
      const seen: number[] = [];
      // Until the child has ended (its time is then in the shell's reaped-children time).
      for (let i = 0; i < 100; i++) {
        seen.push(group.current()!.cpuSeconds);
        if (seen.length > 3 && seen.at(-1)! >= 0.3 && seen.at(-1) === seen.at(-3)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
      expect(group.stop()!.cpuSeconds).toBeGreaterThanOrEqual(0.3);
    } finally {
      stopGroup(pgid);
    }
  });
});
