import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run as runProgram } from '../../bench/lib/proc.js';
import type { RunSummary } from '../../src/results/summary.js';
import { serverAvailability, startServer as startComparisonServer } from '../../src/proc/servers.js';
import { cli } from '../helpers/cli.js';
import { CLI, startServer, waitFor } from '../helpers/server.js';

/** Child process ids of a process (Linux /proc). */
/** Sockets a process holds open (its file descriptors that are sockets). */
function socketsOf(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
      } catch {
        return false;
      }
    }).length;
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
        .split(' ')
        .filter((x) => x.trim() !== '')
        .map(Number),
    );
  } catch {
    return [];
  }
}

const out = mkdtempSync(join(tmpdir(), 'rtmpbench-cli-run-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the rtmpbench bin', () => {
  it('runs as a program of its own, as npx rtmpbench runs it after npm install', async () => {
    const r = await runProgram(CLI, ['--version']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(r.code).toBe(0);
  });
});

describe('rtmpbench run', () => {
  it('runs the quickstart scenario against the built-in server and prints a readable summary', async () => {
    const r = await cli(['run', '--duration', '3s', '--ramp', '1s', '--players', '8', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('rtmpbench run "quickstart" against the built-in server');
    expect(r.stdout).toMatch(/players\s+8\s+8\s+0/);
    expect(r.stdout).toMatch(/end-to-end\s+[\d,]+/);
    expect(r.stdout).toMatch(/results: .*quickstart/);
    expect(r.stderr).toBe(''); // no progress line when stderr is not a terminal
  });

  it('prints the summary JSON with --json and writes the results folder', async () => {
    const r = await cli([
      'run',
      '--duration',
      '2s',
      '--ramp',
      '0s',
      '--players',
      '3',
      '--json',
      '--name',
      'json-run',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as RunSummary;
    expect(s.schemaVersion).toBe(1);
    expect(s.tool).toMatchObject({ name: 'rtmpbench' });
    expect(s.sessions.players).toEqual({ planned: 3, connected: 3, failed: 0, ended: 0, tooLateToJudge: 0 });
    for (const m of ['connect', 'handshake', 'playStart', 'firstFrame', 'endToEnd', 'gap'] as const) {
      expect(Object.keys(s.latencyMs[m]).sort()).toEqual(['count', 'max', 'mean', 'min', 'p50', 'p90', 'p99', 'p999']);
    }
    expect(s.throughput).toHaveProperty('mbpsReceived');
    expect(s.frames).toMatchObject({
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      stalls: 0,
      slowLost: 0,
      slowStalls: 0,
      publisherStops: 0,
      expectedSource: 'send-logs',
    });
    // Frame accounting closes: every frame the send logs expected arrived.
    expect(s.frames.expected).toBe(s.throughput.framesReceived);
    expect(s.generator.workers).toBeGreaterThan(0);
    expect(s.server?.cpuSeconds).toBeGreaterThan(0);
    const dir = readdirSync(out).find((d) => d.endsWith('-json-run'))!;
    expect(existsSync(join(out, dir, 'summary.json'))).toBe(true);
    expect(existsSync(join(out, dir, 'endToEnd.hlog'))).toBe(true);
  });

  it('lists every invalid flag and exits 2 before any socket opens', async () => {
    const before = readdirSync(out).length;
    const r = await cli([
      'run',
      '--players',
      'many',
      '--duration',
      'soon',
      '--bitrate',
      'fast',
      '--codec',
      'vp8',
      '--out',
      out,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nothing was started');
    expect(r.stderr).toContain('--players: "many" is not a whole number');
    expect(r.stderr).toContain('--duration: "soon" is not a duration');
    expect(r.stderr).toContain('--bitrate: "fast" is not a bit rate');
    expect(r.stderr).toContain('publishers.codec');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(out).length).toBe(before);
  });

  it('exits 2 on an invalid target URL and on a missing scenario file', async () => {
    const bad = await cli(['run', '--target', 'http://example.com/live']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('the scheme must be rtmp:// or rtmps://');
    const missing = await cli(['run', 'no-such-scenario']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no scenario file "no-such-scenario"');
  });

  it('exits 3 with a clear message when the target cannot be reached', async () => {
    const r = await cli([
      'run',
      '--target',
      'rtmp://127.0.0.1:1/live',
      '--duration',
      '2s',
      '--ramp',
      '0s',
      '--out',
      out,
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/cannot reach 127\.0\.0\.1:1: .*ECONNREFUSED/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 3 when the server refuses every publish, and says why', async () => {
    const srv = await startServer({ publishToken: 'secret', logLevel: 'error' });
    try {
      const r = await cli([
        'run',
        '--target',
        `rtmp://127.0.0.1:${srv.port}/live`,
        '--duration',
        '2s',
        '--ramp',
        '0s',
        '--players',
        '2',
        '--out',
        out,
      ]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('no publisher could publish (rejected ×1)');
      expect(r.stdout).toContain('failures: publisher: rejected ×1');
    } finally {
      await srv.close();
    }
  });

  it('reports sessions the server drops mid-run by reason', async () => {
    const srv = await startServer({ logLevel: 'error' });
    const running = cli([
      'run',
      '--target',
      `rtmp://127.0.0.1:${srv.port}/live`,
      '--duration',
      '8s',
      '--ramp',
      '0s',
      '--players',
      '4',
      '--json',
      '--out',
      out,
    ]);
    // Once every session is up and frames flow, the server goes away.
    await waitFor(
      () => {
        const st = srv.server.getStats();
        return st.publishers === 1 && st.players === 4 && st.bytesOut > 100_000;
      },
      8_000,
      'the run to be under way',
    );
    await srv.close();
    const r = await running;
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('the target closed every connection before the end of the run');
    const s = JSON.parse(r.stdout) as RunSummary;
    expect(s.failures['player dropped: closed']).toBe(4);
    expect(s.failures['publisher dropped: closed']).toBe(1);
    expect(s.throughput.framesReceived).toBeGreaterThan(0);
  });
});

describe('rtmpbench run stopped from outside', () => {
  it('stops the built-in server it started (by its PID) when it gets SIGTERM, and exits 143', async () => {
    const child = spawn(process.execPath, [CLI, 'run', '--duration', '60s', '--out', out, '--no-progress'], {
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let server: number | undefined;
    for (let i = 0; i < 100 && server === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      server = childrenOf(child.pid!)[0];
    }
    expect(server).toBeDefined();
    // The run is under way once the server holds the publisher's and players' connections.
    await waitFor(() => socketsOf(server!) >= 6, 15_000, 'the run to connect');
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    for (let i = 0; i < 50 && existsSync(`/proc/${server}`); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(`/proc/${server}`)).toBe(false);
  });
});

describe('rtmpbench run thresholds', () => {
  it('exits 1 when a threshold fails, and shows every threshold in the summary', async () => {
    const r = await cli([
      'run',
      '--duration',
      '2s',
      '--ramp',
      '0s',
      '--players',
      '2',
      '--threshold',
      'frames.lost == 0',
      '--threshold',
      'latency.endToEnd.p99 < 0.001ms',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/threshold passed: frames\.lost == 0 \(measured 0\)/);
    expect(r.stdout).toMatch(/threshold FAILED: latency\.endToEnd\.p99 < 0\.001ms \(measured [\d.]+ ms\)/);
  });

  const nginx = serverAvailability('nginx-rtmp').available;
  it.skipIf(!nginx)(
    "exits 1 when the viewers get no video (nginx-rtmp drops HEVC): the shipped quickstart's thresholds catch it",
    async () => {
      const server = await startComparisonServer('nginx-rtmp');
      try {
        const r = await cli([
          'run',
          '--target',
          server.url,
          '--codec',
          'hevc',
          '--gop',
          '1s',
          '--players',
          '4',
          '--duration',
          '6s',
          '--first-video-within',
          '3s',
          '--out',
          out,
        ]);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stdout).toMatch(/players\s+4\s+4\s+4/);
        expect(r.stdout).toContain('failures: player: no-video ×4');
        expect(r.stdout).toMatch(/threshold FAILED: sessions\.players\.failed == 0 \(measured 4\)/);
      } finally {
        await server.stop();
      }
    },
  );

  it('rejects an unreadable threshold before anything starts', async () => {
    const r = await cli(['run', '--threshold', 'p99 is low', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('  thresholds[2]: "p99 is low" is not METRIC OP VALUE'); // after quickstart's two
  });
});
