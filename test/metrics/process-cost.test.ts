import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CostMonitor, readProcessCost } from '../../src/metrics/process-cost.js';

const dir = mkdtempSync(join(tmpdir(), 'rtmpbench-cost-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a process's cost from /proc", () => {
  it('counts each write call and its bytes, and CPU in user and kernel mode', () => {
    const before = readProcessCost(process.pid)!;
    const fd = openSync(join(dir, 'w'), 'w');
    const buf = Buffer.alloc(1000, 1);
    for (let i = 0; i < 500; i++) writeSync(fd, buf);
    closeSync(fd);
    const after = readProcessCost(process.pid)!;
    // Other threads of this process (vitest's) may write too: at least ours, and not many more.
    expect(after.writeCalls - before.writeCalls).toBeGreaterThanOrEqual(500);
    expect(after.writeCalls - before.writeCalls).toBeLessThan(600);
    expect(after.writeBytes - before.writeBytes).toBeGreaterThanOrEqual(500_000);
    expect(after.userCpuSeconds + after.kernelCpuSeconds).toBeGreaterThan(0);
    expect(after.voluntaryCtxSwitches + after.involuntaryCtxSwitches).toBeGreaterThan(0);
  });

  it('is null for a process that is gone', () => {
    expect(readProcessCost(2 ** 22 + 1)).toBeNull();
  });

  it("sums a process group's members: a shell and the child that does the writing", async () => {
    // `sh -c` leads a group of its own (detached); its child `dd` makes 200 write calls of 1 KB.
    const child = spawn(
      'sh',
      ['-c', `sleep 0.3; dd if=/dev/zero of=${join(dir, 'g')} bs=1k count=200 2>/dev/null; sleep 0.3`],
      {
        detached: true,
        stdio: 'ignore',
      },
    );
    const monitor = new CostMonitor(child.pid!, { group: true });
    monitor.start();
    const timer = setInterval(() => monitor.current(), 50);
    await new Promise((r) => child.once('exit', r));
    clearInterval(timer);
    // The last sample was taken while the group was alive; the counts stay what they were.
    const counts = monitor.stop()!;
    expect(counts.writeCalls).toBeGreaterThanOrEqual(200);
    expect(counts.writeBytes).toBeGreaterThanOrEqual(200 * 1024);
  });
});
