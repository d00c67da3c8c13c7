/**
 * What reliability runs watch on the built-in server: the server in its own process with a
 * stats port, its `/stats` read over a fresh connection each time (so the reading holds no
 * descriptor of the server's), its RSS and descriptors from /proc, and a healthy stream with
 * one viewer that must lose no frame while everything else goes on.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import { Player } from '../../src/client/player.js';
import { Publisher } from '../../src/client/publisher.js';
import { parseRtmpUrl, type RtmpUrl } from '../../src/client/url.js';
import { SyntheticSource } from '../../src/media/synthetic.js';
import { monotonicUs } from '../../src/media/timing-mark.js';
import { sampleProcessResources, type ProcessResources } from '../../src/metrics/process-stats.js';
import { freePort } from '../../src/proc/port.js';
import { startServer, type RunningServer } from '../../src/proc/servers.js';
import type { ServerStats } from '../../src/server/server-stats.js';

export interface WatchedServer {
  server: RunningServer;
  url: RtmpUrl;
  statsPort: number;
  stats(): Promise<ServerStats>;
  resources(): ProcessResources;
  /**
   * Resources once the server is quiet: 300 ms after the last stats request (whose connection
   * the server closes a moment after answering), the fewest descriptors of three samples.
   */
  quietResources(): Promise<ProcessResources>;
  /** What each descriptor of the server is (socket, pipe, file), for a report that shows a difference. */
  descriptors(): Record<string, string>;
  /** Waits until the server holds `connections` connections and no more streams than `streams` (false after `timeoutMs`). */
  settle(connections: number, streams: number, timeoutMs?: number): Promise<boolean>;
  stop(): Promise<number | null>;
}

function getJson<T>(port: number, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as T);
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`no answer from the stats port within 5 s`)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The built-in server in its own process, with a stats port; `args` are more `rtmpbench serve` flags. */
export async function startWatchedServer(args: string[] = [], http?: boolean): Promise<WatchedServer> {
  const statsPort = await freePort();
  // A busy machine (tests in parallel) may need more than the default 15 s to start Node.
  const server = await startServer('builtin', {
    builtinArgs: ['--stats-port', String(statsPort), ...args],
    startTimeoutMs: 40_000,
    ...(http === true ? { http: true } : {}),
  });
  const stats = () => getJson<ServerStats>(statsPort, '/stats');
  return {
    server,
    url: parseRtmpUrl(server.url),
    statsPort,
    stats,
    resources: () => {
      const r = sampleProcessResources(server.pid);
      if (r === null) throw new Error(`the server (pid ${server.pid}) is gone: ${server.output().slice(-2000)}`);
      return r;
    },
    async quietResources() {
      await sleep(300);
      let best: ProcessResources | null = null;
      for (let i = 0; i < 3; i++) {
        const r = sampleProcessResources(server.pid);
        if (r === null) throw new Error(`the server (pid ${server.pid}) is gone: ${server.output().slice(-2000)}`);
        if (best === null || (r.fds ?? 0) < (best.fds ?? 0)) best = { ...r, rssBytes: r.rssBytes };
        await sleep(100);
      }
      return best!;
    },
    descriptors: () => {
      const out: Record<string, string> = {};
      try {
        for (const fd of readdirSync(`/proc/${server.pid}/fd`)) {
          try {
            out[fd] = readlinkSync(`/proc/${server.pid}/fd/${fd}`);
          } catch {
            out[fd] = '?';
          }
        }
      } catch {
        // Not readable (another user's process): nothing to show.
      }
      return out;
    },
    async settle(connections, streams, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = await stats();
        if (s.connections.open <= connections && s.streams.length <= streams) return true;
        if (Date.now() > deadline) return false;
        await sleep(100);
      }
    },
    stop: () => server.stop(),
  };
}

export interface HealthyStream {
  name: string;
  publisher: Publisher;
  viewer: Player;
  /** Video frames the viewer got, and those missing between the marks' sequence numbers. */
  frames(): { sent: number; received: number; lost: number; duplicated: number; outOfOrder: number };
  /** Whether the viewer is still connected. */
  alive(): boolean;
  /** Stops pumping, lets the last frames arrive, closes both. */
  stop(): Promise<void>;
}

/**
 * A stream published in real time (a pump every 5 ms) with one viewer reading every frame's
 * mark: the session that must not notice what happens to the others.
 */
export async function startHealthyStream(url: RtmpUrl, name: string, videoBitrate = 300_000): Promise<HealthyStream> {
  const source = new SyntheticSource({ videoBitrate, fps: 30, gopSeconds: 1, audioBitrate: 64_000 });
  const publisher = await Publisher.open({ url, streamName: name, source });
  publisher.start(monotonicUs());
  const pump = setInterval(() => publisher.pump(monotonicUs()), 5);
  const viewer = await Player.open({ url, streamName: name });
  let viewerClosed = false;
  viewer.onEnd = () => (viewerClosed = true);
  return {
    name,
    publisher,
    viewer,
    frames: () => ({
      sent: publisher.videoFramesSent,
      received: viewer.counters.videoFrames,
      lost: viewer.counters.lost,
      duplicated: viewer.counters.duplicated,
      outOfOrder: viewer.counters.outOfOrder,
    }),
    alive: () => !viewerClosed && !publisher.closed,
    async stop() {
      clearInterval(pump);
      await sleep(300);
      viewer.close();
      publisher.stop();
    },
  };
}
