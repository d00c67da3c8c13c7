import type { RunSummary } from '../../src/results/summary.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../helpers/server.js';
import { cli } from '../helpers/cli.js';
import { runDir, scenarioFile, scratch, summaryOf } from '../helpers/runs.js';

/** rtmpbench merge of shares of one scenario run on two "machines". */

const out = scratch('merge');
const scenario = (name: string, text: string) => scenarioFile(out, name, text);

describe('rtmpbench merge', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess(['--log-level', 'warn']);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('merges the shares of one scenario run on two "machines" into one result with every session and frame', async () => {
    const file = scenario('sharded', ['name: sharded', 'streams: 2', 'players:', '  perStream: 6', 'duration: 3s', 'ramp: 1s', 'workers: 2', 'thresholds:', '  - frames.lost == 0', ''].join('\n'));
    const target = `rtmp://127.0.0.1:${server.port}/live`;
    const shards = await Promise.all([0, 1].map((i) => cli(['run', file, '--target', target, '--shard', `${i}/2`, '--out', join(out, `shard${i}`)])));
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
    expect(merged.throughput.framesReceived).toBe(parts[0]!.throughput.framesReceived + parts[1]!.throughput.framesReceived);
    expect(merged.latencyMs.endToEnd.count).toBe(parts[0]!.latencyMs.endToEnd.count + parts[1]!.latencyMs.endToEnd.count);
    expect(merged.latencyMs.endToEnd.max).toBe(Math.max(parts[0]!.latencyMs.endToEnd.max, parts[1]!.latencyMs.endToEnd.max));
    expect(merged.thresholds).toEqual([expect.objectContaining({ expression: 'frames.lost == 0', passed: true })]);
    expect(merged.mergedFrom).toHaveLength(2);
  });

  it('exits 2 for folders that are not results, or a single folder', async () => {
    const a = await cli(['merge', out, join(out, 'nope')]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/is not a results folder/);
    const b = await cli(['report', join(out, 'nope')]);
    expect(b.code).toBe(2);
  });
});
