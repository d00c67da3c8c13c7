import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/proc/port.js';
import { readTimeline } from '../../src/results/folder.js';
import type { TimelinePoint } from '../../src/results/timeline.js';
import { PACKAGE_ROOT } from '../../src/version.js';
import { countColor } from '../helpers/browser.js';
import { hasChromium, launchChromium } from '../helpers/playwright.js';
import { portOpen, scratch } from '../helpers/runs.js';
import { CLI } from '../helpers/server.js';
import { hasTool } from '../helpers/tools.js';

/**
 * The live outputs of one run, checked while it goes on: the generator's Prometheus endpoint
 * and the built-in server's /metrics (promtool accepts both; the Grafana dashboard's queries
 * name only metrics they serve), the dashboard in headless Chromium (a screenshot taken mid-run
 * shows data), and the timeline streamed to timeline.ndjson and to stdout.
 */

const out = scratch('live');
const hasPromtool = hasTool('promtool', 'apt-get install prometheus');

/** Polls `f` until it returns something other than null (every 200 ms, up to `limitMs`: a bound, not a timing). */
async function until<T>(what: string, f: () => Promise<T | null> | T | null, limitMs = 30_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const scrape = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

/** Sample names of an exposition (`name{labels} value` lines). */
const sampleNames = (text: string) =>
  new Set(
    text
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => /^[A-Za-z_:][\w:]*/.exec(l)![0]),
  );

/** Families an exposition declares (`# TYPE name kind`), with or without samples yet (a counter of failures before the first). */
const familyNames = (text: string) => new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));

const sampleValue = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
};

function promtool(text: string): { code: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { code: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** Metric names in the Grafana dashboard's queries. */
function dashboardMetricNames(): string[] {
  const dash = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'dashboards', 'grafana.json'), 'utf8')) as {
    panels: { targets?: { expr: string }[] }[];
  };
  const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  expect(exprs.length).toBeGreaterThan(20);
  const names = new Set<string>();
  for (const e of exprs) {
    const found = [...e.matchAll(/\b(rtmpbench_\w+|rtmp_\w+|process_\w+)\b/g)].map((m) => m[1]!);
    expect(found.length, e).toBeGreaterThan(0);
    for (const n of found) names.add(n);
  }
  return [...names];
}

describe.skipIf(!hasChromium() || !hasPromtool)('live outputs of a run', () => {
  let browser: Browser;
  let page: Page;
  let child: ChildProcess;
  let stdout = '';
  let stderr = '';
  let exited: Promise<number | null>;
  const ports = { metrics: 0, dashboard: 0, stats: 0 };
  const mid: { generator: string; server: string; ndjsonLines: number; png: PNG | null; painted: number } = {
    generator: '',
    server: '',
    ndjsonLines: 0,
    png: null,
    painted: 0,
  };

  beforeAll(async () => {
    browser = await launchChromium();
    [ports.metrics, ports.dashboard, ports.stats] = [await freePort(), await freePort(), await freePort()];
    child = spawn(
      process.execPath,
      [
        CLI,
        'run',
        '--duration',
        '15s',
        '--players',
        '6',
        '--threshold',
        'latency.endToEnd.p99 < 10s',
        '--metrics-port',
        String(ports.metrics),
        '--dashboard',
        String(ports.dashboard),
        '--server',
        `statsPort=${ports.stats}`,
        '--timeline-stdout',
        '--out',
        out,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await until('the dashboard to listen', () => (stderr.includes('dashboard: http://') ? true : null));
    page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
    await page.goto(`http://127.0.0.1:${ports.dashboard}/`);

    // Mid-run: players up and latency recorded, as the generator's own endpoint says, and the
    // players at the server, as its /metrics say.
    [mid.generator, mid.server] = await until('scrapes with players and latency', async () => {
      const [text, server] = [await scrape(ports.metrics), await scrape(ports.stats).catch(() => '')];
      const players = sampleValue(text, 'rtmpbench_sessions{kind="player",protocol="rtmp"}') ?? 0;
      const timed = sampleValue(text, 'rtmpbench_end_to_end_seconds_count{protocol="rtmp"}') ?? 0;
      const atServer = sampleValue(server, 'rtmp_players{protocol="rtmp"}') ?? 0;
      return players > 0 && timed > 0 && atServer > 0 ? [text, server] : null;
    });
    // The dashboard has had two seconds and drawn data in its charts.
    await page.waitForFunction(
      'Number(document.body.dataset.seconds) >= 2 && Number(document.body.dataset.chartsPainted) >= 3',
      undefined,
      { timeout: 30_000 },
    );
    mid.painted = Number(await page.evaluate('document.body.dataset.chartsPainted'));
    const shot = join(process.env.RTMPBENCH_KEEP_SCREENSHOTS ?? out, 'dashboard-mid-run.png');
    await page.screenshot({ path: shot, fullPage: true });
    mid.png = PNG.sync.read(readFileSync(shot));
    mid.ndjsonLines = stdout.split('\n').filter((l) => l !== '').length;
  }, 90_000);

  afterAll(async () => {
    child?.kill('SIGKILL');
    await browser?.close();
  });

  it("serves the generator's metrics mid-run, every name prefixed rtmpbench_, latency as histograms, accepted by promtool", () => {
    const names = [...sampleNames(mid.generator)];
    expect(names.every((n) => n.startsWith('rtmpbench_'))).toBe(true);
    expect(mid.generator).toMatch(/^# TYPE rtmpbench_end_to_end_seconds histogram$/m);
    expect(mid.generator).toMatch(/^rtmpbench_end_to_end_seconds_bucket\{protocol="rtmp",le="0\.005"\} \d+$/m);
    expect(mid.generator).toMatch(/^rtmpbench_first_frame_seconds_count\{protocol="rtmp"\} [1-9]/m);
    expect(
      sampleValue(mid.generator, 'rtmpbench_frames_received_total{protocol="rtmp",media="video"}'),
    ).toBeGreaterThan(0);
    expect(promtool(mid.generator)).toEqual({ code: 0, output: '' });
  });

  it("serves the built-in server's /metrics beside it, also accepted by promtool", () => {
    expect(sampleValue(mid.server, 'rtmp_players{protocol="rtmp"}')).toBeGreaterThan(0);
    expect(promtool(mid.server)).toEqual({ code: 0, output: '' });
  });

  it('ships a Grafana dashboard whose queries use only metrics the two endpoints serve', () => {
    const served = new Set([mid.generator, mid.server].flatMap((t) => [...sampleNames(t), ...familyNames(t)]));
    const missing = dashboardMetricNames().filter((n) => !served.has(n));
    expect(missing).toEqual([]);
  });

  it('shows the run in the dashboard while it goes on: a screenshot has data in its charts', () => {
    expect(mid.painted).toBeGreaterThanOrEqual(3);
    expect(countColor(mid.png!, '#1f6fd1')).toBeGreaterThan(1500); // the first series colour: lines and bars of data
  });

  it('streams the timeline as it goes, one JSON line per second, to stdout and to timeline.ndjson', async () => {
    expect(mid.ndjsonLines).toBeGreaterThanOrEqual(1);
    expect(await exited).toBe(0);
    const dir = /results: (\S+)/.exec(stderr)![1]!;
    const streamed = readFileSync(join(dir, 'timeline.ndjson'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as TimelinePoint);
    expect(streamed.at(-1)!.tSec).toBeGreaterThanOrEqual(14); // every second of the run, to its end
    expect(existsSync(join(dir, 'timeline.json'))).toBe(false); // the streamed file is the folder's one timeline
    expect(readTimeline(dir)).toEqual(streamed);
    expect(
      stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as TimelinePoint),
    ).toEqual(streamed); // stdout holds the lines only
    expect(stderr).toContain('threshold passed: latency.endToEnd.p99 < 10s');
    expect(existsSync(join(dir, 'report.html'))).toBe(true);
  });

  it('ends with the run: the page offers the report, and nothing listens any more', async () => {
    await exited;
    await page.waitForFunction('document.body.dataset.phase === "finished"', undefined, { timeout: 10_000 });
    expect(await page.evaluate('document.getElementById("save").href')).toMatch(/^blob:/);
    expect(await page.evaluate('document.getElementById("verdict").textContent')).toContain('Every threshold held.');
    expect(await portOpen(ports.dashboard)).toBe(false);
    expect(await portOpen(ports.metrics)).toBe(false);
  });
});
