import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ComparisonFile } from '../../src/results/comparison-file.js';
import { hasChromium, openPage, screenshot } from '../helpers/browser.js';
import { CLI } from '../helpers/server.js';
import { freePort } from '../../src/proc/port.js';
import { serverAvailability } from '../../src/proc/servers.js';
import type { ComparisonTable } from '../../src/report/comparison.js';
import { cli } from '../helpers/cli.js';
import { portOpen, scenarioFile, scratch, summaryOf } from '../helpers/runs.js';

/** rtmpbench compare end to end: interleaved runs of variants and servers, the table, the reports. */

const out = scratch('compare');
const scenario = (name: string, text: string) => scenarioFile(out, name, text);

describe('rtmpbench compare', () => {
  let dir = '';
  let r: Awaited<ReturnType<typeof cli>>;
  beforeAll(async () => {
    r = await cli(
      [
        'compare',
        '--matrix',
        'gopCache=true,false',
        '--repeat',
        '2',
        '--duration',
        '2s',
        '--ramp',
        '0s',
        '--players',
        '6',
        '--threshold',
        'sessions.players.connected < 1',
        '--out',
        out,
        '--no-progress',
      ],
      120_000,
    );
    dir = /results: (\S+)/.exec(r.stdout)?.[1] ?? '';
  }, 130_000);

  it('runs every variant in interleaved rounds, each with its own results folder, and exits 1 on a failed threshold', () => {
    expect(r.code, r.stderr).toBe(1);
    const file = JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as ComparisonFile;
    expect(file.variants.map((v) => v.name)).toEqual(['gopCache=true', 'gopCache=false']);
    expect(file.runs.map((x) => `${x.round}:${x.variant}`)).toEqual([
      '0:gopCache=true',
      '0:gopCache=false',
      '1:gopCache=false',
      '1:gopCache=true',
    ]);
    for (const run of file.runs) {
      expect(run.dir).toMatch(/^runs\/gopCache=(true|false)\//);
      expect(existsSync(join(dir, run.dir!, 'summary.json'))).toBe(true);
      expect(run.thresholdsPassed).toBe(false);
      expect(summaryOf(join(dir, run.dir!)).scenario.server).toMatchObject({
        gopCache: run.variant === 'gopCache=true',
      });
    }
    expect(readdirSync(join(dir, 'runs')).sort()).toEqual(['gopCache=false', 'gopCache=true']);
  });

  it('prints the table with ratios to the baseline and the winner of each figure', () => {
    expect(r.stdout).toMatch(
      /^variant\s+CPU-s\/1k pm\s+RSS MB\s+CPU-µs\/msg\s+kernel %\s+writes\/msg\s+B\/write\s+TTFF p50\s+TTFF p99\s+e2e p50\s+e2e p99\s+e2e p99\.9\s+lost\s+drops\s+hdr %/m,
    );
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

  it('writes a comparison report in Markdown', () => {
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toMatch(/^## rtmpbench compare "quickstart"/);
    expect(md).toMatch(/\| variant \| CPU-s\/1k pm \|/);
  });

  it.skipIf(!hasChromium())('writes a comparison report whose bar charts and spectra Chromium draws', async () => {
    const page = await openPage(join(dir, 'report.html'));
    expect(page.consoleMessages).toEqual([]);
    expect(page.body['data-errors']).toBe('0');
    expect(page.body['data-charts-painted']).toBe(page.body['data-charts-planned']);
    for (const id of [
      'bars-serverCpuPer1000PlayerMin',
      'bars-firstFrameP50',
      'spectrum-endToEnd',
      'spectrum-firstFrame',
    ])
      expect(page.dom).toContain(`data-chart="${id}"`);
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
    const d = await cli(['compare', '--variant', 'merge-50 mergeWriteMs=5000', '--variant', 'nodelay', '--out', out]);
    expect(d.code).toBe(2);
    expect(d.stderr).toContain('--variant: "nodelay" is not NAME KEY=V[,KEY=V]');
    const e = await cli(['compare', '--variant', 'merge-50 mergeWriteMs=5000', '--out', out]);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('compare.variants[0].settings.mergeWriteMs: Too big: expected number to be <=1000');
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
        // nginx-rtmp (no GOP cache) at times starts viewers that played before the first
        // keyframe only at the next one: a 1 s GOP in a 3 s run gives every viewer video.
        'publishers: { gop: 1s }',
        'duration: 3s',
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

describe('rtmpbench compare with viewers of several protocols', () => {
  const nginx = serverAvailability('nginx-rtmp').available;
  it.skipIf(!nginx)(
    'plays each server where it serves each protocol, and leaves out what it does not serve (nginx-rtmp: no HTTP-FLV)',
    async () => {
      const file = scenario(
        'mixed',
        [
          'name: mixed',
          'streams: 1',
          'publishers: { gop: 1s }',
          'server: { hlsSegmentMs: 1000, hlsOnDemand: false }',
          'players: { perStream: 2 }',
          'viewers:',
          '  - { protocol: http-flv, perStream: 2 }',
          '  - { protocol: hls, perStream: 2 }',
          'duration: 8s',
          'compare: { servers: [builtin, nginx-rtmp] }',
          '',
        ].join('\n'),
      );
      const r = await cli(['compare', file, '--out', out, '--json', '--no-progress'], 120_000);
      expect(r.code, r.stderr).toBe(0);
      const { comparison } = JSON.parse(r.stdout) as { comparison: ComparisonFile };
      const summaryOfVariant = (v: string) =>
        summaryOf(join(r.stdout.match(/"dir": "([^"]+)"/)![1]!, comparison.runs.find((x) => x.variant === v)!.dir!));
      const builtin = summaryOfVariant('builtin');
      const nginxRun = summaryOfVariant('nginx-rtmp');
      expect(Object.keys(builtin.byProtocol ?? {}).sort()).toEqual(['hls', 'httpFlv', 'rtmp']);
      expect(Object.keys(nginxRun.byProtocol ?? {}).sort()).toEqual(['hls', 'rtmp']);
      expect(nginxRun.byProtocol!.hls!.sessions.players).toMatchObject({ connected: 2, failed: 0 });
      expect(r.stdout).toMatch(/hls e2e p50/);
    },
    150_000,
  );
});
