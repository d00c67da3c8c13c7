import { describe, expect, it } from 'vitest';
import { fuzzCampaign } from '../../bench/lib/fuzz-campaign.js';
import { MUTATIONS } from '../../bench/lib/fuzz.js';
import { hasTool } from '../helpers/tools.js';

/**
 * Mutated copies of ffmpeg's own publish and play sessions and of HTTP-FLV, HLS and
 * WebSocket-FLV requests, against the built-in server in its own process, while a healthy
 * stream plays over RTMP and HTTP-FLV, the server's RSS watched all along (the long run:
 * bench/fuzz-sessions.ts).
 */
describe.runIf(hasTool('ffmpeg'))('fuzzing the built-in server with real sessions', () => {
  it('keeps running, loses no frame of the healthy stream, keeps nothing of the mutated sessions and its RSS within a bound', async () => {
    // LL-HLS on: blocking reloads and held parts with random delivery directives among the requests.
    const llHls = ['--hls-segment-ms', '1000', '--hls-part-ms', '200'];
    // About 10 MB of growth is usual here; the bound leaves room for the collector's timing.
    const r = await fuzzCampaign({
      rtmp: 400,
      http: 260,
      seed: 13,
      maxRssGrowthBytes: 96 * 1024 * 1024,
      llHls: true,
      serverArgs: llHls,
    });
    for (const check of r.checks) expect(check.passed, check.detail).toBe(true);
    expect(r.checks.map((c) => c.name)).toContain('rss-bounded');
    // The copies reached the parsers: every kind of mutation was sent, and the server refused
    // some sessions for what they broke (protocol errors), not only for hanging up.
    for (const m of MUTATIONS) expect(r.rtmp.byMutation[m] ?? 0, m).toBeGreaterThan(0);
    const refusals = Object.entries(r.closedByReason).filter(
      ([kind]) => kind.startsWith('RTMP_ERR_') || kind.startsWith('bad-'),
    );
    expect(refusals.reduce((a, [, n]) => a + n, 0)).toBeGreaterThan(20);
    expect(r.httpResponses['400'] ?? 0).toBeGreaterThan(0);
    expect(r.httpResponses['101'] ?? 0).toBeGreaterThan(0);
    expect(r.http.byKind.llhls ?? 0).toBeGreaterThan(0);
    expect(r.healthy.rtmp.received).toBeGreaterThan(30);
  }, 90_000);
});
