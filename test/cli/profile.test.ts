import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuHotSpots } from '../../src/lab/profile.js';
import { cli } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'rtmpbench-profile-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A short load: one stream, a few players, 5 s. */
const LOAD = [
  'quickstart',
  '--streams',
  '1',
  '--players',
  '30',
  '--duration',
  '5s',
  '--ramp',
  '1s',
  '--warmup',
  '1s',
  '--workers',
  '1',
  '--no-progress',
];

/** The one run folder a profile wrote under `out`. */
function runDir(out: string): string {
  const dirs = readdirSync(out).filter((d) => statSync(join(out, d)).isDirectory());
  expect(dirs).toHaveLength(1);
  return join(out, dirs[0]!);
}

describe('rtmpbench profile', () => {
  it('cpu-prof: profiles the server alone under load, prints its hot spots and keeps the .cpuprofile in the run folder', async () => {
    const out = join(work, 'cpu');
    const r = await cli(['profile', ...LOAD, '--tool', 'cpu-prof', '--out', out], 120_000);
    expect(r.stderr).toContain('the built-in server under cpu-prof');
    expect(r.code).toBe(0);
    const dir = runDir(out);
    const files = readdirSync(join(dir, 'profile'));
    expect(files.filter((f) => f.endsWith('.cpuprofile'))).toHaveLength(1);
    const profile = join(dir, 'profile', files.find((f) => f.endsWith('.cpuprofile'))!);
    expect(r.stdout).toContain(`profile: ${profile}`);
    expect(r.stdout).toMatch(/server hot spots \(self time, [\d.]+ s of CPU samples\):/);
    // The profile is the server's: its functions are there, the load generator's are not.
    const { spots, totalMs } = cpuHotSpots(profile, 1000);
    expect(totalMs).toBeGreaterThan(0);
    const where = spots.map((s) => s.location).join('\n');
    expect(where).toMatch(/dist\/src\/server\/\w+\.js/);
    expect(where).not.toMatch(/dist\/src\/load\/worker/);
    expect(where).not.toMatch(/dist\/src\/client\/player/);
    // The load's own results sit beside it.
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as {
      sessions: { players: { connected: number } };
      frames: { lost: number };
    };
    expect(summary.sessions.players.connected).toBe(30);
    expect(summary.frames.lost).toBe(0);
  }, 150_000);

  it('heap-prof: writes a sampling heap profile of the server', async () => {
    const out = join(work, 'heap');
    const r = await cli(['profile', ...LOAD, '--tool', 'heap-prof', '--out', out], 120_000);
    expect(r.code).toBe(0);
    const dir = runDir(out);
    const heap = readdirSync(join(dir, 'profile')).find((f) => f.endsWith('.heapprofile'));
    expect(heap).toBeDefined();
    const parsed = JSON.parse(readFileSync(join(dir, 'profile', heap!), 'utf8')) as { head: { children: unknown[] } };
    expect(parsed.head.children.length).toBeGreaterThan(0);
    expect(r.stdout).toContain(`profile: ${join(dir, 'profile', heap!)}`);
  }, 150_000);

  it("clinic doctor: writes clinic's HTML report into the run folder and prints its path", async () => {
    const out = join(work, 'doctor');
    const r = await cli(['profile', ...LOAD, '--tool', 'doctor', '--out', out], 240_000);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const dir = runDir(out);
    const html = readdirSync(join(dir, 'profile')).filter((f) => f.endsWith('.html'));
    expect(html).toHaveLength(1);
    const page = join(dir, 'profile', html[0]!);
    expect(r.stdout).toContain(`profile: ${page}`);
    const text = readFileSync(page, 'utf8');
    expect(text.length).toBeGreaterThan(50_000);
    expect(text).toContain('Clinic Doctor');
  }, 300_000);

  it('refuses what it cannot profile, before starting anything (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['profile', 'quickstart', '--tool', 'gprof'],
        /--tool: "gprof" is not one of doctor, flame, bubbleprof, heapprofiler, cpu-prof, heap-prof, perf/,
      ],
      [
        ['profile', 'quickstart', '--target', 'rtmp://127.0.0.1:1/live'],
        /--tool cpu-prof runs the built-in server under a Node profiler; the scenario targets rtmp:\/\/127\.0\.0\.1:1\/live/,
      ],
      [['profile', 'no-such-scenario'], /no-such-scenario/],
    ];
    for (const [args, message] of cases) {
      const r = await cli([...args, '--out', join(work, 'refused')]);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.code, args.join(' ')).toBe(2);
    }
    expect(existsSync(join(work, 'refused'))).toBe(false);
  }, 60_000);
});
