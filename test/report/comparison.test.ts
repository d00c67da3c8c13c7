import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { computeComparison, findingLines } from '../../src/report/comparison.js';
import type { LoadedComparison, LoadedRun } from '../../src/results/folder.js';
import type { RunSummary } from '../../src/results/summary.js';

/** The comparison table's findings: the CPU-versus-latency frontier, what ended capacity searches, why sessions failed. */

// A real run's summary (a capacity search), varied per variant below.
const template = JSON.parse(
  readFileSync(
    new URL(
      '../../results/baselines/capacity-batch-reads/runs/batchReads=false/2026-11-21T11-49-09-capacity/summary.json',
      import.meta.url,
    ),
    'utf8',
  ),
) as RunSummary;

function variant(cpuSeconds: number, p99: number, over: Partial<RunSummary> = {}): LoadedRun {
  const s = structuredClone(template);
  s.server!.cpuSeconds = cpuSeconds;
  s.latencyMs.endToEnd.p99 = p99;
  Object.assign(s, over);
  return { dir: '/x', summary: s, timeline: [], histograms: {}, counters: null } as unknown as LoadedRun;
}

function comparison(runs: Record<string, LoadedRun[]>): LoadedComparison {
  const names = Object.keys(runs);
  return {
    dir: '/x',
    file: {
      name: 'frontier',
      startedAt: template.startedAt,
      baseline: names[0],
      repeat: 2,
      variants: names.map((n) => ({ name: n, server: 'builtin', settings: {} })),
      runs: names.flatMap((n) =>
        runs[n]!.map((_, round) => ({ variant: n, round, dir: n + round, thresholdsPassed: true })),
      ),
    },
    runs: new Map(names.map((n) => [n, runs[n]!.map((run, round) => ({ round, run }))])),
  } as unknown as LoadedComparison;
}

describe('comparison findings', () => {
  const held = { capacity: { highestPassingPlayers: 2000, broken: false } } as Partial<RunSummary>;
  const t = computeComparison(
    comparison({
      cheap: [variant(10, 40), variant(12, 44)],
      fast: [variant(30, 8, held), variant(34, 9, held)],
      beaten: [
        variant(40, 50, { failures: { 'first-frame-timeout': 3 } }),
        variant(41, 60, { failures: { 'first-frame-timeout': 1, 'connect-refused': 2 } }),
      ],
    }),
  );
  const row = (n: string) => t.rows.find((r) => r.name === n)!;

  it('puts a variant on the frontier unless another has both less server CPU and a lower e2e p99', () => {
    expect([row('cheap').onFrontier, row('fast').onFrontier, row('beaten').onFrontier]).toEqual([true, true, false]);
    expect(findingLines(t)[0]).toMatch(/frontier .*: cheap, fast; beaten on both by another: beaten$/);
  });

  it('says what ended each round of a capacity search, without the measured value', () => {
    expect(row('cheap').capacityEndedBy).toEqual(['latency.firstFrame.p95 < 1s', 'latency.firstFrame.p95 < 1s']);
    expect(findingLines(t)).toContain('cheap: capacity search ended by latency.firstFrame.p95 < 1s in 2 of 2 rounds');
    expect(findingLines(t)).toContain('fast: capacity search held to the last step in 2 of 2 rounds');
  });

  it('sums the failed sessions of every round by reason, most first', () => {
    expect(findingLines(t)).toContain(
      'beaten: sessions failed over all rounds: first-frame-timeout 4, connect-refused 2',
    );
  });

  it('leaves the frontier out when a figure is missing', () => {
    const noCpu = variant(1, 1);
    delete (noCpu.summary as Partial<RunSummary>).server;
    const u = computeComparison(comparison({ a: [noCpu], b: [variant(5, 5)] }));
    expect(u.rows.map((r) => r.onFrontier)).toEqual([null, true]);
    expect(findingLines(u).some((l) => l.includes('frontier'))).toBe(false);
  });
});

describe('comparison of server cost figures', () => {
  const cost = {
    userCpuSeconds: 2,
    kernelCpuSeconds: 1,
    voluntaryCtxSwitches: 1,
    involuntaryCtxSwitches: 1,
    writeCalls: 1000,
    writeBytes: 1e6,
    readCalls: 10,
    readBytes: 1000,
    writeCallsPerMessage: 0.9,
    bytesPerWriteCall: 1000,
    cpuUsPerMessage: 12,
    kernelShare: 0.33,
  };
  function withCost(framesReceived: number, lost: number, writeCallsPerMessage = 0.9): LoadedRun {
    const r = variant(10, 10);
    const s = r.summary;
    s.server!.cost = { ...cost, writeCallsPerMessage };
    s.throughput.framesReceived = framesReceived;
    s.frames.lost = lost;
    return r;
  }

  it('shows write calls per message with its paired ratio to the baseline', () => {
    const t = computeComparison(
      comparison({ a: [withCost(1000, 0), withCost(1000, 0)], b: [withCost(1000, 0, 1.8), withCost(1000, 0, 1.8)] }),
    );
    const b = t.rows.find((r) => r.name === 'b')!;
    expect(b.figures.serverWriteCallsPerMessage!.ratio!.estimate).toBeCloseTo(2, 5);
    expect(t.figures.find((f) => f.key === 'serverBytesPerWriteCall')!.better).toBe('higher');
    expect(t.costNote).toBeNull();
  });

  it('says the cost figures do not compare when one variant lost frames and the other none', () => {
    const t = computeComparison(comparison({ a: [withCost(1000, 0)], b: [withCost(1000, 5)] }));
    expect(t.costNote).toMatch(/not comparable.*a: lost 0.*b: lost 5/);
    expect(findingLines(t)).toContain(t.costNote);
  });

  it('says so when viewers received more than 1% fewer messages per viewer-second from one variant', () => {
    expect(computeComparison(comparison({ a: [withCost(100_000, 0)], b: [withCost(100_500, 0)] })).costNote).toBeNull();
    expect(computeComparison(comparison({ a: [withCost(100_000, 0)], b: [withCost(90_000, 0)] })).costNote).toMatch(
      /not comparable/,
    );
  });
});
