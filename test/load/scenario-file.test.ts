import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { scenarioFromInput } from '../../src/load/scenario-input.js';
import { scenarioJsonSchema } from '../../src/cli/schema.js';
import { SHIPPED_SCENARIOS } from '../../src/load/scenario-file.js';

const dir = mkdtempSync(join(tmpdir(), 'rtmpbench-scenarios-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shipped = readdirSync(SHIPPED_SCENARIOS).filter((f) => f.endsWith('.yaml'));
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(
  JSON.parse(readFileSync(join(SHIPPED_SCENARIOS, 'scenario.schema.json'), 'utf8')),
);

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('shipped scenarios', () => {
  it('include the ones people need', () => {
    expect(shipped.sort()).toEqual([
      'capacity-per-cpu.yaml',
      'capacity.yaml',
      'churn.yaml',
      'ci-smoke.yaml',
      'frontier.yaml',
      'joiners.yaml',
      'llhls.yaml',
      'mixed-delivery.yaml',
      'publish-fan-in.yaml',
      'quickstart.yaml',
      'slow-viewers.yaml',
      'soak.yaml',
      'tuning-matrix.yaml',
    ]);
  });

  it.each(shipped)('%s is valid for rtmpbench and for its JSON Schema', (name) => {
    const r = scenarioFromInput(join(SHIPPED_SCENARIOS, name), {});
    expect(r.problems).toEqual([]);
    expect(r.scenario?.name).toBe(name.replace(/\.yaml$/, ''));
    const text = readFileSync(join(SHIPPED_SCENARIOS, name), 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./scenario.schema.json');
    expect(validate(parseYaml(text)), JSON.stringify(validate.errors)).toBe(true);
  });

  it('ci-smoke runs in under a minute by its own clock', () => {
    const s = scenarioFromInput('ci-smoke', {}).scenario!;
    expect(s.durationMs).toBeLessThanOrEqual(30_000);
  });
});

describe('the JSON Schema', () => {
  it('in scenarios/ is the one the code exports (npm run schema regenerates it)', () => {
    expect(JSON.parse(readFileSync(join(SHIPPED_SCENARIOS, 'scenario.schema.json'), 'utf8'))).toEqual(
      scenarioJsonSchema(),
    );
  });

  it('accepts units written as text or as numbers and rejects unknown keys and bad values', () => {
    expect(
      validate({
        duration: '1m30s',
        ramp: 10,
        publishers: { videoBitrate: '2.5m' },
        server: { maxQueuedBytes: '1m', chunkSize: 128 },
      }),
    ).toBe(true);
    expect(validate({ duraton: '30s' })).toBe(false);
    expect(validate({ duration: 'soon' })).toBe(false);
    expect(validate({ publishers: { codec: 'vp8' } })).toBe(false);
    expect(validate({ server: { chunkSize: 100 } })).toBe(false);
    expect(validate({ server: { port: 1935 } })).toBe(false);
  });
});

describe('an invalid scenario file', () => {
  it('lists every problem at once, in file order, with its line and path', () => {
    const path = file(
      'bad.yaml',
      [
        'name: bad run',
        'streams: 0',
        'publishers:',
        '  videoBitrate: fast',
        '  codec: vp8',
        'players:',
        '  perStream: 10',
        '  slowPerStream: 20',
        'duration: soon',
        'thresholds:',
        '  - frames.lost == 0',
        '  - latency.p99 < 1',
        'publisher:',
        '  fps: 30',
        'churn:',
        '  joinsPerSec: 3',
        'server:',
        '  chunksize: 4096',
        '  backpressure: drop-all',
        'compare:',
        '  matrix:',
        '    chunkSize: [128, 100000]',
        '',
      ].join('\n'),
    );
    const r = scenarioFromInput(path, {});
    expect(r.scenario).toBeNull();
    expect(r.problems).toEqual([
      `${path}:1: name: letters, digits, dots, dashes and underscores only`,
      `${path}:2: streams: Too small: expected number to be >=1`,
      `${path}:4: publishers.videoBitrate: expected a bit rate such as 600k or 2.5m, got "fast"`,
      `${path}:5: publishers.codec: Invalid option: expected one of "avc"|"hevc"`,
      `${path}:8: players.slowPerStream: 20 slow players but at most 10 players per stream`,
      `${path}:9: duration: expected a duration such as 30s, 1500ms or 2m, got "soon"`,
      `${path}:12: thresholds[1]: "latency.p99 < 1": latency metrics are connect, handshake, playStart, firstFrame, firstKeyframe, endToEnd, slowEndToEnd, playout, gap, pacing, playlistFetch, playlistAge, segmentFetch, availabilityLag, resume`,
      `${path}:13: publisher: unknown key (did you mean "publishers"?)`,
      `${path}:16: churn.joinsPerSec: unknown key (did you mean "joinsPerSecond"?)`,
      `${path}:18: server.chunksize: not a server setting (did you mean "chunkSize"?)`,
      `${path}:19: server.backpressure: Invalid option: expected one of "none"|"drop-to-keyframe"|"priority-drop"|"disconnect"`,
      `${path}:22: compare.matrix.chunkSize[1]: Too big: expected number to be <=65536`,
    ]);
  });

  it('names the YAML syntax error and its line', () => {
    const r = scenarioFromInput(file('syntax.yaml', 'name: x\nplayers:\n  perStream: [1, 2\nduration: 5s\n'), {});
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/syntax\.yaml is not valid YAML:\n {2}.*line 4/);
  });

  it('says which flag is wrong when the value came from the command line', () => {
    const r = scenarioFromInput(file('ok.yaml', 'name: ok\nplayers:\n  perStream: 4\n'), { slowPlayers: '9' });
    expect(r.problems).toEqual(['players.slowPerStream: 9 slow players but at most 4 players per stream']);
  });

  it('rejects a capacity search without thresholds and a comparison with a setting that does not exist', () => {
    const r = scenarioFromInput(
      file('cap.yaml', 'capacity: { breakAfter: 2s }\ncompare:\n  matrix:\n    gopCach: [true, false]\n'),
      {},
    );
    expect(r.problems.map((p) => p.replace(/^.*?cap\.yaml:\d+: /, ''))).toEqual([
      'capacity: a capacity search needs thresholds to break',
      'compare.matrix.gopCach: not a server setting (did you mean "gopCache"?)',
    ]);
  });
});
