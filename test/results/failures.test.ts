import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFailure } from '../../src/load/run-failure.js';
import {
  allFailureKeys,
  allFailures,
  closedFailureCounts,
  failureKey,
  httpErrorKey,
  parseFailureKey,
  parseHttpErrorKey,
  type Failure,
} from '../../src/results/failures.js';
import type { RunSummary } from '../../src/results/summary.js';

/** Failures as records, and the keys results folders (schema 1) count them under, both ways. */

const GOLDEN: [Failure, string][] = [
  [{ role: 'publisher', phase: 'setup', kind: 'rejected' }, 'publisher: rejected'],
  [{ role: 'publisher', phase: 'setup', kind: 'timeout', step: 'handshake' }, 'publisher: timeout in handshake'],
  [{ role: 'publisher', phase: 'setup', kind: 'timeout', step: 'publish' }, 'publisher: timeout in publish'],
  [{ role: 'publisher', phase: 'setup', kind: 'other' }, 'publisher: other'],
  [{ role: 'publisher', phase: 'dropped', kind: 'closed' }, 'publisher dropped: closed'],
  [{ role: 'player', protocol: 'rtmp', phase: 'setup', kind: 'no-video' }, 'player: no-video'],
  [{ role: 'player', protocol: 'rtmp', phase: 'setup', kind: 'no-audio' }, 'player: no-audio'],
  [{ role: 'player', protocol: 'rtmp', phase: 'setup', kind: 'timeout' }, 'player: timeout'],
  [
    { role: 'player', protocol: 'rtmp', phase: 'setup', kind: 'timeout', step: 'connect command' },
    'player: timeout in connect command',
  ],
  [
    { role: 'player', protocol: 'rtmp', phase: 'setup', kind: 'timeout', step: 'tcp connect' },
    'player: timeout in tcp connect',
  ],
  [{ role: 'player', protocol: 'rtmp', phase: 'dropped', kind: 'socket' }, 'player dropped: socket'],
  [{ role: 'player', protocol: 'hls', phase: 'setup', kind: 'no-video' }, 'hls viewer: no-video'],
  [
    { role: 'player', protocol: 'hls', phase: 'setup', kind: 'timeout', step: 'response headers' },
    'hls viewer: timeout in response headers',
  ],
  [{ role: 'player', protocol: 'http-flv', phase: 'setup', kind: 'rejected' }, 'http-flv viewer: rejected'],
  [{ role: 'player', protocol: 'ws-flv', phase: 'dropped', kind: 'closed' }, 'ws-flv viewer dropped: closed'],
];

describe('failure keys', () => {
  it.each(GOLDEN)('%o is counted under "%s" and reads back as itself', (f, key) => {
    expect(failureKey(f)).toBe(key);
    expect(parseFailureKey(key)).toEqual(f);
  });

  it('round-trips every failure there can be, each under a key of its own', () => {
    const all = allFailures();
    const keys = all.map(failureKey);
    expect(new Set(keys).size).toBe(all.length);
    for (const f of all) expect(parseFailureKey(failureKey(f))).toEqual(f);
    // Every kind of every session shows up at least once.
    const kinds = new Set(all.map((f) => `${f.role} ${f.phase} ${f.kind}`));
    expect(kinds).toContain('player setup no-audio');
    expect(kinds).toContain('publisher dropped protocol');
    expect(kinds).toContain('publisher setup other');
    expect(kinds).not.toContain('publisher setup no-video');
  });

  it("reads keys that end in an error's message (written before failures were records) as other", () => {
    expect(parseFailureKey('publisher: connect ECONNRESET 127.0.0.1:1935')).toEqual({
      role: 'publisher',
      phase: 'setup',
      kind: 'other',
    });
    expect(parseFailureKey("hls viewer: Cannot read properties of undefined (reading 'x')")).toEqual({
      role: 'player',
      protocol: 'hls',
      phase: 'setup',
      kind: 'other',
    });
    expect(parseFailureKey('player: timeout in a command')).toEqual({
      role: 'player',
      protocol: 'rtmp',
      phase: 'setup',
      kind: 'other',
    });
  });

  it('reads a key that names no session as no failure', () => {
    for (const key of [
      '',
      'boom',
      'rtmp viewer: closed',
      'dash viewer: closed',
      'player dropped: whatever',
      'viewer: closed',
    ])
      expect(parseFailureKey(key)).toBeNull();
  });

  it('counts any key under one of the closed set', () => {
    const counts = closedFailureCounts({ 'player: no-video': 2, 'player: boom': 1, 'player: bang': 3, nonsense: 4 });
    expect(counts).toEqual({ 'player: no-video': 2, 'player: other': 4, other: 4 });
    const closed = new Set(allFailureKeys());
    for (const k of Object.keys(counts)) expect(closed).toContain(k);
  });

  it('reads back every failure key of the committed baselines', () => {
    const keys = baselineFailureKeys(resolve(import.meta.dirname, '../../results/baselines'));
    expect(keys.size).toBeGreaterThan(0);
    for (const key of keys) {
      const f = parseFailureKey(key);
      expect(f, key).not.toBeNull();
      expect(f!.kind, key).not.toBe('other');
      expect(failureKey(f!)).toBe(key);
    }
  });
});

describe('HTTP error keys', () => {
  it('are "protocol status", both ways', () => {
    expect(httpErrorKey({ protocol: 'hls', status: 404 })).toBe('hls 404');
    expect(httpErrorKey({ protocol: 'httpFlv', status: 0 })).toBe('httpFlv 0');
    expect(parseHttpErrorKey('wsFlv 503')).toEqual({ protocol: 'wsFlv', status: 503 });
    for (const bad of ['hls', 'hls 4o4', 'http-flv 404', 'dash 404', '404']) expect(parseHttpErrorKey(bad)).toBeNull();
  });
});

describe('a run that failed as a whole', () => {
  const summary = (failures: Record<string, number>, connected: { publishers: number; players: number }): RunSummary =>
    ({
      failures,
      sessions: {
        publishers: { planned: 2, connected: connected.publishers },
        players: { planned: 4, connected: connected.players },
      },
    }) as unknown as RunSummary;

  it('says why no publisher could publish, by reason', () => {
    expect(runFailure(summary({ 'publisher: rejected': 2 }, { publishers: 0, players: 0 }))).toBe(
      'no publisher could publish (rejected ×2)',
    );
  });

  it('says why no viewer could play, naming the protocol of viewers other than RTMP', () => {
    const s = summary(
      { 'player: timeout in handshake': 1, 'hls viewer: rejected': 3, 'publisher dropped: closed': 1 },
      { publishers: 2, players: 0 },
    );
    expect(runFailure(s)).toBe('no player could play (timeout in handshake ×1, hls viewer: rejected ×3)');
  });

  it('counts drops of every session, and only drops', () => {
    expect(
      runFailure(
        summary(
          { 'publisher dropped: closed': 2, 'player dropped: socket': 3, 'hls viewer dropped: closed': 1 },
          { publishers: 2, players: 4 },
        ),
      ),
    ).toMatch(/^the target closed every connection/);
    expect(
      runFailure(summary({ 'publisher dropped: closed': 2, 'player: no-video': 4 }, { publishers: 2, players: 4 })),
    ).toBeNull();
  });
});

/** Failure keys of every summary.json and counters.json under `dir`. */
function baselineFailureKeys(dir: string): Set<string> {
  const keys = new Set<string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name === 'summary.json' || name === 'counters.json') {
        const failures = (JSON.parse(readFileSync(p, 'utf8')) as { failures?: Record<string, number> }).failures ?? {};
        for (const k of Object.keys(failures)) keys.add(k);
      }
    }
  };
  walk(dir);
  return keys;
}
