import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readTimeline } from '../../src/results/folder.js';
import { countColor, hasChromium, openPage, screenshot } from '../helpers/browser.js';
import { cli } from '../helpers/cli.js';
import { runDir, scenarioFile, scratch, summaryOf } from '../helpers/runs.js';

/** Stages through a real run, and its reports (opened in headless Chromium). */

const out = scratch('report');
const scenario = (name: string, text: string) => scenarioFile(out, name, text);

describe('stages', () => {
  let dir = '';
  beforeAll(async () => {
    const file = scenario(
      'stages',
      [
        'name: stages',
        'stages:',
        '  - { duration: 2s, target: 10 }',
        '  - { duration: 3s, target: 10 }',
        '  - { duration: 2s, target: 0 }',
        '',
      ].join('\n'),
    );
    const r = await cli(['run', file, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    dir = runDir(r.stdout);
  });

  it('ramps players up, holds, and ramps down on schedule', () => {
    const s = summaryOf(dir);
    expect(s.sessions.players).toMatchObject({ planned: 10, connected: 10, failed: 0 });
    const t = readTimeline(dir);
    const at = (sec: number) => t.find((p) => p.tSec === sec)!.playersUp;
    expect(at(1)).toBeLessThan(10); // ramping up (the first players join 0.1 s in)
    expect(at(3)).toBe(10);
    expect(at(4)).toBe(10);
    expect(at(6)).toBeLessThan(10);
    // Player time is the area under the stages: 10 players for 1 + 3 + 1 s on average = 50 player-seconds.
    expect(s.sessions.playerMinutes * 60).toBeGreaterThan(40);
    expect(s.sessions.playerMinutes * 60).toBeLessThan(60);
  });

  it('renders a report: console, and Markdown for a CI summary', async () => {
    const r = await cli(['report', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('rtmpbench run "stages"');
    expect(r.stdout).toMatch(/reports: .*report\.md, .*report\.html/);
    const md = await cli(['report', dir, '--stdout', 'markdown', '--no-write']);
    expect(md.stdout).toMatch(/^## rtmpbench run "stages"/);
    expect(md.stdout).toMatch(/\| latency \(ms\) \| count \| min \| p50 \|/);
  });

  it.skipIf(!hasChromium())('renders an HTML page whose charts Chromium draws without errors', async () => {
    await cli(['report', dir]);
    const html = join(dir, 'report.html');
    expect(readFileSync(html, 'utf8')).not.toMatch(/<script[^>]+src=|<link[^>]+href=/); // nothing to fetch: opens offline
    const page = await openPage(html);
    expect(page.consoleMessages).toEqual([]);
    expect(page.body['data-errors']).toBe('0');
    const planned = Number(page.body['data-charts-planned']);
    expect(planned).toBeGreaterThanOrEqual(5); // spectrum, latency, throughput, sessions, CPU, first frame
    expect(page.body['data-charts-drawn']).toBe(String(planned));
    expect(page.body['data-charts-painted']).toBe(String(planned)); // every chart has pixels in its series' colours
    for (const id of ['spectrum', 'latency-time', 'throughput-time', 'sessions-time', 'first-frame'])
      expect(page.dom).toContain(`data-chart="${id}"`);
    const png = await screenshot(html, join(out, 'run-report.png'));
    expect(png.width).toBe(1400);
    expect(countColor(png, '#1f6fd1')).toBeGreaterThan(2000); // the first series colour, in the screenshot
  });
});
