import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bombWatchedServer } from '../../bench/lib/memory-bomb.js';
import {
  startHealthyStream,
  startWatchedServer,
  type HealthyStream,
  type WatchedServer,
} from '../../bench/lib/server-watch.js';

/**
 * The partial-message memory bomb against the built-in server in its own process (so the RSS is
 * the server's alone), beside a healthy stream: each attack stops once the server's RSS grows
 * past its bound, so a regression fails here without taking the machine down. The long run, and
 * the figures in docs/server.md: bench/hostile-peers.ts.
 */
const ATTACKERS = 300;
/**
 * Connections held open with the largest command allowed before connect: enough of them that the
 * collector's steps (several MB either way) do not decide the figure per connection.
 */
const HOLDERS = 1000;
/** Most a connection that has not sent `connect` may cost the server, RSS included. */
const PER_ATTACKER_BYTES = 64 * 1024;

let watched: WatchedServer;
let healthy: HealthyStream;

beforeAll(async () => {
  watched = await startWatchedServer(['--log-level', 'warn']);
  healthy = await startHealthyStream(watched.url, 'healthy');
  // Let the server's RSS settle with the healthy stream before the baseline.
  await new Promise((r) => setTimeout(r, 1000));
}, 60_000);

afterAll(async () => {
  await healthy?.stop();
  await watched?.stop();
});

describe('hostile peers against the built-in server', () => {
  it(`closes ${ATTACKERS} connections that declare 8 MB video messages before connect at their header, its RSS growing by less than 64 KB each`, async () => {
    const r = await bombWatchedServer(watched, healthy, {
      connections: ATTACKERS,
      declaredBytes: 8 * 1024 * 1024,
      typeId: 9,
      maxGrowthBytes: ATTACKERS * PER_ATTACKER_BYTES,
    });
    const detail = JSON.stringify(r);
    expect(r.overBound, detail).toBe(false);
    expect(r.handshaken, detail).toBe(ATTACKERS);
    expect(r.closedByServer, detail).toBe(ATTACKERS);
    expect(r.closedByReason['message-before-connect'], detail).toBe(ATTACKERS);
    // At most one read's worth of each 8 MB was taken before the close.
    expect(r.rssPeakBytes - r.rssBeforeBytes, detail).toBeLessThan(ATTACKERS * PER_ATTACKER_BYTES);
    expect(r.healthy.lost, detail).toBe(0);
    expect(r.healthy.alive, detail).toBe(true);
    expect(r.healthy.received, detail).toBeGreaterThan(0);
  }, 60_000);

  it(`holds ${HOLDERS} connections that each send the largest command allowed before connect but its last byte for less than 64 KB each`, async () => {
    const r = await bombWatchedServer(watched, healthy, {
      connections: HOLDERS,
      declaredBytes: 16 * 1024, // maxCommandBytes: one byte more closes the connection
      typeId: 20,
      maxGrowthBytes: HOLDERS * PER_ATTACKER_BYTES,
      holdMs: 1000,
    });
    const detail = JSON.stringify(r);
    expect(r.overBound, detail).toBe(false);
    expect(r.handshaken, detail).toBe(HOLDERS);
    // Within the rules: kept (until they idle out), each holding its 16 KB.
    expect(r.open, detail).toBe(HOLDERS);
    expect(r.rssPeakBytes - r.rssBeforeBytes, detail).toBeLessThan(HOLDERS * PER_ATTACKER_BYTES);
    const stats = await watched.stats();
    expect(stats.reassembly.peakBytes, detail).toBeGreaterThanOrEqual(HOLDERS * 16 * 1024);
    expect(stats.reassembly.heldBytes, detail).toBe(0); // all given back once they closed
    expect(r.healthy.lost, detail).toBe(0);
    expect(r.healthy.alive, detail).toBe(true);
  }, 60_000);
});
