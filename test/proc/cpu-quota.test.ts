import { describe, expect, it } from 'vitest';
import { sampleProcess } from '../../src/metrics/process-stats.js';
import { cpuQuotaUnavailable, createCpuQuota } from '../../src/proc/cpu-quota.js';
import { launch } from '../../src/proc/spawn.js';
import { cli } from '../helpers/cli.js';

const why = cpuQuotaUnavailable();

describe('a CPU quota', () => {
  it.skipIf(why !== null)('holds a process that would burn a whole core to its share, every thread of it', async () => {
    // Two threads spinning: unlimited they would use two cores' worth.
    const burner = launch(process.execPath, [
      '-e',
      "const { Worker } = require('node:worker_threads'); new Worker('for (;;) {}', { eval: true }); for (;;) {}",
    ]);
    const quota = createCpuQuota(0.2);
    try {
      quota.add(burner.pid);
      const before = sampleProcess(burner.pid)!.cpuSeconds;
      await new Promise((r) => setTimeout(r, 3000));
      const used = sampleProcess(burner.pid)!.cpuSeconds - before;
      // 0.2 of a core for 3 s is 0.6 CPU-s; unlimited, two threads would take up to 6.
      expect(used).toBeLessThan(1.5);
      expect(used).toBeGreaterThan(0.1);
    } finally {
      await burner.stop({ signal: 'SIGKILL' });
      quota.remove();
    }
  });

  it.skipIf(why !== null)('is a run setting: the built-in server runs under it and the run says so', async () => {
    const r = await cli([
      'run',
      '--players',
      '5',
      '--duration',
      '4s',
      '--ramp',
      '1s',
      '--server-cpu-quota',
      '0.5',
      '--json',
      '--no-progress',
      '--out',
      '/tmp/rtmpbench-quota',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).scenario.serverCpuQuota).toBe(0.5);
  });

  it('refuses a quota it cannot set, before anything starts', async () => {
    const r = await cli(['run', '--server-cpu-quota', '0', '--no-progress']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/serverCpuQuota/);
  });
});
