import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viewerCycles } from '../../bench/lib/cycles.js';
import { parseRtmpUrl } from '../../src/client/url.js';
import { leakVerdict, type LeakSample } from '../../src/metrics/leak.js';
import { sampleProcessResources } from '../../src/metrics/process-stats.js';
import { publish, type RunningPublisher } from '../helpers/media.js';
import { startLeakyRelay, type LeakyRelay } from '../helpers/leaky-relay.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** Seconds of short sessions through each relay; both relays run at the same time. */
const SOAK_SECONDS = 20;
const KEEP_BYTES = 64 * 1024;

interface Soak {
  samples: LeakSample[];
  ended: number;
  failed: number;
  noFrame: number;
}

/** Viewers through `relay` connect, get a frame and leave, while its RSS and descriptors are sampled every 250 ms. */
async function soak(relay: LeakyRelay, seconds: number): Promise<Soak> {
  const samples: LeakSample[] = [];
  const startedMs = performance.now();
  let ended = 0;
  const sample = () => {
    const s = sampleProcessResources(relay.pid);
    if (s !== null)
      samples.push({
        tSec: (performance.now() - startedMs) / 1000,
        rssBytes: s.rssBytes,
        fds: s.fds,
        sessionsEnded: ended,
      });
  };
  const timer = setInterval(sample, 250);
  sample();
  const counts = await viewerCycles({
    url: parseRtmpUrl(`rtmp://127.0.0.1:${relay.port}/live`),
    streamName: 'soak',
    cycles: Infinity,
    concurrency: 3,
    shouldStop: () => performance.now() - startedMs > seconds * 1000,
    onCycle: (c) => (ended = c.ended),
  });
  clearInterval(timer);
  sample();
  return { samples, ended: counts.ended, failed: counts.failed, noFrame: counts.noFrame };
}

describe('the leak verdict on a relay that leaks on purpose', () => {
  let server: TestServer;
  let source: RunningPublisher;
  const relays: LeakyRelay[] = [];

  beforeAll(async () => {
    server = await startServer({ logLevel: 'warn' });
    // A light stream: each short session relays its GOP (about 12 KB), not more.
    source = await publish(server.url(), 'soak', {
      seconds: SOAK_SECONDS + 30,
      videoBitrate: 100_000,
      audioBitrate: 0,
    });
  });

  afterAll(async () => {
    source?.stop(true);
    await Promise.all(relays.map((r) => r.stop()));
    await server?.close();
  });

  it(`judges a relay that keeps ${KEEP_BYTES / 1024} KB per connection a leak, and the same relay keeping nothing not a leak`, async () => {
    const leaky = await startLeakyRelay(server.port, KEEP_BYTES);
    const clean = await startLeakyRelay(server.port, 0);
    relays.push(leaky, clean);
    const [kept, none] = await Promise.all([soak(leaky, SOAK_SECONDS), soak(clean, SOAK_SECONDS)]);
    for (const run of [kept, none]) {
      expect(run.ended).toBeGreaterThan(100);
      expect(run.failed).toBe(0);
      expect(run.noFrame).toBe(0);
    }
    const leak = leakVerdict(kept.samples);
    const noLeak = leakVerdict(none.samples);
    const detail = JSON.stringify({ leak: { ...leak, method: undefined }, noLeak: { ...noLeak, method: undefined } });
    expect(leak.verdict, detail).toBe('leak');
    // The estimate is near what the relay keeps (Node's own per-connection memory comes back).
    expect(leak.bytesPerSession!.estimate, detail).toBeGreaterThan(KEEP_BYTES / 2);
    expect(leak.bytesPerSession!.estimate, detail).toBeLessThan(KEEP_BYTES * 2);
    expect(noLeak.verdict, detail).not.toBe('leak');
    // Both relays close what they open: descriptors do not grow with sessions.
    expect(Math.abs(noLeak.fdsPerSession!.estimate), detail).toBeLessThan(0.01);
    expect(Math.abs(leak.fdsPerSession!.estimate), detail).toBeLessThan(0.01);
  }, 60_000);
});
