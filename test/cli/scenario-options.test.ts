import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addScenarioOptions } from '../../src/cli/scenario-options.js';
import { describedScenarioFlags, flagsToScenario } from '../../src/load/scenario-input.js';
import { getPath } from '../../src/results/counters.js';

/** A value each kind of field reads. */
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

describe('scenario flags', () => {
  it('are derived from the scenario schema, and each one, as the command line parses it, sets its field', () => {
    const flags = describedScenarioFlags();
    expect(flags.length).toBeGreaterThan(20);
    for (const f of flags) {
      const cmd = addScenarioOptions(new Command('t').exitOverride());
      const raw =
        f.name === 'target'
          ? 'rtmp://127.0.0.1:1935/live'
          : f.repeat === 'settings'
            ? 'chunkSize=128'
            : f.name === 'threshold'
              ? 'frames.lost == 0'
              : f.name === 'workers'
                ? '2'
                : (SAMPLE[f.field.kind] ?? 'x');
      cmd.parse(f.value === null ? ['node', 't', `--${f.name}`] : ['node', 't', `--${f.name}`, raw]);
      const { input, problems } = flagsToScenario(cmd.opts());
      expect(problems, f.name).toEqual([]);
      expect(getPath(input, f.path), `--${f.name} sets ${f.path}`).toBeDefined();
    }
  });

  it("show the schema's description and default in their help", () => {
    const help = addScenarioOptions(new Command('t')).helpInformation();
    expect(help).toMatch(/--bitrate <rate>\s+Video bit rate of each publisher\.\s+\(default\s+600k\)/);
    expect(help).toMatch(/--gop <time>\s+Keyframe interval\.\s+\(default 2s\)/);
    expect(help).toMatch(/--codec <name>\s+Video codec[\s\S]*?\(avc,\s+hevc\)\s+\(default\s+avc\)/);
  });
});
