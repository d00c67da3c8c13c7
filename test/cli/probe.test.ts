import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBES } from '../../src/lab/probe/list.js';
import type { ProbeComparison, ProbeReport } from '../../src/results/probe.js';
import { cli } from '../helpers/cli.js';
import { scenarioFile, scratch } from '../helpers/runs.js';
import { scriptedServer, type ScriptedServer } from '../helpers/scripted-server.js';

/** rtmpbench probe: arguments, exit codes, and its three outputs. */

const out = scratch('probe');
const ONLY = ['--only', 'chunking.abort,media.avc-aac', '--wait-ms', '1500'];

describe('rtmpbench probe', () => {
  let good: ScriptedServer;
  let noAbort: ScriptedServer;
  beforeAll(async () => {
    good = await scriptedServer();
    noAbort = await scriptedServer({ ignoreAbort: true });
  });
  afterAll(async () => {
    await good?.close();
    await noAbort?.close();
  });

  it('lists every probe with its group and what passes (--list)', async () => {
    const r = await cli(['probe', '--list']);
    expect(r.code).toBe(0);
    for (const p of PROBES) expect(r.stdout).toContain(p.id);
    expect(r.stdout).toContain('passes: ');
  });

  it('exits 2 on bad usage, saying what is wrong, before anything connects', async () => {
    for (const args of [
      ['probe'],
      ['probe', 'ftp://example/live'],
      ['probe', 'rtmp://127.0.0.1:1/live', '--only', 'no.such-probe'],
      ['probe', 'rtmp://127.0.0.1:1/live', '--wait-ms', 'soon'],
      // Attacks go to loopback, or to a server the user says is theirs.
      ['probe', 'rtmp://192.0.2.1:1935/live', '--only', 'resilience'],
      [
        ...['probe', 'rtmp://127.0.0.1:1/live', '--only', 'resilience', '--server-pid', 'me'],
        ...['--rtmps', 'rtmp://127.0.0.1:2/live', '--hls', 'ftp://127.0.0.1/x.m3u8'],
      ],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/nothing was probed/);
    }
  });

  it('exits 3 when nothing listens at the URL', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    const r = await cli(['probe', `rtmp://127.0.0.1:${port}/live`, '--wait-ms', '300']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not probed: nothing accepted a connection/);
  });

  it('exits 0 when no probe fails, and prints each probe with its result', async () => {
    const r = await cli(['probe', good.url, ...ONLY]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/chunking\.abort\s+pass/);
    expect(r.stdout).toMatch(/media\.avc-aac\s+pass/);
  });

  it('exits 1 when a probe fails; --json gives target, start time and each probe with its evidence', async () => {
    const r = await cli(['probe', noAbort.url, ...ONLY, '--json']);
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as ProbeReport;
    expect(report.target).toBe(noAbort.url);
    expect(Number.isNaN(Date.parse(report.startedAt))).toBe(false);
    expect(report.probes.map((p) => [p.id, p.result])).toEqual([
      ['chunking.abort', 'fail'],
      ['media.avc-aac', 'pass'],
    ]);
    for (const p of report.probes) {
      expect(Object.keys(p).sort()).toEqual([
        'definition',
        'detail',
        'durationMs',
        'evidence',
        'group',
        'id',
        'result',
        'title',
      ]);
      expect(typeof p.durationMs).toBe('number');
    }
    expect(report.probes[0]!.evidence).toMatchObject({ 'chunks sent of the aborted message': '4 of 24' });
  });

  it('puts several servers side by side and marks where they differ (console, Markdown, JSON written with --out)', async () => {
    const jsonFile = join(out, 'side-by-side.json');
    const text = await cli(['probe', good.url, noAbort.url, ...ONLY, '--out', jsonFile]);
    expect(text.code).toBe(1);
    const abortRow = text.stdout.split('\n').find((l) => l.includes('chunking.abort') && l.includes('≠'));
    expect(abortRow, text.stdout).toMatch(/pass\s+FAIL/);
    expect(text.stdout).not.toMatch(/media\.avc-aac ≠/);
    expect(text.stdout).toContain('Where they differ (1 probes)');

    const md = await cli(['probe', good.url, noAbort.url, ...ONLY, '--markdown']);
    expect(md.stdout).toMatch(/\| `chunking\.abort` Abort mid-message \| \*\*✅ pass\*\* \| \*\*❌ fail\*\* \|/);
    expect(md.stdout).toMatch(/\| `media\.avc-aac` legacy AVC and AAC \| ✅ pass \| ✅ pass \|/);

    const c = JSON.parse(readFileSync(jsonFile, 'utf8')) as ProbeComparison;
    expect(c.servers.map((s) => [s.target, s.counts.fail])).toEqual([
      [good.url, 0],
      [noAbort.url, 1],
    ]);
  });

  it("probes the servers of a scenario's compare.servers", async () => {
    const file = scenarioFile(
      out,
      'servers',
      [
        'name: servers',
        'compare:',
        '  servers:',
        `    - { name: good, url: "${good.url}" }`,
        `    - { name: no-abort, url: "${noAbort.url}" }`,
        '',
      ].join('\n'),
    );
    const r = await cli(['probe', '--scenario', file, ...ONLY, '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect((JSON.parse(r.stdout) as ProbeComparison).servers.map((s) => s.name)).toEqual(['good', 'no-abort']);
  });

  it('starts the built-in server for the probe and stops it afterwards', async () => {
    const r = await cli(['probe', 'builtin', '--only', 'handshake', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as ProbeReport;
    expect(report.name).toBe('builtin');
    const port = Number(/:(\d+)\//.exec(report.target)![1]);
    const stillOpen = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    expect(stillOpen).toBe(false);
  }, 60_000);
});
