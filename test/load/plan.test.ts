import { describe, expect, it } from 'vitest';
import { planShards, playerWindows, targetAt } from '../../src/load/plan.js';
import { resolveScenario, type Scenario } from '../../src/load/scenario.js';

function scenario(input: Record<string, unknown>): Scenario {
  const r = resolveScenario(input);
  if (r.scenario === null) throw new Error(r.problems.join('; '));
  return r.scenario;
}

describe('stages', () => {
  const stages = [
    { durationMs: 10_000, target: 10 },
    { durationMs: 10_000, target: 10 },
    { durationMs: 10_000, target: 0 },
  ];

  it('interpolates the target linearly within a stage', () => {
    expect(targetAt(stages, 0)).toBe(0);
    expect(targetAt(stages, 5000)).toBe(5);
    expect(targetAt(stages, 15_000)).toBe(10);
    expect(targetAt(stages, 25_000)).toBe(5);
    expect(targetAt(stages, 40_000)).toBe(0);
  });

  it('connects each player while the target exceeds its index, ramping up and down', () => {
    expect(playerWindows(stages, 0)).toEqual([[500, 29_500]]);
    expect(playerWindows(stages, 9)).toEqual([[9500, 20_500]]);
    expect(
      playerWindows(
        [
          { durationMs: 1, target: 3 },
          { durationMs: 1000, target: 3 },
        ],
        2,
      ),
    ).toEqual([[expect.closeTo(0.833, 2), Infinity]]);
  });

  it('derives stages from duration and ramp', () => {
    const s = scenario({ duration: '30s', ramp: '10s', players: { perStream: 100 } });
    expect(s.stages).toEqual([
      { durationMs: 10_000, target: 100 },
      { durationMs: 20_000, target: 100 },
    ]);
    expect(s.durationMs).toBe(30_000);
  });
});

describe('sharding', () => {
  it('spreads publishers and players over workers, each player exactly once', () => {
    const s = scenario({ streams: 3, players: { perStream: 7, slowPerStream: 2 }, duration: '10s' });
    const tasks = planShards(s, 2, 'rtmp://127.0.0.1:1935/live', 0);
    expect(tasks.flatMap((t) => t.publish).sort()).toEqual([0, 1, 2]);
    const players = tasks.flatMap((t) => t.players);
    expect(players).toHaveLength(21);
    for (let st = 0; st < 3; st++) {
      expect(players.filter((p) => p.stream === st)).toHaveLength(7);
      expect(players.filter((p) => p.stream === st && p.slow)).toHaveLength(2);
    }
    // Publishers get a worker of their own, so player reads never delay their pacing.
    expect(tasks[0]!.publish).toEqual([0, 1, 2]);
    expect(tasks[0]!.players).toEqual([]);
    expect(tasks[1]!.players).toHaveLength(21);
  });

  it('spreads players evenly over the player workers, and sessions of one kind over all workers', () => {
    const s = scenario({ streams: 2, players: { perStream: 30 }, duration: '10s' });
    const four = planShards(s, 4, 'u', 0);
    expect(four.map((t) => t.publish.length)).toEqual([2, 0, 0, 0]);
    expect(four.map((t) => t.players.length)).toEqual([0, 20, 20, 20]);
    const onlyPublishers = planShards(scenario({ streams: 4, players: { perStream: 0 }, duration: '10s' }), 2, 'u', 0);
    expect(onlyPublishers.map((t) => t.publish.length)).toEqual([2, 2]);
    const onlyPlayers = planShards(
      scenario({ streams: 1, publishers: { count: 0 }, players: { perStream: 10 }, duration: '10s' }),
      2,
      'u',
      0,
    );
    expect(onlyPlayers.map((t) => t.players.length)).toEqual([5, 5]);
  });

  it('gives machine I of N its own share with --shard, the shares adding up to the whole', () => {
    const s = scenario({ streams: 2, players: { perStream: 10 }, duration: '10s' });
    const whole = planShards(s, 2, 'u', 0).flatMap((t) => t.players).length;
    const parts = [0, 1, 2].map((i) => planShards(s, 2, 'u', 0, { shardOf: { index: i, count: 3 } }));
    expect(parts.flatMap((p) => p.flatMap((t) => t.players)).length).toBe(whole);
    expect(parts.flatMap((p) => p.flatMap((t) => t.publish)).sort()).toEqual([0, 1]);
    expect(new Set(parts.flatMap((p) => p.map((t) => t.shard))).size).toBe(6);
  });
});

describe('shard tasks', () => {
  it("carry the scenario's fields a worker needs as resolved, split the churn rate, and survive structured cloning", () => {
    const s = scenario({
      streams: 4,
      churn: { joinsPerSecond: 6, meanSessionTime: '2s' },
      publishers: { restart: { every: '5s' } },
      insecure: true,
      warmup: '2s',
    });
    const tasks = planShards(s, 4, 'rtmp://127.0.0.1:1935/live', 0);
    for (const t of tasks) {
      expect(t).toMatchObject({
        insecure: true,
        streamNames: s.streamNames,
        media: s.media,
        durationMs: s.durationMs,
        warmupMs: 2000,
        stallThresholdMs: s.stallThresholdMs,
        restart: s.restart,
      });
      expect(t.churn.meanSessionMs).toBe(2000);
      expect(structuredClone(t)).toEqual(t);
    }
    // One publishing worker and three playing ones: the churn is the players' share.
    expect(tasks.map((t) => t.churn.joinsPerSecond)).toEqual([0, 2, 2, 2]);
    expect('restart' in planShards(scenario({}), 1, 'rtmp://127.0.0.1:1935/live', 0)[0]!).toBe(false);
  });
});
