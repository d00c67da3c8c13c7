import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConnection } from '../../src/client/connection.js';
import { ClientError } from '../../src/client/errors.js';
import { httpFailureKind } from '../../src/client/http-client.js';
import { HttpFlvViewer } from '../../src/client/http-flv-viewer.js';
import { WsFlvViewer } from '../../src/client/ws-flv-viewer.js';
import { failureKey } from '../../src/results/failures.js';
import { makeNamespace, namespacesUnavailable, type Namespace } from '../../bench/lib/netns.js';
import { runDir, scenarioFile, scratch, summaryOf } from '../helpers/runs.js';
import { CLI, startServer } from '../helpers/server.js';
import { run } from '../helpers/tools.js';

/**
 * Sessions spread over source addresses, in a network namespace whose ephemeral port range is
 * narrowed to 50 ports: the plan is checked against the range per address before anything
 * starts, and a run at the edge connects every session, from each address in turn.
 */

const SERVER = '198.18.50.1';
/** Addresses on the namespace's loopback besides the server's (each run uses its own: closed ports wait in TIME_WAIT). */
const FROM = ['198.18.50.2', '198.18.50.3', '198.18.50.4', '198.18.50.5', '198.18.50.6'];
const PORT_RANGE = '40000 40049';
const RTMP_PORT = 1935;
/** No interface has it (TEST-NET-3 is never assigned). */
const NOT_HERE = '203.0.113.77';

const unavailable = namespacesUnavailable();
if (unavailable !== null && process.env.CI) throw new Error(`the local-address test must run in CI: ${unavailable}`);
if (unavailable !== null) console.warn(`[skip] source addresses in a namespace: ${unavailable}`);

const out = scratch('local-address');

describe.skipIf(unavailable !== null)('sessions spread over source addresses in a namespace with 50 ports', () => {
  let ns: Namespace;
  let server: ChildProcess;
  let serverLog = '';
  const file = scenarioFile(
    out,
    'spread',
    [
      'name: spread',
      `target: rtmp://${SERVER}:${RTMP_PORT}/live`,
      'streams: 1',
      'publishers:',
      '  gop: 1s',
      'duration: 2s',
      'ramp: 0s',
      'workers: 2',
      'thresholds:',
      '  - sessions.players.failed == 0',
      '',
    ].join('\n'),
  );
  const runIn = (args: string[]) =>
    run(ns.exec[0]!, [...ns.exec.slice(1), process.execPath, CLI, 'run', file, '--out', out, ...args], 60_000);

  beforeAll(async () => {
    ns = makeNamespace('la', [SERVER, ...FROM], PORT_RANGE);
    server = spawn(
      ns.exec[0]!,
      [...ns.exec.slice(1), process.execPath, CLI, 'serve', '--host', SERVER, '--port', String(RTMP_PORT)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const collect = (d: Buffer) => (serverLog += d.toString());
    server.stdout!.on('data', collect);
    server.stderr!.on('data', collect);
    for (let i = 0; i < 200 && !/listening rtmp/.test(serverLog); i++) await new Promise((r) => setTimeout(r, 25));
    expect(serverLog).toMatch(/listening rtmp/);
  }, 20_000);
  afterAll(async () => {
    if (server?.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    ns?.remove();
  });

  it('refuses 80 viewers from one address with 50 ports, before anything starts, naming the numbers', async () => {
    const before = readdirSync(out).length;
    const r = await runIn(['--players', '80', '--local-address', FROM[0]!]);
    expect(r.code, r.stderr).toBe(2);
    // 80 viewers and the publisher.
    expect(r.stderr).toContain(
      '81 sessions over 1 address is 81 per address; this host allows 50 ports per address ' +
        '(ip_local_port_range 40000-40049)',
    );
    expect(readdirSync(out).length).toBe(before);
  });

  it('accepts the same 80 viewers over two addresses, and connects them all', async () => {
    const r = await runIn(['--players', '80', '--local-address', `${FROM[3]},${FROM[4]}`]);
    expect(r.code, r.stderr).toBe(0);
    const s = summaryOf(runDir(r.stdout));
    expect(s.sessions.players.connected).toBe(80);
  }, 30_000);

  it('connects 120 viewers over three addresses at the edge of the range, from each address in turn', async () => {
    const logFrom = serverLog.length;
    // The flag repeats, and each takes a comma-separated list.
    const r = await runIn([
      '--players',
      '120',
      '--local-address',
      FROM[0]!,
      '--local-address',
      `${FROM[1]},${FROM[2]}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const s = summaryOf(runDir(r.stdout));
    expect(s.sessions.players.connected).toBe(120);
    expect(s.sessions.players.failed).toBe(0);
    // The server's play lines name each viewer's remote address: 40 from each.
    const plays = serverLog.slice(logFrom).match(/ play .*remote=(\S+):\d+/g) ?? [];
    const from = new Map<string, number>();
    for (const line of plays) {
      const a = / remote=(\S+):\d+/.exec(line)![1]!;
      from.set(a, (from.get(a) ?? 0) + 1);
    }
    expect(Object.fromEntries(from)).toEqual({ [FROM[0]!]: 40, [FROM[1]!]: 40, [FROM[2]!]: 40 });
  }, 30_000);

  it('refuses an address the namespace does not have, before anything starts', async () => {
    const before = readdirSync(out).length;
    const r = await runIn(['--players', '2', '--local-address', `${FROM[0]},${NOT_HERE}`]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${NOT_HERE} is not an address of this host`);
    expect(readdirSync(out).length).toBe(before);
  });
});

describe('a source address the host will not bind', () => {
  it('fails an RTMP connection as an address failure (EADDRNOTAVAIL), with its code', async () => {
    const srv = await startServer();
    try {
      const e = await ClientConnection.open({ url: srv.url(), localAddress: NOT_HERE, timeoutMs: 3000 }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(ClientError);
      expect((e as ClientError).failure).toBe('address');
      expect((e as ClientError).code).toBe('RTMP_ERR_CLIENT_ADDRESS');
      expect((e as ClientError).message).toMatch(/EADDRNOTAVAIL/);
      expect(failureKey({ role: 'publisher', phase: 'setup', kind: 'address' })).toBe('publisher: address');
    } finally {
      await srv.close();
    }
  });

  it('fails HTTP-FLV and WS-FLV viewers the same way, and maps both bind errors to the kind', async () => {
    const e = await HttpFlvViewer.open({
      url: 'http://127.0.0.1:9/live/x.flv',
      localAddress: NOT_HERE,
      timeoutMs: 3000,
    }).then(
      () => null,
      (err: unknown) => err,
    );
    expect((e as ClientError).failure).toBe('address');
    const ws = await WsFlvViewer.open({
      url: 'ws://127.0.0.1:9/live/x.flv',
      localAddress: NOT_HERE,
      timeoutMs: 3000,
    }).then(
      () => null,
      (err: unknown) => err,
    );
    expect((ws as ClientError).failure).toBe('address');
    expect(httpFailureKind({ code: 'EADDRINUSE' })).toBe('address');
  });
});
