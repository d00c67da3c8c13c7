import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveScenario } from '../../src/load/scenario.js';
import { newCounters } from '../../src/results/counters.js';
import { COUNTER_NAMES, COUNTERS } from '../../src/results/counters.js';
import { promFamilyOf, SERVER_COST, SERVER_SYSCALLS } from '../../src/results/figures.js';
import { parseGateRule, type GateRule } from '../../src/results/gates.js';
import type { RunSummary } from '../../src/results/summary.js';
import { parseThreshold } from '../../src/results/thresholds.js';
import { generatorFamilies } from '../../src/report/generator-metrics.js';
import { LiveRun } from '../../src/report/live-run.js';
import { PACKAGE_ROOT } from '../../src/version.js';

/**
 * One definition per figure: every counter of the table and every numeric leaf of real
 * summaries (every committed baseline's) is a threshold and gate metric with its direction, and
 * is exported by the live Prometheus endpoint, or stands on a list of exclusions below, each
 * with its reason. A figure added to the summary without its definition fails here.
 */

/** Leaves that are not figures to judge: the reason for each. */
const NOT_A_METRIC: [RegExp, string][] = [
  [/^server\.pid$/, 'a process id'],
  [
    /\.leak\.(bytesPerSession|fdsPerSession)\.(low|high)$/,
    "the bounds of the leak estimate's interval (the estimate is the figure)",
  ],
  [/\.leak\.(marginBytesPerSession|confidence)$/, "the verdict's settings, from the scenario"],
  [/\.leak\.plateau\./, 'what the verdict judged (seconds, samples, sessions), not a measure'],
  [
    /^server\.closedByReason\./,
    "connections the built-in server closed, by its close kinds: shown in reports, judged through the viewers' own failures",
  ],
  [
    /^generator\.eventLoop\.(workers\.\d+|main)\./,
    'one thread of the generator: the worst thread is generator.eventLoop.*',
  ],
  [/^byProtocol\.\w+\.httpErrors\./, "HTTP answers by status: judged through the protocol's sessions.players.failed"],
  [/^byGroup\.\w+\.(perStream|startSec|rampSec)$/, "the group's configuration"],
  [
    /^byGroup\.\w+\.endToEndP99MsBySecond\.\d+$/,
    "a second of the group's series: the group's latency.* are its figures",
  ],
];

/** Figures thresholds and gates take that the live endpoint does not export: the reason for each. */
const NOT_EXPORTED_LIVE: [RegExp, string][] = [
  [/^sessions\.\w+\.planned$/, 'the plan is the rtmpbench_sessions_planned gauge, from the scenario'],
  [
    /^sessions\.\w+\.(ended|tooLateToJudge)$/,
    "known once a session ends or the run's last bound passes: summary figures",
  ],
  [
    /^throughput\.(playerBytesSent|publisherBytesReceived|segment\w+|hlsRequests\w*)$/,
    'the other direction of a session, and HLS download detail: summary figures',
  ],
  [/^throughput\.mbpsReceived$/, 'a rate over the run: rate(rtmpbench_bytes_received_total) is the live one'],
  [
    /^frames\.(expected|slowExpected|slowReceived|marked|publisherStops)$/,
    'frame accounting is done at the end of a run, from send logs and viewer records',
  ],
  [/^latency\.\w+\.\w+$/, 'never reached: latencies are histograms (checked apart)'],
  [
    /^server\.(cpuPer1000PlayerMinutes|drops|io|gc|leak)(\.|$)/,
    "the built-in server's /metrics exports its own counts; per-viewer cost and the verdict are made at the end",
  ],
  [
    /^server\.syscalls\./,
    'perf stat counts them in the kernel and gives its counts when it stops, at the end of a run',
  ],
  [
    /^server\.cost\./,
    "read from the kernel's counters at the start and end of a run (the timeline has them per second); the ratios are made at the end",
  ],
  [/^generator\.(rssSlopeBytesPerMin|leak\.|eventLoop\.delayMaxMs)/, 'made over the whole run'],
  [/^group\./, 'named groups are summary figures (their viewers are in the protocol series)'],
  [
    /^browser\./,
    "browser viewers' pages are drained every second but their figures are made at the end (and their cost is Chromium's, not a series)",
  ],
];

function numericLeaves(value: unknown, path: string[] = [], out: string[] = []): string[] {
  if (typeof value === 'number') out.push(path.join('.'));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) numericLeaves(v, [...path, k], out);
  return out;
}

/** A summary leaf as a path of the threshold grammar (latencyMs → latency, byProtocol.K → K, byGroup.N → group.N). */
function grammarPath(leaf: string): string {
  return leaf
    .replace(/^byProtocol\.(\w+)\./, '$1.')
    .replace(/^byGroup\.(\w+)\./, 'group.$1.')
    .replace(/(^|\.)latencyMs\./, '$1latency.')
    .replace(/\.leak\.(bytesPerSession|fdsPerSession)\.estimate$/, '.leak.$1');
}

const SECTIONS = ['sessions', 'latencyMs', 'throughput', 'frames', 'server', 'generator', 'byProtocol', 'byGroup'];

function committedSummaries(): [string, RunSummary][] {
  const files = execFileSync('git', ['ls-files', 'results/baselines/**/summary.json'], {
    cwd: PACKAGE_ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
  return files.map((f) => [f, JSON.parse(readFileSync(join(PACKAGE_ROOT, f), 'utf8')) as RunSummary]);
}

const reason = (list: [RegExp, string][], path: string) => list.find(([re]) => re.test(path))?.[1];

describe('every figure is defined once', () => {
  const summaries = committedSummaries();
  const leaves = new Map<string, string>();
  for (const [file, s] of summaries) {
    for (const section of SECTIONS)
      for (const leaf of numericLeaves((s as unknown as Record<string, unknown>)[section], [section]))
        if (!leaves.has(leaf)) leaves.set(leaf, file);
  }

  it('reads real summaries that have every section', () => {
    expect(summaries.length).toBeGreaterThan(20);
    for (const section of SECTIONS)
      expect(
        [...leaves.keys()].some((l) => l.startsWith(`${section}.`)),
        section,
      ).toBe(true);
    for (const nested of [
      'server.io.',
      'server.gc.',
      'server.drops.',
      'server.leak.',
      'generator.leak.',
      'generator.eventLoop.',
      'byGroup.',
    ]) {
      expect(
        [...leaves.keys()].some((l) => l.startsWith(nested)),
        nested,
      ).toBe(true);
    }
  });

  it('takes every numeric leaf as a threshold and gate metric with its direction, or names why not', () => {
    const unexplained: string[] = [];
    for (const [leaf, file] of leaves) {
      if (reason(NOT_A_METRIC, leaf) !== undefined) continue;
      const path = grammarPath(leaf);
      const threshold = parseThreshold(`${path} >= 0`);
      const gate = parseGateRule(`${path} +5%`);
      if (typeof threshold === 'string' || typeof gate === 'string')
        unexplained.push(`${leaf} (${file}): ${typeof threshold === 'string' ? threshold : gate}`);
    }
    expect(unexplained).toEqual([]);
  });

  it('gives every counter of the table its direction in gates and a live series or a reason', () => {
    for (const k of COUNTER_NAMES) {
      const spec: { summary: string | null; better: string } = COUNTERS[k];
      if (spec.summary === null) continue;
      const gate = parseGateRule(`${spec.summary} +5%`) as GateRule;
      expect(typeof gate, k).toBe('object');
      expect(gate.better, k).toBe(spec.better);
      expect(
        promFamilyOf(spec.summary.split('.')) !== null || reason(NOT_EXPORTED_LIVE, spec.summary) !== undefined,
        `${k}: exported or excluded`,
      ).toBe(true);
    }
  });

  it('takes every server.cost and server.syscalls figure as a threshold and gate metric', () => {
    const tables = [
      ['server.cost', SERVER_COST],
      ['server.syscalls', SERVER_SYSCALLS],
    ] as const;
    for (const [prefix, table] of tables)
      for (const [k, spec] of Object.entries(table)) {
        const path = `${prefix}.${k}`;
        expect(typeof parseThreshold(`${path} >= 0`), path).toBe('object');
        expect((parseGateRule(`${path} +10%`) as GateRule).better, path).toBe(spec.better);
        expect(promFamilyOf(path.split('.')) !== null || reason(NOT_EXPORTED_LIVE, path) !== undefined, path).toBe(
          true,
        );
      }
  });

  it('says which way is better as a user reads it', () => {
    const better = (p: string) => (parseGateRule(`${p} +5%`) as GateRule).better;
    expect(better('latency.endToEnd.p99')).toBe('lower');
    expect(better('latency.endToEnd.count')).toBe('higher');
    expect(better('sessions.players.connected')).toBe('higher');
    expect(better('sessions.players.ended')).toBe('lower');
    expect(better('frames.lost')).toBe('lower');
    expect(better('throughput.mbpsReceived')).toBe('higher');
    expect(better('server.io.messages')).toBe('higher');
    expect(better('server.gc.ms')).toBe('lower');
    expect(better('server.cost.writeCallsPerMessage')).toBe('lower');
    expect(better('server.cost.bytesPerWriteCall')).toBe('higher');
    expect(better('hls.frames.expected')).toBe('higher');
    expect(better('group.steady.whileJoining.joiners.ratio')).toBe('lower');
  });

  it('exports every figure the live endpoint claims, under the family the table names', () => {
    const live = new LiveRun();
    const { scenario } = resolveScenario({ name: 'walk', players: { perStream: 2 } });
    live.onStart({
      scenario: scenario!,
      target: 'rtmp://127.0.0.1:1935/live',
      startedAt: '2026-01-01T00:00:00.000Z',
      playersPlanned: 2,
      workers: 1,
      resultsDir: '/nowhere',
    });
    live.onSecond({
      point: {
        tSec: 1,
        publishersUp: 1,
        playersUp: 2,
        mbpsReceived: 1,
        framesReceived: 30,
        errors: 0,
        endToEndP50Ms: 1,
        endToEndP99Ms: 2,
        endToEndP999Ms: 3,
        generatorCpuPct: 1,
        serverCpuPct: 1,
        serverRssBytes: 1,
        generatorRssBytes: 1,
      },
      counters: newCounters(),
      cumulative: newCounters(),
      cumulativeByProtocol: {},
      histograms: new Map(),
      failures: {},
    });
    const families = new Set(generatorFamilies(live).map((f) => f.name));
    const missing: string[] = [];
    for (const [leaf] of leaves) {
      if (reason(NOT_A_METRIC, leaf) !== undefined || leaf.startsWith('byProtocol.') || leaf.startsWith('byGroup.'))
        continue;
      const path = grammarPath(leaf).split('.');
      const family = promFamilyOf(path);
      if (family === null) {
        if (reason(NOT_EXPORTED_LIVE, path.join('.')) === undefined)
          missing.push(`${leaf}: neither exported nor excluded`);
      } else if (!families.has(family)) missing.push(`${leaf}: ${family} is not in the endpoint`);
    }
    expect(missing).toEqual([]);
  });
});
