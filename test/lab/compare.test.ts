import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { expandVariants, schedule } from '../../src/lab/compare.js';
import { resolveScenario } from '../../src/load/scenario.js';
import { readScenarioFile, SHIPPED_SCENARIOS } from '../../src/load/scenario-file.js';

describe('comparison plans', () => {
  it('expands a matrix into every combination of built-in settings, plus each other server', () => {
    const spec = {
      servers: ['builtin' as const],
      matrix: { chunkSize: [128, 4096, 65536], gopCache: [true, false] },
      repeat: 3,
    };
    expect(expandVariants(spec).map((v) => v.name)).toEqual([
      'chunkSize=128,gopCache=true',
      'chunkSize=128,gopCache=false',
      'chunkSize=4096,gopCache=true',
      'chunkSize=4096,gopCache=false',
      'chunkSize=65536,gopCache=true',
      'chunkSize=65536,gopCache=false',
    ]);
    const mixed = expandVariants({
      servers: ['builtin', 'nginx-rtmp', { name: 'mine', url: 'rtmp://127.0.0.1:1940/live' }],
      matrix: { mergeWriteMs: [0, 50] },
      repeat: 1,
    });
    expect(mixed.map((v) => [v.name, v.server, v.settings])).toEqual([
      ['builtin:mergeWriteMs=0', 'builtin', { mergeWriteMs: 0 }],
      ['builtin:mergeWriteMs=50', 'builtin', { mergeWriteMs: 50 }],
      ['nginx-rtmp', 'nginx-rtmp', {}],
      ['mine', 'mine', {}],
    ]);
  });

  it('runs each named settings set as a variant beside the built-in defaults or the matrix', () => {
    const variants: { name: string; settings: Record<string, string | number | boolean> }[] = [
      { name: 'merge-50', settings: { mergeWriteMs: 50 } },
      { name: 'nagle', settings: { tcpNodelay: false, batchReads: false } },
    ];
    expect(
      expandVariants({ servers: ['builtin', 'nginx-rtmp'], matrix: {}, variants, repeat: 1 }).map((v) => [
        v.name,
        v.server,
        v.settings,
      ]),
    ).toEqual([
      ['builtin', 'builtin', {}],
      ['merge-50', 'builtin', { mergeWriteMs: 50 }],
      ['nagle', 'builtin', { tcpNodelay: false, batchReads: false }],
      ['nginx-rtmp', 'nginx-rtmp', {}],
    ]);
    expect(
      expandVariants({ servers: ['builtin'], matrix: { chunkSize: [128] }, variants, repeat: 1 }).map((v) => v.name),
    ).toEqual(['chunkSize=128', 'merge-50', 'nagle']);
    expect(() =>
      expandVariants({ servers: ['builtin'], matrix: {}, variants: [{ name: 'builtin', settings: {} }], repeat: 1 }),
    ).toThrow('two variants are both named "builtin"');
  });

  it('takes the named settings sets from a scenario file as it takes its servers', () => {
    const r = resolveScenario(readScenarioFile(join(SHIPPED_SCENARIOS, 'frontier.yaml')).data);
    expect(r.problems).toEqual([]);
    expect(expandVariants(r.scenario!.compare!).map((v) => v.name)).toEqual([
      'builtin',
      'merge-20',
      'merge-50',
      'merge-100',
      'nagle',
      'write-per-message',
      'nginx-rtmp',
      'node-media-server',
    ]);
  });

  it('interleaves repeats, reversing every other round (A B C, C B A, A B C)', () => {
    const v = expandVariants({ servers: ['builtin'], matrix: { chunkSize: [1, 2, 3] }, repeat: 3 });
    expect(schedule(v, 3).map((x) => `${x.round}:${x.variant.settings.chunkSize}`)).toEqual([
      '0:1',
      '0:2',
      '0:3',
      '1:3',
      '1:2',
      '1:1',
      '2:1',
      '2:2',
      '2:3',
    ]);
  });
});
