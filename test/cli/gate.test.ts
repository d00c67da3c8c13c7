import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/proc/port.js';
import type { ComparisonFile } from '../../src/results/comparison-file.js';
import { cli } from '../helpers/cli.js';
import { DelayProxy } from '../helpers/delay-proxy.js';
import { hasChromium, launchChromium, parseXml, type XmlElement } from '../helpers/playwright.js';
import { portOpen, scenarioFile, scratch, summaryOf } from '../helpers/runs.js';
import { CLI, startServer, type TestServer } from '../helpers/server.js';

/**
 * A performance gate over servers started by commands: two identical builds of the built-in
 * server pass it over repeated, interleaved runs; the same server behind a proxy that holds
 * every byte to viewers back by 300 ms (far beyond any noise: not a timing test) fails it, with
 * exit 1 and the failing rules named in the table, the reports and the JUnit file.
 */

const out = scratch('gate');
const DELAY_MS = 300;

describe('compare with gates', () => {
  let slowServer: TestServer;
  let proxy: DelayProxy;
  let r: Awaited<ReturnType<typeof cli>>;
  let dir = '';
  const ports = { base: 0, same: 0 };

  beforeAll(async () => {
    slowServer = await startServer({ logLevel: 'warn' });
    proxy = new DelayProxy(slowServer.port, DELAY_MS);
    await proxy.listen();
    [ports.base, ports.same] = [await freePort(), await freePort()];
    const serve = (port: number) => `${process.execPath} ${CLI} serve --port ${port} --log-level warn`;
    const file = scenarioFile(
      out,
      'gated',
      [
        'name: gated',
        'players: { perStream: 4 }',
        'duration: 4s',
        'thresholds: ["sessions.players.connected >= 1"]',
        'compare:',
        '  servers:',
        `    - { name: base, url: "rtmp://127.0.0.1:${ports.base}/live", start: "exec ${serve(ports.base)}" }`,
        // Without exec: the shell stays, the server is its child; the process group is measured.
        `    - { name: same, url: "rtmp://127.0.0.1:${ports.same}/live", start: "${serve(ports.same)}" }`,
        `    - { name: slowed, url: "rtmp://127.0.0.1:${proxy.port}/live" }`,
        '    - { name: never, url: "rtmp://127.0.0.1:9/live", start: "exit 1" }',
        '  repeat: 3',
        '  baseline: base',
        '  gate:',
        '    - latency.endToEnd.p50 +100ms',
        '',
      ].join('\n'),
    );
    r = await cli(
      [
        'compare',
        file,
        '--servers',
        'base,same,slowed',
        '--gate',
        'latency.endToEnd.p50 +100%',
        '--junit',
        join(out, 'junit.xml'),
        '--out',
        out,
        '--no-progress',
      ],
      170_000,
    );
    dir = /results: (\S+)/.exec(r.stdout)?.[1] ?? '';
  }, 180_000);

  afterAll(async () => {
    await proxy?.close();
    await slowServer?.close();
  });

  it('runs the servers --servers names (and only those), interleaved, and exits 1 on the failed gate', () => {
    expect(r.code, r.stderr).toBe(1);
    const file = JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as ComparisonFile;
    expect(file.runs.map((x) => `${x.round}:${x.variant}:${x.error ?? 'ok'}`)).toEqual([
      '0:base:ok',
      '0:same:ok',
      '0:slowed:ok',
      '1:slowed:ok',
      '1:same:ok',
      '1:base:ok',
      '2:base:ok',
      '2:same:ok',
      '2:slowed:ok',
    ]);
    expect(file.gateRules).toEqual(['latency.endToEnd.p50 +100ms', 'latency.endToEnd.p50 +100%']);
  });

  it('passes the identical server and fails the slowed one on every rule, with the change and its interval', () => {
    const file = JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as ComparisonFile;
    expect(file.gates!.map((g) => [g.rule, g.variant, g.passed])).toEqual([
      ['latency.endToEnd.p50 +100ms', 'same', true],
      ['latency.endToEnd.p50 +100ms', 'slowed', false],
      ['latency.endToEnd.p50 +100%', 'same', true],
      ['latency.endToEnd.p50 +100%', 'slowed', false],
    ]);
    const slowed = file.gates!.find((g) => g.variant === 'slowed' && g.relative)!;
    expect(slowed.estimate!).toBeGreaterThan(10);
    expect(slowed.low!).toBeGreaterThan(1);
    expect(r.stdout).toMatch(/gates against base \(paired by round, 95% CI\): 2 FAILED/);
    expect(r.stdout).toMatch(
      /FAILED: latency\.endToEnd\.p50 \+100%: slowed [\d.]+× base \(\+\d+\.\d%\) \[[\d.]+–[\d.]+\]: worse beyond the margin \+100%/,
    );
    expect(r.stdout).toMatch(/FAILED: latency\.endToEnd\.p50 \+100ms: slowed \+\d+ ms against base \[\+\d+…\+\d+\]/);
    expect(r.stdout).toMatch(/passed: latency\.endToEnd\.p50 \+100%: same /);
    expect(r.stderr).toContain('gate FAILED: latency.endToEnd.p50 +100%: slowed');
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('**Gates against base: 2 FAILED**');
    expect(md).toMatch(/- ❌ FAILED: latency\.endToEnd\.p50 \+100ms: slowed/);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('<h2>Gates against base</h2>');
  });

  it('measures a server started by a command as its whole process group, and its CPU per 1000 player-minutes', async () => {
    const file = JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as ComparisonFile;
    for (const run of file.runs.filter((x) => x.variant === 'same')) {
      const s = summaryOf(join(dir, run.dir!));
      expect(s.server!.cpuSeconds).toBeGreaterThan(0); // the shell's child, the server, is counted
      const perPlayerMinutes = s.server!.cpuSeconds / (s.sessions.playerMinutes / 1000); // player-minutes in the summary are rounded
      expect(Math.abs(s.server!.cpuPer1000PlayerMinutes! / perPlayerMinutes - 1)).toBeLessThan(0.02);
    }
    expect(summaryOf(join(dir, file.runs.find((x) => x.variant === 'slowed')!.dir!)).server).toBeUndefined(); // no process known
    expect(await portOpen(ports.same)).toBe(false); // stopped with its group
  });

  describe.skipIf(!hasChromium())('JUnit', () => {
    let browser: Browser;
    // biome-ignore lint/suspicious/noDuplicateTestHooks: describe.skipIf(...)(...) opens a suite of its own, which Biome does not see
    beforeAll(async () => {
      browser = await launchChromium();
    });
    // biome-ignore lint/suspicious/noDuplicateTestHooks: as above, a hook of the nested suite
    afterAll(() => browser?.close());

    it('writes a test case per gate rule and variant and per threshold, readable by an independent parser', async () => {
      const root = await parseXml(browser, readFileSync(join(out, 'junit.xml'), 'utf8'));
      const kids = (e: XmlElement, name: string) => e.children.filter((c) => c.name === name);
      const [gates, ...thresholds] = kids(root, 'testsuite');
      expect(gates!.attrs).toMatchObject({ name: 'gates: against base', tests: '4', failures: '2' });
      const failed = kids(gates!, 'testcase').filter((c) => kids(c, 'failure').length > 0);
      expect(failed.map((c) => `${c.attrs.classname} ${c.attrs.name}`)).toEqual([
        'rtmpbench.gates.slowed latency.endToEnd.p50 +100ms',
        'rtmpbench.gates.slowed latency.endToEnd.p50 +100%',
      ]);
      expect(kids(failed[1]!, 'failure')[0]!.attrs.message).toMatch(
        /^latency\.endToEnd\.p50 \+100%: slowed [\d.]+× base/,
      );
      // The scenario's threshold, for each of the 3 runs of each variant.
      expect(thresholds.map((s) => [s.attrs.name, s.attrs.tests, s.attrs.failures])).toEqual([
        ['thresholds: base', '3', '0'],
        ['thresholds: same', '3', '0'],
        ['thresholds: slowed', '3', '0'],
      ]);
      expect(kids(thresholds[2]!, 'testcase').map((c) => c.attrs.name)).toEqual([
        'round 1: sessions.players.connected >= 1',
        'round 2: sessions.players.connected >= 1',
        'round 3: sessions.players.connected >= 1',
      ]);
    });
  });
});

describe('compare refuses bad gates and servers before anything runs', () => {
  it('names an unknown server, a rule it cannot read, and gates without repeated rounds (exit 2)', async () => {
    const a = await cli(['compare', '--servers', 'builtin,mine', '--out', out]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain(
      '--servers: "mine" is neither a server of the scenario\'s compare.servers nor one of builtin, node-media-server, nginx-rtmp',
    );
    const b = await cli([
      'compare',
      '--matrix',
      'gopCache=true,false',
      '--repeat',
      '3',
      '--gate',
      'latency.endToEnd.p99 < 5ms',
      '--out',
      out,
    ]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('compare.gate[0]: "latency.endToEnd.p99 < 5ms" is not METRIC +N% or METRIC +N UNIT');
    const c = await cli([
      'compare',
      '--matrix',
      'gopCache=true,false',
      '--gate',
      'latency.endToEnd.p99 +10%',
      '--out',
      out,
    ]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('gates compare runs paired by round and need --repeat 2 or more (repeat is 1)');
    const d = await cli(['compare', '--add-server', 'lonely', '--out', out]);
    expect(d.code).toBe(2);
    expect(d.stderr).toContain('--add-server: "lonely" is not NAME URL [COMMAND]');
  });
});
