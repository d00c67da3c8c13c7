import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { runDir, scenarioFile, scratch, summaryOf } from '../helpers/runs.js';

/** A capacity search end to end through the CLI: it stops once its thresholds broke, and says with how many players. */

const out = scratch('capacity-search');
const scenario = (name: string, text: string) => scenarioFile(out, name, text);

describe('capacity search', () => {
  it('stops once a threshold has failed long enough and reports the most players that passed', async () => {
    // "connected < 12" breaks at the 12th player: a deterministic stand-in for a latency limit.
    const file = scenario(
      'cap',
      [
        'name: cap',
        'stages:',
        '  - { duration: 12s, target: 36 }',
        'thresholds:',
        '  - sessions.players.connected < 12',
        'capacity:',
        '  breakAfter: 2s',
        '',
      ].join('\n'),
    );
    const r = await cli(['run', file, '--out', out, '--workers', '1']);
    expect(r.code, r.stderr).toBe(0); // the search breaking is its result, not a failure
    const s = summaryOf(runDir(r.stdout));
    expect(s.capacity?.broken).toBe(true);
    expect(s.capacity!.highestPassingPlayers).toBeGreaterThan(0);
    expect(s.capacity!.highestPassingPlayers).toBeLessThan(12);
    expect(s.capacity!.brokenBy![0]).toMatch(/^sessions\.players\.connected < 12 \(measured \d+\)/);
    expect(s.durationMs).toBeLessThan(12_000); // stopped early
    expect(r.stdout).toMatch(/capacity: \d+ players is the most for which every threshold held; they broke at \d+s/);
    // Over the whole run the threshold did not hold: said so, without counting toward the exit code.
    expect(s.thresholds[0]).toMatchObject({ passed: false, enforced: false });
    expect(r.stdout).toMatch(
      /threshold exceeded: sessions\.players\.connected < 12 .*\(capacity search: reported, not enforced\)/,
    );
  });
});
