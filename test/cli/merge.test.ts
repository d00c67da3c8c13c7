import type { RunSummary } from '../../src/results/summary.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../helpers/server.js';
import { cli } from '../helpers/cli.js';
import { freePort } from '../../src/proc/port.js';
import { runDir, scenarioFile, scratch, summaryOf } from '../helpers/runs.js';
import { hasTool } from '../helpers/tools.js';
import { readdirSync, readFileSync } from 'node:fs';

/** rtmpbench merge of shares of one scenario run on two "machines". */

const out = scratch('merge');
const hasPerf = hasTool('perf', 'apt-get install linux-perf');
const scenario = (name: string, text: string) => scenarioFile(out, name, text);

describe('rtmpbench merge', () => {
  let server: ServerProcess;
  let httpPort: number;
  beforeAll(async () => {
    httpPort = await freePort();
    server = await startServerProcess(['--log-level', 'warn', '--http-port', String(httpPort)]);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('merges the shares of one scenario run on two "machines" into one result with every session and frame', async () => {
    const file = scenario(
      'sharded',
      [
        'name: sharded',
        'streams: 2',
        'players:',
        '  perStream: 6',
        'duration: 3s',
        'ramp: 1s',
        'workers: 2',
        'thresholds:',
        '  - frames.lost == 0',
        '',
      ].join('\n'),
    );
    const target = `rtmp://127.0.0.1:${server.port}/live`;
    // The share beside the server profiles it (perf, where the machine has it); the other does not.
    const profile = hasPerf ? ['--server-pid', String(server.pid), '--profile-server'] : [];
    const shards = await Promise.all(
      [0, 1].map((i) =>
        cli([
          'run',
          file,
          '--target',
          target,
          '--shard',
          `${i}/2`,
          '--out',
          join(out, `shard${i}`),
          ...(i === 0 ? profile : []),
        ]),
      ),
    );
    for (const s of shards) expect(s.code, s.stderr).toBe(0);
    const dirs = shards.map((s) => runDir(s.stdout));
    const parts = dirs.map(summaryOf);
    // Each machine ran part of the scenario; together, all of it.
    expect(parts.map((p) => p.sessions.players.planned).reduce((a, b) => a + b)).toBe(12);
    expect(parts.map((p) => p.sessions.publishers.planned).reduce((a, b) => a + b)).toBe(2);
    const m = await cli(['merge', ...dirs, '--out', join(out, 'merged'), '--json']);
    expect(m.code, m.stderr).toBe(0);
    const merged = JSON.parse(m.stdout) as RunSummary;
    expect(merged.sessions.players).toEqual({ planned: 12, connected: 12, failed: 0, ended: 0, tooLateToJudge: 0 });
    expect(merged.sessions.publishers).toEqual({ planned: 2, connected: 2, failed: 0, ended: 0 });
    expect(merged.throughput.framesReceived).toBe(
      parts[0]!.throughput.framesReceived + parts[1]!.throughput.framesReceived,
    );
    expect(merged.latencyMs.endToEnd.count).toBe(
      parts[0]!.latencyMs.endToEnd.count + parts[1]!.latencyMs.endToEnd.count,
    );
    expect(merged.latencyMs.endToEnd.max).toBe(
      Math.max(parts[0]!.latencyMs.endToEnd.max, parts[1]!.latencyMs.endToEnd.max),
    );
    expect(merged.thresholds).toEqual([expect.objectContaining({ expression: 'frames.lost == 0', passed: true })]);
    expect(merged.mergedFrom).toHaveLength(2);
    if (hasPerf) {
      // The one share's profile is the merged run's, its files beside the merged summary.
      expect(merged.serverProfile?.samples).toBe(parts[0]!.serverProfile!.samples);
      expect(merged.serverProfile?.pids).toEqual([server.pid]);
      const mergedDir = join(out, 'merged', readdirSync(join(out, 'merged'))[0]!);
      expect(readFileSync(join(mergedDir, 'server-profile.folded'), 'utf8')).toBe(
        readFileSync(join(dirs[0]!, 'server-profile.folded'), 'utf8'),
      );
    }
  });

  it("keeps each protocol's viewers and each named group apart in the merged result", async () => {
    const file = scenario(
      'mixed-sharded',
      [
        'name: mixed-sharded',
        'streams: 2',
        'players: { perStream: 3, name: steady }',
        'viewers:',
        "  - { protocol: http-flv, perStream: 3, url: 'http://{host}:{httpPort}/{app}/{stream}.flv', name: joiners, start: 1s, ramp: 1s }",
        `httpPort: ${httpPort}`,
        'duration: 4s',
        'workers: 2',
        'thresholds:',
        '  - httpFlv.sessions.players.failed == 0',
        '',
      ].join('\n'),
    );
    const target = `rtmp://127.0.0.1:${server.port}/live`;
    const shards = await Promise.all(
      [0, 1].map((i) => cli(['run', file, '--target', target, '--shard', `${i}/2`, '--out', join(out, `mixed${i}`)])),
    );
    for (const s of shards) expect(s.code, s.stderr).toBe(0);
    const dirs = shards.map((s) => runDir(s.stdout));
    const parts = dirs.map(summaryOf);
    const m = await cli(['merge', ...dirs, '--out', join(out, 'merged'), '--json']);
    expect(m.code, m.stderr).toBe(0);
    const merged = JSON.parse(m.stdout) as RunSummary;
    const sum = (f: (s: RunSummary) => number) => parts.reduce((a, p) => a + f(p), 0);
    for (const k of ['rtmp', 'httpFlv'] as const) {
      expect(merged.byProtocol![k]!.sessions.players).toMatchObject({ planned: 6, connected: 6, failed: 0 });
      expect(merged.byProtocol![k]!.throughput.framesReceived).toBe(
        sum((p) => p.byProtocol![k]!.throughput.framesReceived),
      );
      expect(merged.byProtocol![k]!.latencyMs.endToEnd.count).toBe(
        sum((p) => p.byProtocol![k]!.latencyMs.endToEnd.count),
      );
    }
    expect(merged.byGroup!.steady!.latencyMs.endToEnd.count).toBe(
      sum((p) => p.byGroup!.steady!.latencyMs.endToEnd.count),
    );
    expect(merged.byGroup!.joiners!.latencyMs.firstFrame.count).toBe(6);
    expect(merged.byGroup!.steady!.whileJoining!.joiners!.worstSecondP99Ms).toBeGreaterThan(0);
    expect(merged.thresholds).toEqual([
      expect.objectContaining({ expression: 'httpFlv.sessions.players.failed == 0', passed: true }),
    ]);
  });

  it('exits 2 for folders that are not results, or a single folder', async () => {
    const a = await cli(['merge', out, join(out, 'nope')]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/is not a results folder/);
    const b = await cli(['report', join(out, 'nope')]);
    expect(b.code).toBe(2);
  });
});
