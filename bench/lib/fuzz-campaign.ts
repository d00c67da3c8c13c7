/**
 * A fuzzing campaign against the built-in server in its own process (RTMP and HTTP outputs on):
 * mutated copies of ffmpeg's publish and play sessions, and of HTTP-FLV, HLS and WebSocket-FLV
 * requests, replayed `concurrency` at a time while a healthy stream is published and watched
 * over RTMP and HTTP-FLV. Then the checks: the server still runs and answers, the healthy
 * viewers lost no frame and are still connected, no connection was closed for a bug of ours
 * (`internal-error`), once the replays are over no connection, viewer or stream of theirs
 * is left, and the server's RSS never grew past a bound (sampled all along; the replays stop
 * once it does, so a regression cannot exhaust the machine).
 */
import { HttpFlvViewer } from '../../src/client/http-flv-viewer.js';
import {
  fuzzName,
  llHlsRequests,
  httpRequests,
  mutate,
  recordSessions,
  renamed,
  replay,
  seededRandom,
  webSocketFrames,
  RECORDED_NAME,
  type Mutation,
  type ReplayEnd,
} from './fuzz.js';
import { startHealthyStream, startWatchedServer } from './server-watch.js';

export interface FuzzCampaignOptions {
  /** Mutated RTMP sessions (ffmpeg's publish and play), and mutated HTTP requests. */
  rtmp: number;
  http: number;
  seed?: number;
  concurrency?: number;
  /** More `rtmpbench serve` flags for the server under test. */
  serverArgs?: string[];
  /** Also send LL-HLS requests with random delivery directives (serve with --hls-part-ms). */
  llHls?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** Most the server's RSS may grow over its level before the replays (default 256 MB). */
  maxRssGrowthBytes?: number;
}

export interface FuzzCheck {
  name: string;
  passed: boolean;
  detail: string;
}

export interface FuzzCampaignResult {
  seed: number;
  rtmp: {
    sessions: number;
    byMutation: Partial<Record<Mutation | 'handshake-garbage', number>>;
    ends: Partial<Record<ReplayEnd, number>>;
  };
  http: { requests: number; byKind: Record<string, number>; ends: Partial<Record<ReplayEnd, number>> };
  closedByReason: Record<string, number>;
  httpResponses: Record<string, number>;
  healthy: {
    rtmp: { received: number; lost: number; duplicated: number; outOfOrder: number };
    httpFlv: { received: number; lost: number; duplicated: number; outOfOrder: number };
  };
  /** The server's RSS before the replays and at its highest during them. */
  rss: { beforeBytes: number; peakBytes: number; maxGrowthBytes: number };
  checks: FuzzCheck[];
  passed: boolean;
  durationSec: number;
}

const HEALTHY = 'healthy';

async function pool(
  total: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
  stop: () => boolean,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total && !stop()) await task(next++);
    }),
  );
}

const mb = (b: number) => (b / 1024 / 1024).toFixed(0);

const bump = <K extends string>(m: Partial<Record<K, number>>, k: K) => (m[k] = (m[k] ?? 0) + 1);

export async function fuzzCampaign(opts: FuzzCampaignOptions): Promise<FuzzCampaignResult> {
  const seed = opts.seed ?? 1;
  const concurrency = opts.concurrency ?? 8;
  const startedMs = performance.now();
  const recordings = await recordSessions();
  const watched = await startWatchedServer(opts.serverArgs ?? [], true);
  const httpPort = watched.server.httpPort!;
  const healthy = await startHealthyStream(watched.url, HEALTHY);
  const httpViewer = await HttpFlvViewer.open({ url: `http://127.0.0.1:${httpPort}/live/${HEALTHY}.flv` });
  let httpViewerEnded = false;
  httpViewer.onEnd = () => (httpViewerEnded = true);
  const total = opts.rtmp + opts.http;
  let done = 0;
  // The server's RSS, sampled all along; past the bound the replays stop.
  const maxGrowthBytes = opts.maxRssGrowthBytes ?? 256 * 1024 * 1024;
  const rssBefore = (await watched.quietResources()).rssBytes;
  let rssPeak = rssBefore;
  const sampleRss = () => {
    const rss = watched.resources().rssBytes;
    if (rss > rssPeak) rssPeak = rss;
  };
  const overBound = () => rssPeak - rssBefore > maxGrowthBytes;
  const sampler = setInterval(sampleRss, 50);
  const result: FuzzCampaignResult = {
    seed,
    rtmp: { sessions: opts.rtmp, byMutation: {}, ends: {} },
    http: { requests: opts.http, byKind: {}, ends: {} },
    closedByReason: {},
    httpResponses: {},
    healthy: {
      rtmp: { received: 0, lost: 0, duplicated: 0, outOfOrder: 0 },
      httpFlv: { received: 0, lost: 0, duplicated: 0, outOfOrder: 0 },
    },
    rss: { beforeBytes: rssBefore, peakBytes: rssBefore, maxGrowthBytes },
    checks: [],
    passed: false,
    durationSec: 0,
  };
  try {
    await pool(
      opts.rtmp,
      concurrency,
      async (i) => {
        // One generator per session: session i sends the same bytes whatever ran before it.
        const random = seededRandom(seed * 1_000_003 + i);
        const recording = random() < 0.7 ? recordings.publish : recordings.play;
        const garble = random() < 0.05;
        const m = mutate(renamed(recording, RECORDED_NAME, fuzzName('fz', i)), random);
        bump(result.rtmp.byMutation, garble ? 'handshake-garbage' : m.mutation);
        const end = await replay(m.bytes, random, {
          port: watched.server.port,
          rtmpHandshake: { digest: random() < 0.5, garbleC1: garble },
        });
        bump(result.rtmp.ends, end);
        done++;
        opts.onProgress?.(done, total);
      },
      overBound,
    );
    const requests = httpRequests(httpPort);
    await pool(
      opts.http,
      concurrency,
      async (i) => {
        const random = seededRandom(seed * 1_000_003 + opts.rtmp + i);
        const kinds = opts.llHls === true ? (['flv', 'hls', 'ws', 'llhls'] as const) : (['flv', 'hls', 'ws'] as const);
        const kind = kinds[Math.floor(random() * kinds.length)]!;
        // One request in four asks for the live stream, so real viewers of it are set up and torn down;
        // LL-HLS requests ask for it one in two (held requests need a stream that advances).
        const name = random() < (kind === 'llhls' ? 0.5 : 0.25) ? HEALTHY : fuzzName('hz', i);
        const template = kind === 'llhls' ? llHlsRequests(httpPort, random) : requests[kind];
        const head = Buffer.from(template.replaceAll('{name}', name), 'latin1');
        let bytes: Buffer;
        if (kind === 'ws' && random() < 0.5) {
          // A good upgrade, then mutated frames: what the WebSocket parser gets after the handshake.
          bytes = Buffer.concat([head, mutate(webSocketFrames(random), random).bytes]);
          bump(result.http.byKind, 'ws-frames');
        } else {
          const whole = kind === 'ws' ? Buffer.concat([head, webSocketFrames(random)]) : head;
          bytes = mutate(whole, random, whole.length).bytes;
          bump(result.http.byKind, kind);
        }
        const end = await replay(bytes, random, { port: httpPort });
        bump(result.http.ends, end);
        done++;
        opts.onProgress?.(done, total);
      },
      overBound,
    );

    // The healthy stream goes on for a moment after the last replay: a late effect would show.
    await new Promise((r) => setTimeout(r, 1000));
    const settled = await watched.settle(2, 1, 20_000);
    sampleRss();
    clearInterval(sampler);
    result.rss.peakBytes = rssPeak;
    const stats = await watched.stats();
    result.closedByReason = stats.connections.closedByReason;
    result.httpResponses = stats.http?.responses ?? {};
    const rtmpFrames = healthy.frames();
    const c = httpViewer.counters;
    result.healthy = {
      rtmp: {
        received: rtmpFrames.received,
        lost: rtmpFrames.lost,
        duplicated: rtmpFrames.duplicated,
        outOfOrder: rtmpFrames.outOfOrder,
      },
      httpFlv: { received: c.videoFrames, lost: c.lost, duplicated: c.duplicated, outOfOrder: c.outOfOrder },
    };
    const httpInternal = stats.http?.closedByReason['internal-error'] ?? 0;
    const held = stats.http?.hls.held ?? 0;
    const leftover = stats.http?.viewerDetails.filter((v) => v.stream !== `live/${HEALTHY}`).length ?? 0;
    const healthyHttpViewers = stats.http?.viewerDetails.filter((v) => v.stream === `live/${HEALTHY}`).length ?? 0;
    result.checks = [
      {
        name: 'server-running',
        passed: watched.server.output !== undefined && stats.uptimeSeconds > 0,
        detail: `the server answers /stats after ${total} mutated sessions (up ${stats.uptimeSeconds.toFixed(0)} s)`,
      },
      {
        name: 'healthy-rtmp-viewer',
        passed:
          healthy.alive() &&
          rtmpFrames.received > 0 &&
          rtmpFrames.lost === 0 &&
          rtmpFrames.duplicated === 0 &&
          rtmpFrames.outOfOrder === 0,
        detail: `healthy RTMP viewer: ${rtmpFrames.received} frames, ${rtmpFrames.lost} lost, ${rtmpFrames.duplicated} duplicated, ${rtmpFrames.outOfOrder} out of order, ${healthy.alive() ? 'connected' : 'DISCONNECTED'}`,
      },
      {
        name: 'healthy-http-flv-viewer',
        passed: !httpViewerEnded && c.videoFrames > 0 && c.lost === 0 && c.duplicated === 0 && c.outOfOrder === 0,
        detail: `healthy HTTP-FLV viewer: ${c.videoFrames} frames, ${c.lost} lost, ${c.duplicated} duplicated, ${c.outOfOrder} out of order, ${httpViewerEnded ? 'DISCONNECTED' : 'connected'}`,
      },
      {
        name: 'rss-bounded',
        passed: !overBound() && done === total,
        detail: `server RSS ${mb(rssBefore)} MB before the replays, ${mb(rssPeak)} MB at the most (bound: +${mb(maxGrowthBytes)} MB)${done < total ? `; STOPPED after ${done} of ${total} replays` : ''}`,
      },
      {
        name: 'no-internal-error',
        passed: (stats.connections.closedByReason['internal-error'] ?? 0) === 0 && httpInternal === 0,
        detail: `connections closed for an internal error: ${stats.connections.closedByReason['internal-error'] ?? 0} RTMP, ${httpInternal} HTTP`,
      },
      {
        name: 'nothing-left',
        passed:
          settled &&
          stats.connections.open === 2 &&
          stats.streams.length === 1 &&
          leftover === 0 &&
          healthyHttpViewers === 1,
        detail: `left after the replays: ${stats.connections.open} RTMP connections (2 healthy), streams ${stats.streams.map((s) => s.key).join(', ')}, ${leftover} HTTP viewers of fuzzed names`,
      },
      {
        name: 'nothing-held',
        passed: held === 0,
        detail: `HLS requests still held after the replays: ${held}`,
      },
    ];
    result.passed = result.checks.every((k) => k.passed);
    return result;
  } finally {
    clearInterval(sampler);
    result.durationSec = Math.round((performance.now() - startedMs) / 1000);
    httpViewer.close();
    await healthy.stop();
    await watched.stop();
  }
}
