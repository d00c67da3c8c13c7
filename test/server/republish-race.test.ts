import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { republishRaces } from '../../bench/lib/republish-race.js';
import { startWatchedServer, type WatchedServer } from '../../bench/lib/server-watch.js';

/** A publisher goes away and another takes the name while viewers join (the long run: bench/republish-races.ts). */
describe('republish races on the built-in server', () => {
  let watched: WatchedServer;
  beforeAll(async () => {
    watched = await startWatchedServer();
  });
  afterAll(async () => {
    await watched?.stop();
  });

  it('leaves no viewer without the new publisher’s frames, and no stream behind', async () => {
    const r = await republishRaces({ url: watched.url, rounds: 60, viewersPerRound: 4, seed: 5 });
    expect(r.errors).toEqual({});
    expect(r.rounds).toBe(60);
    expect(r.republishFailures).toBe(0);
    expect(r.viewerErrors).toBe(0);
    expect(r.starved, r.starvedDetails.join('\n')).toBe(0);
    expect(r.served).toBe(240);
    // Both ways of going away were raced.
    expect(r.dropped).toBeGreaterThan(10);
    expect(r.unpublished).toBeGreaterThan(10);
    expect(await watched.settle(0, 0)).toBe(true);
  }, 60_000);
});
