import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRtmpUrl } from '../../../src/client/url.js';
import { UsageError } from '../../../src/input/usage-error.js';
import type { AttackSettings } from '../../../src/lab/probe/attack/settings.js';
import { DEFAULT_PROBES, PROBES, selectProbes } from '../../../src/lab/probe/list.js';
import { probeServer } from '../../../src/lab/probe/runner.js';
import { probeTarget } from '../../../src/lab/probe/targets.js';
import { freePort } from '../../../src/proc/port.js';
import { serverAvailability, startServer } from '../../../src/proc/servers.js';
import { ATTACK_FIGURES, ATTACK_RESPONSES, ATTACK_STOPS, type ProbeOutcome } from '../../../src/results/probe.js';

/**
 * The resilience probes: opt-in, refused against a host that is not loopback unless the user owns
 * it, and against real servers started here each attack stays within its bounds of connections,
 * time and the server's RSS (an attack on a server that does not bound a peer's memory stops at
 * the RSS bound), with its figures in the evidence.
 */

function available(kind: 'node-media-server'): boolean {
  const a = serverAvailability(kind);
  if (!a.available && process.env.CI) throw new Error(`${kind} must be installed in CI (${a.hint})`);
  return a.available;
}

const RESILIENCE = PROBES.filter((p) => p.group === 'resilience');
const MB = 1024 * 1024;

describe('the resilience probes', () => {
  it('are opt-in: never in the default run, chosen by their group, ids or a prefix naming the group', () => {
    expect(RESILIENCE.length).toBeGreaterThanOrEqual(12);
    expect(DEFAULT_PROBES.some((p) => p.group === 'resilience')).toBe(false);
    expect(selectProbes([]).probes.some((p) => p.group === 'resilience')).toBe(false);
    expect(selectProbes(['*']).probes.some((p) => p.group === 'resilience')).toBe(false);
    expect(selectProbes(['resilience']).probes).toHaveLength(RESILIENCE.length);
    expect(selectProbes(['resilience.*']).probes).toHaveLength(RESILIENCE.length);
    expect(selectProbes(['resilience.partial-message']).probes.map((p) => p.id)).toEqual([
      'resilience.partial-message',
    ]);
    expect(RESILIENCE.every((p) => p.attack === true && p.isolated === true)).toBe(true);
  });

  it('refuse a host that is not loopback unless the user says the server is theirs, before anything connects', async () => {
    await expect(probeServer('rtmp://192.0.2.1:1935/live', { only: ['resilience'] })).rejects.toBeInstanceOf(
      UsageError,
    );
  });
});

/** Every figure of the evidence is one of ATTACK_FIGURES; checks the attack kept within its bounds. */
function withinBounds(p: ProbeOutcome, s: Pick<AttackSettings, 'connections' | 'durationMs' | 'rssBoundBytes'>) {
  const e = p.evidence;
  expect(ATTACK_RESPONSES, p.id).toContain(e.response);
  expect(ATTACK_STOPS, p.id).toContain(e.stoppedBy);
  for (const k of Object.keys(ATTACK_FIGURES).filter((k) => k in e)) expect(typeof e[k], `${p.id} ${k}`).toBe('number');
  expect(e.attackConnections, p.id).toBeLessThanOrEqual(s.connections);
  // The attack stops at its time (the steps under way end within a step's wait).
  expect(e.attackMs, p.id).toBeLessThan(s.durationMs + 3000);
  expect(e.viewerFramesSent, p.id).toBeGreaterThan(0);
  expect(typeof e.rssPeakGrowthBytes, p.id).toBe('number');
  if (e.stoppedBy === 'rss') expect(p.result, p.id).toBe('fail');
  else expect(e.rssPeakGrowthBytes, p.id).toBeLessThanOrEqual(s.rssBoundBytes + 16 * MB);
}

const work = mkdtempSync(join(tmpdir(), 'rtmpbench-resilience-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('against the built-in server (RTMP, RTMPS, HTTP-FLV, HLS and LL-HLS)', () => {
  it('every attack runs within its bounds, with its figures, beside a healthy viewer', async () => {
    const cert = join(work, 'cert.pem');
    const key = join(work, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const tlsPort = await freePort();
    const server = await startServer('builtin', {
      http: true,
      builtinArgs: [
        '--tls-port',
        String(tlsPort),
        '--tls-cert',
        cert,
        '--tls-key',
        key,
        '--hls-part-ms',
        '500',
        // Shorter than the attacks: handshakes that never finish (RTMP or TLS) are closed during them.
        '--handshake-timeout-ms',
        '300',
      ],
    });
    const settings = { connections: 24, durationMs: 500, settleMs: 100, rssBoundBytes: 48 * MB };
    try {
      const r = await probeServer(server.url, {
        only: ['resilience'],
        waitMs: 2000,
        attack: {
          ...settings,
          server: { pid: server.pid, group: false },
          tls: { url: parseRtmpUrl(`rtmps://127.0.0.1:${tlsPort}/live`), insecure: true },
          http: { 'http-flv': server.playUrls['http-flv']!, hls: server.playUrls.hls!, 'll-hls': server.playUrls.hls! },
        },
      });
      expect(r.probes.map((p) => p.id)).toEqual(RESILIENCE.map((p) => p.id));
      expect(
        r.probes.filter((p) => p.result === 'error' || p.result === 'n/a').map((p) => `${p.id}: ${p.detail}`),
      ).toEqual([]);
      for (const p of r.probes) withinBounds(p, settings);
      const byId = Object.fromEntries(r.probes.map((p) => [p.id, p]));
      // The built-in server holds every attack within its bounds.
      expect(r.probes.filter((p) => p.result !== 'pass').map((p) => `${p.id}: ${p.detail}`)).toEqual([]);
      // Garbage after connect is a protocol error: the server closes those connections.
      expect(byId['resilience.garbage-after-connect']!.evidence.response).toBe('closed');
      // TLS handshakes fed a byte at a time are closed at the handshake timeout, however they trickle.
      expect(byId['resilience.slow-tls-handshake']!.evidence.response).toBe('closed');
      // Commands whose answers are never read: closed once the answers pass twice maxQueuedBytes.
      expect(byId['resilience.command-flood']!.evidence.response).toBe('closed');
      expect(byId['resilience.tls-flood']!.detail).toMatch(/\d+ TLS handshakes completed/);
      // Blocking reloads of the LL-HLS playlist for a part that does not exist yet, held by the server.
      expect(byId['resilience.http-held']!.detail).toMatch(/on http-flv, \d+ on hls, \d+ on ll-hls/);
    } finally {
      await server.stop();
    }
  }, 60_000);
});

describe('against a server that allocates what a peer declares (node-media-server, started for the probe)', () => {
  it.skipIf(!available('node-media-server'))(
    'the partial-message bomb stops once the server passed its RSS bound, and fails it',
    async () => {
      const bound = 32 * MB;
      // rtmpbench starts the server, so it knows its process and watches its RSS.
      const r = await probeTarget(
        { kind: 'start', server: 'node-media-server' },
        {
          only: ['resilience.partial-message'],
          waitMs: 2000,
          attack: { connections: 60, durationMs: 5000, settleMs: 100, rssBoundBytes: bound },
        },
      );
      expect(r.unreachable).toBeNull();
      const p = r.probes[0]!;
      expect(p.result, p.detail).toBe('fail');
      expect(p.evidence.stoppedBy).toBe('rss');
      expect(p.detail).toMatch(/RSS grew past the bound of 32 MB .* the attack stopped there/);
      // Stopped well before its 60 connections and 480 MB: within a sample and a slice per connection of the bound.
      expect(p.evidence.attackConnections).toBeLessThan(60);
      expect(p.evidence.rssPeakGrowthBytes).toBeGreaterThan(bound);
      expect(p.evidence.attackBytes).toBeLessThan(bound + 160 * MB);
    },
    30_000,
  );
});
