import { describe, expect, it } from 'vitest';
import { resolveScenario } from '../../src/load/scenario.js';

describe('scenario validation', () => {
  it('lists every problem with its path', () => {
    const r = resolveScenario({
      target: 'http://example.com',
      streams: 0,
      publishers: { videoBitrate: 'fast', codec: 'vp8' },
      players: { perStream: -1 },
      duration: 'soon',
      extra: true,
    });
    expect(r.scenario).toBeNull();
    const text = r.problems.join('\n');
    for (const path of [
      'target',
      'streams',
      'publishers.videoBitrate',
      'publishers.codec',
      'players.perStream',
      'duration',
      'extra',
    ]) {
      expect(text).toContain(path);
    }
  });

  it('rejects more publishers than streams and a ramp longer than the run', () => {
    expect(resolveScenario({ streams: 2, publishers: { count: 3 } }).problems).toEqual([
      'publishers.count: cannot publish 3 streams when there are 2',
    ]);
    expect(resolveScenario({ duration: '10s', ramp: '20s' }).problems).toEqual([
      'ramp: the ramp (20s) must end before the run does (10s); set a shorter ramp',
    ]);
  });
});
