import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runScenario } from '../../src/load/orchestrator.js';
import { resolveScenario } from '../../src/load/scenario.js';
import { runCharts } from '../../src/report/charts.js';
import { loadRun } from '../../src/results/folder.js';
import { startServer } from '../helpers/server.js';

/** Named viewer groups: one on a schedule of its own, and both reported apart. */

const out = mkdtempSync(join(tmpdir(), 'rtmpbench-groups-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('named viewer groups', () => {
  it("starts a group on its own schedule and reports each group apart, with the others' latency while it joined", async () => {
    const srv = await startServer({ logLevel: 'warn' });
    try {
      const r = resolveScenario({
        name: 'groups',
        target: `rtmp://127.0.0.1:${srv.port}/live`,
        workers: 2,
        players: { perStream: 4, name: 'steady' },
        viewers: [{ protocol: 'rtmp', perStream: 6, name: 'joiners', start: '3s', ramp: '1s' }],
        duration: '7s',
      });
      expect(r.problems).toEqual([]);
      const { summary, timeline, resultsDir } = await runScenario({ scenario: r.scenario!, outDir: out });
      expect(summary.sessions.players).toMatchObject({ planned: 10, connected: 10, failed: 0 });
      const steady = summary.byGroup!.steady!;
      const joiners = summary.byGroup!.joiners!;
      expect(steady).toMatchObject({ protocol: 'rtmp', perStream: 4 });
      expect(joiners).toMatchObject({ protocol: 'rtmp', perStream: 6, startSec: 3, rampSec: 1 });
      // Every viewer of each group counted under its group, and the groups add up to the run.
      expect(steady.latencyMs.firstFrame.count).toBe(4);
      expect(joiners.latencyMs.firstFrame.count).toBe(6);
      expect(steady.latencyMs.endToEnd.count + joiners.latencyMs.endToEnd.count).toBe(summary.latencyMs.endToEnd.count);
      // The joiners were not there before their start: the timeline has 4 viewers up until then.
      expect(timeline.filter((p) => p.tSec <= 3).every((p) => p.playersUp <= 4)).toBe(true);
      expect(Math.max(...timeline.map((p) => p.playersUp))).toBe(10);
      // Steady viewers have a p99 in the whole seconds (a worker's tick delayed past a second on a
      // busy machine leaves one second empty: allow one), joiners only from their start on.
      expect(
        steady.endToEndP99MsBySecond.slice(1, 6).filter((v) => v !== null && v > 0).length,
        JSON.stringify(steady.endToEndP99MsBySecond),
      ).toBeGreaterThanOrEqual(4);
      expect(joiners.endToEndP99MsBySecond.slice(0, 3).every((v) => v === null)).toBe(true);
      const w = steady.whileJoining!.joiners!;
      expect(w.beforeP99Ms).toBeGreaterThan(0);
      expect(w.worstSecondP99Ms).toBeGreaterThan(0);
      expect(w.ratio).toBeCloseTo(w.worstSecondP99Ms! / w.beforeP99Ms!, 1);
      expect(w.afterP99Ms).toBeGreaterThan(0); // everyone in, seconds 5 to 7
      expect(joiners.whileJoining).toBeUndefined(); // steady has no schedule of its own
      // The report draws each group's p99 second by second.
      const chart = runCharts(loadRun(resultsDir)).find((c) => c.id === 'groups-time');
      expect(chart?.series.map((x) => x.label)).toEqual(['steady', 'joiners']);
      expect(chart?.note).toBe('joiners joined from 3 s over 1 s.');
    } finally {
      await srv.close();
    }
  });

  it('refuses names that clash, a ramp without a start and a group that would join after the end', () => {
    const problems = (input: Record<string, unknown>) =>
      resolveScenario({ name: 'g', duration: '10s', ...input }).problems;
    expect(problems({ players: { name: 'a' }, viewers: [{ protocol: 'rtmp', perStream: 1, name: 'a' }] })).toEqual([
      'viewers[0].name: another group is named "a"',
    ]);
    expect(problems({ viewers: [{ protocol: 'rtmp', perStream: 1, name: 'hls' }] })[0]).toMatch(
      /^viewers\[0\]\.name: a protocol's key names its viewers already/,
    );
    expect(problems({ viewers: [{ protocol: 'rtmp', perStream: 1, ramp: '1s' }] })).toEqual([
      'viewers[0].ramp: a ramp of its own goes with a start of its own (start:)',
    ]);
    expect(problems({ viewers: [{ protocol: 'rtmp', perStream: 1, start: '9s', ramp: '2s' }] })).toEqual([
      'viewers[0].start: the group must have joined (start + ramp) before the run ends (10s)',
    ]);
  });
});
