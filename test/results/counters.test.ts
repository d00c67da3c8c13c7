import { describe, expect, it } from 'vitest';
import {
  addCounters,
  COUNTER_NAMES,
  COUNTERS,
  counterFieldsOf,
  countersFromFile,
  countersToFile,
  diffCounters,
  newCounters,
  sumCounters,
  windowCounters,
} from '../../src/results/counters.js';
import { buildSummary } from '../../src/results/summary.js';
import { parseThreshold } from '../../src/results/thresholds.js';
import { resolveScenario } from '../../src/load/scenario.js';
import { getPath } from '../../src/results/counters.js';

describe('the counter table', () => {
  const some = () => {
    const c = newCounters();
    for (const [i, k] of COUNTER_NAMES.entries()) c[k] = i + 1;
    return c;
  };

  it("derives adding, differences and one second's window (sessions as they stand) from one list", () => {
    const a = some();
    const b = sumCounters([a, a]);
    for (const k of COUNTER_NAMES) expect(b[k]).toBe(2 * a[k]);
    expect(diffCounters(b, a)).toEqual(a);
    expect(addCounters(newCounters(), a)).toEqual(a);
    const w = windowCounters(b, a);
    expect(w.framesReceived).toBe(a.framesReceived);
    expect(w.playersConnected).toBe(b.playersConnected);
  });

  it("writes counters.json in the layout of schema version 1 and reads it back, an older file's missing counters as 0", () => {
    const a = some();
    const file = countersToFile(a);
    expect(file).toMatchObject({
      publishers: { planned: a.publishersPlanned },
      players: { failed: a.playersFailed },
      bytesSent: a.bytesSent,
      lost: a.lost,
    });
    expect(countersFromFile(JSON.parse(JSON.stringify(file)))).toEqual(a);
    expect(
      countersFromFile({
        publishers: { planned: 1, connected: 1, failed: 0 },
        players: { planned: 2, connected: 2, failed: 0 },
        framesReceived: 9,
      }),
    ).toMatchObject({ framesReceived: 9, expected: 0, playersTooLateToJudge: 0 });
  });

  it('places every counter where the summary says, and every frames/throughput counter is a threshold metric', () => {
    const a = some();
    const s = buildSummary({
      scenario: resolveScenario({}).scenario!,
      target: 'u',
      targetKind: 'external',
      startedAt: new Date(0),
      durationMs: 1000,
      counters: a,
      expectedSource: 'send-logs',
      failures: {},
      histograms: new Map(),
      generator: { cpuSeconds: 0, maxRssBytes: 0, workers: 1 },
    });
    for (const k of COUNTER_NAMES) {
      const path = COUNTERS[k].summary;
      if (path !== null) expect(getPath(s, path), path).toBe(a[k]);
    }
    for (const f of counterFieldsOf('frames')) expect(typeof parseThreshold(`frames.${f} == 0`), f).toBe('object');
    for (const f of counterFieldsOf('throughput'))
      expect(typeof parseThreshold(`throughput.${f} >= 0`), f).toBe('object');
    expect(typeof parseThreshold('sessions.players.tooLateToJudge == 0')).toBe('object');
    expect(typeof parseThreshold('generator.eventLoop.utilization < 0.9')).toBe('object');
    expect(parseThreshold('frames.nothing == 0')).toMatch(/frames\.\{lost,/);
  });
});
