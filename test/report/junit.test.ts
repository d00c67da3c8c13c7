import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedComparison, LoadedRun } from '../../src/results/folder.js';
import type { GateResult } from '../../src/results/gates.js';
import type { RunSummary, ThresholdResult } from '../../src/results/summary.js';
import { comparisonJunit, runJunit } from '../../src/report/junit.js';
import { hasChromium, launchChromium, parseXml, type XmlElement } from '../helpers/playwright.js';

/** JUnit XML as CI systems read it, checked with the browser's XML parser (not ours). */

const summary = (name: string, thresholds: ThresholdResult[]) =>
  ({ name, startedAt: '2026-01-02T03:04:05.678Z', durationMs: 12_000, thresholds }) as unknown as RunSummary;
const passed: ThresholdResult = {
  expression: 'frames.lost == 0',
  passed: true,
  actual: 0,
  message: 'frames.lost == 0 (measured 0)',
};
const failed: ThresholdResult = {
  expression: 'latency.endToEnd.p99 < 5ms',
  passed: false,
  actual: 212.5,
  message: 'latency.endToEnd.p99 < 5ms (measured 212.5 ms)',
};
const exceeded: ThresholdResult = { ...failed, enforced: false };

const kids = (e: XmlElement, name: string) => e.children.filter((c) => c.name === name);

describe.skipIf(!hasChromium())('JUnit XML', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(() => browser?.close());

  it('has a test case per threshold of a run, with the measured value in the failure message', async () => {
    const root = await parseXml(browser, runJunit(summary('smoke <&"\'>', [passed, failed, exceeded])));
    expect(root.name).toBe('testsuites');
    expect(root.attrs).toMatchObject({ tests: '3', failures: '1', errors: '0', time: '12.000' });
    const [suite] = kids(root, 'testsuite');
    expect(suite!.attrs).toMatchObject({
      name: 'thresholds: smoke <&"\'>',
      tests: '3',
      failures: '1',
      time: '12.000',
      timestamp: '2026-01-02T03:04:05',
    });
    const cases = kids(suite!, 'testcase');
    expect(cases.map((c) => [c.attrs.classname, c.attrs.name, kids(c, 'failure').length])).toEqual([
      ['rtmpbench.thresholds.smoke <&"\'>', 'frames.lost == 0', 0],
      ['rtmpbench.thresholds.smoke <&"\'>', 'latency.endToEnd.p99 < 5ms', 1],
      ['rtmpbench.thresholds.smoke <&"\'>', 'latency.endToEnd.p99 < 5ms', 0], // reported, not enforced
    ]);
    for (const c of cases) expect(c.attrs.time).toMatch(/^\d+\.\d{3}$/);
    const failure = kids(cases[1]!, 'failure')[0]!;
    expect(failure.attrs).toMatchObject({
      message: 'latency.endToEnd.p99 < 5ms (measured 212.5 ms)',
      type: 'threshold',
    });
  });

  it('has a test case per gate rule and variant, per threshold of each run, and an error for a run that failed', async () => {
    const gate = (variant: string, ok: boolean): GateResult => ({
      rule: 'latency.endToEnd.p99 +10%',
      variant,
      baseline: 'base',
      relative: true,
      better: 'lower',
      passed: ok,
      estimate: ok ? 1.01 : 9.5,
      low: 1,
      high: 2,
      pairs: 3,
      message: `latency.endToEnd.p99 +10%: ${variant} ${ok ? 'within' : 'worse beyond the margin'}`,
    });
    const run = (s: RunSummary): LoadedRun => ({ dir: '/x', summary: s, timeline: [], histograms: {}, counters: null });
    const c = {
      dir: '/x',
      file: {
        name: 'ci',
        startedAt: '2026-01-02T03:04:05.678Z',
        baseline: 'base',
        repeat: 2,
        variants: [
          { name: 'base', server: 'base', settings: {} },
          { name: 'same', server: 'same', settings: {} },
          { name: 'slowed', server: 'slowed', settings: {} },
        ],
        runs: [
          { variant: 'base', round: 0, dir: 'a' },
          { variant: 'same', round: 0, dir: 'b' },
          { variant: 'slowed', round: 0, dir: 'c' },
          { variant: 'slowed', round: 1, dir: null, error: 'slowed did not start' },
          { variant: 'same', round: 1, dir: 'd' },
          { variant: 'base', round: 1, dir: 'e' },
        ],
        gates: [gate('same', true), gate('slowed', false)],
      },
      runs: new Map([
        [
          'base',
          [
            { round: 0, run: run(summary('ci', [passed])) },
            { round: 1, run: run(summary('ci', [passed])) },
          ],
        ],
        [
          'same',
          [
            { round: 0, run: run(summary('ci', [passed])) },
            { round: 1, run: run(summary('ci', [passed])) },
          ],
        ],
        ['slowed', [{ round: 0, run: run(summary('ci', [failed])) }]],
      ]),
    } as unknown as LoadedComparison;
    const root = await parseXml(browser, comparisonJunit(c));
    expect(root.attrs).toMatchObject({ name: 'rtmpbench compare ci', tests: '8', failures: '2', errors: '1' });
    const suites = kids(root, 'testsuite');
    expect(suites.map((s) => [s.attrs.name, s.attrs.tests, s.attrs.failures, s.attrs.errors])).toEqual([
      ['gates: against base', '2', '1', '0'],
      ['thresholds: base', '2', '0', '0'],
      ['thresholds: same', '2', '0', '0'],
      ['thresholds: slowed', '2', '1', '1'],
    ]);
    const gates = kids(suites[0]!, 'testcase');
    expect(gates.map((g) => `${g.attrs.classname} ${g.attrs.name}`)).toEqual([
      'rtmpbench.gates.same latency.endToEnd.p99 +10%',
      'rtmpbench.gates.slowed latency.endToEnd.p99 +10%',
    ]);
    expect(kids(gates[1]!, 'failure')[0]!.attrs.message).toBe(
      'latency.endToEnd.p99 +10%: slowed worse beyond the margin',
    );
    const slowed = kids(suites[3]!, 'testcase');
    expect(slowed.map((t) => t.attrs.name)).toEqual(['round 1: latency.endToEnd.p99 < 5ms', 'round 2: run']);
    expect(kids(slowed[1]!, 'error')[0]!.attrs.message).toBe('the run failed: slowed did not start');
  });
});
