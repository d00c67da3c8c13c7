import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addScenarioOptions } from '../../src/cli/scenario-options.js';
import { SHIPPED_SCENARIOS } from '../../src/load/scenario-file.js';
import { describedScenarioFlags, scenarioFromInput } from '../../src/load/scenario-input.js';
import { resolveScenario } from '../../src/load/scenario.js';

/**
 * The resolved scenario is part of the results contract (summary.json records it): for the same
 * input it keeps its field names and values. This golden file holds what every shipped scenario,
 * every flag and a set of hand-made inputs resolve to (and the problems of some invalid ones), as
 * summary.json would write it. `UPDATE_GOLDEN=1 npx vitest run test/load/scenario-resolved.test.ts`
 * rewrites it; a change to it is a change to the results contract.
 */

const GOLDEN = join(import.meta.dirname, 'golden', 'resolved-scenarios.json');

/** A value each kind of flag reads (as the flag tests use them). */
const SAMPLE: Record<string, string> = {
  duration: '7s',
  bitrate: '700k',
  size: '64k',
  integer: '3',
  number: '2.5',
  string: 'x',
  enum: 'hevc',
  list: 'a',
  record: 'chunkSize=128',
};

function flagSample(name: string, kind: string, repeat: string | undefined): string {
  if (name === 'target') return 'rtmp://127.0.0.1:1935/live';
  if (repeat === 'settings') return 'chunkSize=128';
  if (name === 'threshold') return 'frames.lost == 0';
  if (name === 'workers') return '2';
  if (name === 'protocol') return 'http-flv';
  if (name === 'play-url') return 'http://{host}:8080/{app}/{stream}.flv';
  return SAMPLE[kind] ?? 'x';
}

/** Command-line arguments through the real option parser, onto a shipped scenario. */
function fromArgs(file: string, args: string[]): unknown {
  const cmd = addScenarioOptions(new Command('t').exitOverride());
  cmd.parse(['node', 't', ...args]);
  const r = scenarioFromInput(file, cmd.opts());
  // Problems name the file: as the repository does, whatever the checkout's folder.
  return r.scenario ?? { problems: r.problems.map((p) => p.replaceAll(SHIPPED_SCENARIOS, 'scenarios')) };
}

function fromInput(input: unknown): unknown {
  const r = resolveScenario(input);
  return r.scenario ?? { problems: r.problems };
}

const INPUTS: Record<string, unknown> = {
  empty: {},
  everyOptionalField: {
    name: 'all',
    description: 'every optional field',
    target: 'rtmp://example.com:1935/live',
    insecure: true,
    serverPid: 42,
    serverCpuQuota: 0.5,
    streams: 2,
    streamNames: ['a', 'b'],
    httpPort: 8080,
    publishers: {
      count: 1,
      source: 'synthetic',
      codec: 'hevc',
      videoBitrate: '1m',
      audioBitrate: 0,
      fps: 25,
      gop: '1s',
      chunkSize: 128,
      restart: { every: '10s', pause: '2s', rename: true },
    },
    players: {
      perStream: 4,
      slowPerStream: 1,
      slowReadKbps: 100,
      firstVideoWithin: '3s',
      protocol: 'ws-flv',
      url: 'ws://{host}:{httpPort}/{app}/{stream}.flv',
      name: 'web',
    },
    viewers: [
      {
        protocol: 'hls',
        perStream: 2,
        url: 'http://{host}:{httpPort}/{app}/{stream}/index.m3u8',
        name: 'late',
        start: '5s',
        ramp: '2s',
      },
      { protocol: 'rtmp', perStream: 1, start: '4s' },
      { protocol: 'http-flv', perStream: 3, url: 'http://{host}:8080/{app}/{stream}.flv' },
    ],
    churn: { joinsPerSecond: 2, meanSessionTime: '5s' },
    duration: '20s',
    ramp: '5s',
    warmup: '2s',
    leak: { margin: '4k', warmup: '5s' },
    hooks: { before: 'http://example.com/before', after: 'https://example.com/after' },
    stallThreshold: '500ms',
    workers: 3,
    thresholds: ['latency.endToEnd.p99 < 250ms', 'frames.lost == 0'],
    capacity: { breakAfter: '2s' },
    compare: {
      servers: [
        'builtin',
        'nginx-rtmp',
        {
          name: 'srs',
          url: 'rtmp://127.0.0.1:1936/live',
          start: 'srs -c x.conf',
          playUrls: { 'http-flv': 'http://{host}:8080/{app}/{stream}.flv' },
        },
        { name: 'other', url: 'rtmp://127.0.0.1:1937/live' },
      ],
      matrix: { chunkSize: [128, 4096], gopCache: [true, false] },
      variants: [{ name: 'merge-50', settings: { mergeWriteMs: 50 } }],
      repeat: 2,
      baseline: 'builtin',
      gate: ['latency.endToEnd.p99 +10%'],
    },
  },
  builtinServerSettings: { server: { chunkSize: '64k', gopCache: false, backpressure: 'disconnect' }, compare: {} },
  stages: {
    stages: [
      { duration: '5s', target: 10 },
      { duration: '10s', target: 30 },
      { duration: '5s', target: 0 },
    ],
    players: { perStream: 3, slowPerStream: 2 },
  },
  waves: { waves: { perStream: 8, count: 2, ramp: '1s', stay: '5s', gap: '3s' } },
  wavesWithoutGap: { waves: { perStream: 5, gap: 0, ramp: 0 } },
  noRamp: { duration: '10s', ramp: 0, players: { perStream: 0 }, publishers: { count: 0 } },
  rtmpPlayersNamed: { players: { protocol: 'rtmp', name: 'main' } },
  invalidEverywhere: {
    name: 'bad name',
    target: 'http://x',
    streams: 2,
    streamNames: ['a'],
    publishers: { count: 3, fps: 0, restart: { every: '500ms' } },
    players: { perStream: 2, slowPerStream: 5, protocl: 'rtmp' },
    viewers: [
      { protocol: 'hls', perStream: 1, ramp: '1s' },
      { protocol: 'http-flv', perStream: 1, start: '40s' },
    ],
    duration: '30s',
    ramp: '40s',
    warmup: '50s',
    thresholds: ['latency.nope.p99 < 1ms'],
    capacity: {},
    compare: { matrix: { chunkSiz: [1] }, variants: [{ name: 'v', settings: { port: 1 } }], gate: ['x'] },
    server: { host: 'x', gopCach: true },
    unknownKey: 1,
  },
  invalidStagesAndWaves: {
    stages: [{ duration: 0, target: 1 }],
    waves: { perStream: 0 },
    players: { name: 'rtmp' },
    viewers: [
      { protocol: 'rtmp', perStream: 1, name: 'a' },
      { protocol: 'rtmp', perStream: 1, name: 'a' },
    ],
  },
  externalHttpViewers: {
    target: 'rtmp://example.com/live',
    players: { protocol: 'hls' },
    viewers: [{ protocol: 'http-flv', perStream: 1, url: 'http://{host}:{httpPort}/{app}/{stream}.flv' }],
  },
};

function resolvedCases(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const shipped = readdirSync(SHIPPED_SCENARIOS)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  for (const f of shipped) out[`file ${f}`] = fromArgs(join(SHIPPED_SCENARIOS, f), []);
  for (const f of describedScenarioFlags()) {
    const args = f.value === null ? [`--${f.name}`] : [`--${f.name}`, flagSample(f.name, f.field.kind, f.repeat)];
    out[`flag ${args.join(' ')}`] = fromArgs('quickstart', args);
  }
  out['flags tuning-matrix --players 20 --duration 1m --ramp 0 --threshold frames.lost==0'] = fromArgs(
    'tuning-matrix',
    ['--players', '20', '--duration', '1m', '--ramp', '0', '--threshold', 'frames.lost == 0'],
  );
  for (const [name, input] of Object.entries(INPUTS)) out[`input ${name}`] = fromInput(input);
  // As summary.json writes it.
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
}

describe('resolved scenarios', () => {
  it('keep their fields and values for every shipped scenario, flag and recorded input (the results contract)', () => {
    const cases = resolvedCases();
    if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN, `${JSON.stringify(cases, null, 2)}\n`);
    const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(cases)).toEqual(Object.keys(golden));
    for (const [name, resolved] of Object.entries(cases)) {
      expect(resolved, name).toEqual(golden[name]);
      // In the same order too, so summary.json reads the same.
      expect(JSON.stringify(resolved), name).toBe(JSON.stringify(golden[name]));
    }
  });
});
