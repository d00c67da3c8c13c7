import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComparisonFile } from '../../src/results/comparison-file.js';
import type { TimelinePoint } from '../../src/results/timeline.js';
import type { RunSummary } from '../../src/results/summary.js';
import { countColor, hasChromium, openPage, screenshot } from '../helpers/browser.js';
import { cli } from '../helpers/cli.js';
import { CLI, startServerProcess, type ServerProcess } from '../helpers/server.js';
import { freePort } from '../../src/proc/port.js';
import type { ComparisonTable } from '../../src/report/comparison.js';

/**
 * Scenarios end to end through the CLI: capacity search, stages, comparisons, reports (opened
 * in headless Chromium) and merging shards. Real runs against real servers, kept short.
 */

const out = mkdtempSync(join(tmpdir(), 'rtmpbench-analysis-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function scenario(name: string, text: string): string {
  const p = join(out, `${name}.yaml`);
  writeFileSync(p, text);
  return p;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

const runDir = (stdout: string) => /results: (\S+)/.exec(stdout)![1]!;
const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunSummary;

describe('capacity search', () => {
  it('stops once a threshold has failed long enough and reports the most players that passed', async () => {
    // "connected < 12" breaks at the 12th player: a deterministic stand-in for a latency limit.
    const file = scenario('cap', ['name: cap', 'stages:', '  - { duration: 12s, target: 36 }', 'thresholds:', '  - sessions.players.connected < 12', 'capacity:', '  breakAfter: 2s', ''].join('\n'));
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
    expect(r.stdout).toMatch(/threshold exceeded: sessions\.players\.connected < 12 .*\(capacity search: reported, not enforced\)/);
  });
});

describe('stages', () => {
  let dir = '';
  beforeAll(async () => {
    const file = scenario('stages', ['name: stages', 'stages:', '  - { duration: 2s, target: 10 }', '  - { duration: 3s, target: 10 }', '  - { duration: 2s, target: 0 }', ''].join('\n'));
    const r = await cli(['run', file, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    dir = runDir(r.stdout);
  });

  it('ramps players up, holds, and ramps down on schedule', () => {
    const s = summaryOf(dir);
    expect(s.sessions.players).toMatchObject({ planned: 10, connected: 10, failed: 0 });
    const t = JSON.parse(readFileSync(join(dir, 'timeline.json'), 'utf8')) as TimelinePoint[];
    const at = (sec: number) => t.find((p) => p.tSec === sec)!.playersUp;
    expect(at(1)).toBeGreaterThan(0);
    expect(at(1)).toBeLessThan(10);
    expect(at(3)).toBe(10);
    expect(at(4)).toBe(10);
    expect(at(6)).toBeLessThan(10);
    // Player time is the area under the stages: 10 players for 1 + 3 + 1 s on average = 50 player-seconds.
    expect(s.sessions.playerMinutes * 60).toBeGreaterThan(40);
    expect(s.sessions.playerMinutes * 60).toBeLessThan(60);
  });

  it('renders a report: console, Markdown for a CI summary, and an HTML page whose charts Chromium draws without errors', async () => {
    const r = await cli(['report', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('rtmpbench run "stages"');
    expect(r.stdout).toMatch(/reports: .*report\.md, .*report\.html/);
    const md = await cli(['report', dir, '--stdout', 'markdown', '--no-write']);
    expect(md.stdout).toMatch(/^## rtmpbench run "stages"/);
    expect(md.stdout).toMatch(/\| latency \(ms\) \| count \| min \| p50 \|/);
    if (!hasChromium()) return;
    const html = join(dir, 'report.html');
    expect(readFileSync(html, 'utf8')).not.toMatch(/<script[^>]+src=|<link[^>]+href=/); // nothing to fetch: opens offline
    const page = await openPage(html);
    expect(page.consoleMessages).toEqual([]);
    expect(page.body['data-errors']).toBe('0');
    const planned = Number(page.body['data-charts-planned']);
    expect(planned).toBeGreaterThanOrEqual(5); // spectrum, latency, throughput, sessions, CPU, first frame
    expect(page.body['data-charts-drawn']).toBe(String(planned));
    expect(page.body['data-charts-painted']).toBe(String(planned)); // every chart has pixels in its series' colours
    for (const id of ['spectrum', 'latency-time', 'throughput-time', 'sessions-time', 'first-frame']) expect(page.dom).toContain(`data-chart="${id}"`);
    const png = await screenshot(html, join(out, 'run-report.png'));
    expect(png.width).toBe(1400);
    expect(countColor(png, '#1f6fd1')).toBeGreaterThan(2000); // the first series colour, in the screenshot
  });
});

describe('rtmpbench compare', () => {
  let dir = '';
  let r: Awaited<ReturnType<typeof cli>>;
  beforeAll(async () => {
    r = await cli(
      ['compare', '--matrix', 'gopCache=true,false', '--repeat', '2', '--duration', '2s', '--ramp', '0s', '--players', '6', '--threshold', 'sessions.players.connected < 1', '--out', out, '--no-progress'],
      120_000,
    );
    dir = /results: (\S+)/.exec(r.stdout)?.[1] ?? '';
  }, 130_000);

  it('runs every variant in interleaved rounds, each with its own results folder, and exits 1 on a failed threshold', () => {
    expect(r.code, r.stderr).toBe(1);
    const file = JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as ComparisonFile;
    expect(file.variants.map((v) => v.name)).toEqual(['gopCache=true', 'gopCache=false']);
    expect(file.runs.map((x) => `${x.round}:${x.variant}`)).toEqual(['0:gopCache=true', '0:gopCache=false', '1:gopCache=false', '1:gopCache=true']);
    for (const run of file.runs) {
      expect(run.dir).toMatch(/^runs\/gopCache=(true|false)\//);
      expect(existsSync(join(dir, run.dir!, 'summary.json'))).toBe(true);
      expect(run.thresholdsPassed).toBe(false);
      expect(summaryOf(join(dir, run.dir!)).scenario.server).toMatchObject({ gopCache: run.variant === 'gopCache=true' });
    }
    expect(readdirSync(join(dir, 'runs')).sort()).toEqual(['gopCache=false', 'gopCache=true']);
  });

  it('prints the table with ratios to the baseline and the winner of each figure', () => {
    expect(r.stdout).toMatch(/^variant\s+CPU-s\/1k pm\s+RSS MB\s+TTFF p50\s+TTFF p99\s+e2e p50\s+e2e p99\s+e2e p99\.9\s+lost\s+drops\s+hdr %/m);
    expect(r.stdout).toMatch(/^gopCache=true \(baseline\)\s+[\d.]+/m);
    expect(r.stdout).toMatch(/ratio to gopCache=true/);
    expect(r.stdout).toMatch(/^gopCache=false\s+[\d.]+× \[[\d.]+–[\d.]+\]/m);
    expect(r.stdout).toContain('best per figure:');
    expect(r.stdout).toMatch(/2 over threshold/);
    // A joiner waiting for its first keyframe (no GOP cache) is not a backpressure drop.
    const lines = r.stdout.split('\n');
    const head = lines.find((l) => l.startsWith('variant  '))!.split(/\s{2,}/);
    const row = lines.find((l) => l.startsWith('gopCache=false  '))!.split(/\s{2,}/);
    expect(row[head.indexOf('drops')]).toBe('0');
  });

  it('writes a comparison report whose bar charts and spectra Chromium draws', async () => {
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toMatch(/^## rtmpbench compare "quickstart"/);
    expect(md).toMatch(/\| variant \| CPU-s\/1k pm \|/);
    if (!hasChromium()) return;
    const page = await openPage(join(dir, 'report.html'));
    expect(page.consoleMessages).toEqual([]);
    expect(page.body['data-errors']).toBe('0');
    expect(page.body['data-charts-painted']).toBe(page.body['data-charts-planned']);
    for (const id of ['bars-serverCpuPer1000PlayerMin', 'bars-firstFrameP50', 'spectrum-endToEnd', 'spectrum-firstFrame']) expect(page.dom).toContain(`data-chart="${id}"`);
    await screenshot(join(dir, 'report.html'), join(out, 'compare-report.png'));
  });

  it('refuses an unknown baseline and a setting that does not exist before anything runs', async () => {
    const a = await cli(['compare', '--matrix', 'chunkSize=128,4096', '--baseline', 'chunkSize=1', '--out', out]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('the baseline "chunkSize=1" is not a variant (variants: chunkSize=128, chunkSize=4096)');
    const b = await cli(['compare', '--matrix', 'chunkSise=128,4096', '--out', out]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('compare.matrix.chunkSise: not a server setting (did you mean "chunkSize"?)');
    const c = await cli(['compare', 'quickstart', '--out', out]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('nothing to compare');
  });
});

describe('rtmpbench compare across servers', () => {
  it('runs the built-in server, nginx-rtmp, node-media-server and a server started by a command, each measured in its own process', async () => {
    const port = await freePort();
    const file = scenario(
      'servers',
      [
        'name: servers',
        'players: { perStream: 5 }',
        'duration: 2s',
        'compare:',
        '  servers:',
        '    - builtin',
        '    - nginx-rtmp',
        '    - node-media-server',
        `    - { name: custom, url: "rtmp://127.0.0.1:${port}/live", start: "exec ${process.execPath} ${CLI} serve --port ${port} --log-level warn" }`,
        '',
      ].join('\n'),
    );
    const r = await cli(['compare', file, '--out', out, '--no-progress', '--json'], 120_000);
    expect(r.code, r.stderr).toBe(0);
    const { comparison, table } = JSON.parse(r.stdout) as { comparison: ComparisonFile; table: ComparisonTable };
    expect(comparison.runs.map((x) => [x.variant, x.error ?? 'ok'])).toEqual([
      ['builtin', 'ok'],
      ['nginx-rtmp', 'ok'],
      ['node-media-server', 'ok'],
      ['custom', 'ok'],
    ]);
    for (const row of table.rows) {
      expect(row.figures.serverCpuPer1000PlayerMin!.mean, row.name).toBeGreaterThan(0); // each server's own process measured
      expect(row.figures.framesLost!.mean, row.name).toBe(0);
    }
    // The custom server was stopped with its process group: nothing listens any more.
    expect(await portOpen(port)).toBe(false);
  }, 130_000);
});

describe('rtmpbench merge', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess(['--log-level', 'warn']);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('merges the shares of one scenario run on two "machines" into one result with every session and frame', async () => {
    const file = scenario('sharded', ['name: sharded', 'streams: 2', 'players:', '  perStream: 6', 'duration: 3s', 'ramp: 1s', 'workers: 2', 'thresholds:', '  - frames.lost == 0', ''].join('\n'));
    const target = `rtmp://127.0.0.1:${server.port}/live`;
    const shards = await Promise.all([0, 1].map((i) => cli(['run', file, '--target', target, '--shard', `${i}/2`, '--out', join(out, `shard${i}`)])));
    for (const s of shards) expect(s.code, s.stderr).toBe(0);
    const dirs = shards.map((s) => runDir(s.stdout));
    const parts = dirs.map(summaryOf);
    // Each machine ran part of the scenario; together, all of it.
    expect(parts.map((p) => p.sessions.players.planned).reduce((a, b) => a + b)).toBe(12);
    expect(parts.map((p) => p.sessions.publishers.planned).reduce((a, b) => a + b)).toBe(2);
    const m = await cli(['merge', ...dirs, '--out', join(out, 'merged'), '--json']);
    expect(m.code, m.stderr).toBe(0);
    const merged = JSON.parse(m.stdout) as RunSummary;
    expect(merged.sessions.players).toEqual({ planned: 12, connected: 12, failed: 0, tooLateToJudge: 0 });
    expect(merged.sessions.publishers).toEqual({ planned: 2, connected: 2, failed: 0 });
    expect(merged.throughput.framesReceived).toBe(parts[0]!.throughput.framesReceived + parts[1]!.throughput.framesReceived);
    expect(merged.latencyMs.endToEnd.count).toBe(parts[0]!.latencyMs.endToEnd.count + parts[1]!.latencyMs.endToEnd.count);
    expect(merged.latencyMs.endToEnd.max).toBe(Math.max(parts[0]!.latencyMs.endToEnd.max, parts[1]!.latencyMs.endToEnd.max));
    expect(merged.thresholds).toEqual([expect.objectContaining({ expression: 'frames.lost == 0', passed: true })]);
    expect(merged.mergedFrom).toHaveLength(2);
  });

  it('exits 2 for folders that are not results, or a single folder', async () => {
    const a = await cli(['merge', out, join(out, 'nope')]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/is not a results folder/);
    const b = await cli(['report', join(out, 'nope')]);
    expect(b.code).toBe(2);
  });
});
