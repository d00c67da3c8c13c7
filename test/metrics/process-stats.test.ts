import { spawn } from 'node:child_process';
import { openSync, closeSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sampleProcessResources } from '../../src/metrics/process-stats.js';

describe('process resources from /proc', () => {
  it('counts the descriptors a process opens and closes, its RSS and threads', () => {
    const before = sampleProcessResources(process.pid)!;
    expect(before.rssBytes).toBeGreaterThan(1024 * 1024);
    expect(before.threads).toBeGreaterThanOrEqual(1);
    const opened = Array.from({ length: 10 }, () => openSync('/dev/null', 'r'));
    const during = sampleProcessResources(process.pid)!;
    for (const fd of opened) closeSync(fd);
    const after = sampleProcessResources(process.pid)!;
    expect(during.fds! - before.fds!).toBe(10);
    expect(after.fds).toBe(before.fds);
  });

  it('samples a child process by PID and gives null once it is gone', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    const s = sampleProcessResources(child.pid!)!;
    expect(s.rssBytes).toBeGreaterThan(0);
    expect(s.fds).toBeGreaterThanOrEqual(3);
    expect(s.threads).toBe(1);
    child.kill('SIGKILL');
    await exited;
    expect(sampleProcessResources(child.pid!)).toBeNull();
  });

  it.runIf(process.getuid?.() !== 0 && statSync('/proc/1').uid !== process.getuid?.())(
    'reports descriptors of another user’s process as unavailable, not zero',
    () => {
      const s = sampleProcessResources(1);
      expect(s).not.toBeNull();
      expect(s!.fds).toBeNull();
      expect(s!.rssBytes).toBeGreaterThanOrEqual(0);
    },
  );
});
