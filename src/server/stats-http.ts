import http from 'node:http';
import type net from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ServerStats } from './server-stats.js';

/**
 * GET /stats: the server's stats as JSON. GET /metrics: the same in Prometheus text format
 * (prom-client; values are read from the stats at scrape time).
 */
export class StatsHttpServer {
  private readonly server: http.Server;
  private readonly registry = new Registry();

  constructor(private readonly read: () => ServerStats) {
    this.defineMetrics();
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as net.AddressInfo).port));
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections?.();
    return new Promise((r) => this.server.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(this.read())}\n`);
      return;
    }
    if (path === '/metrics') {
      const body = await this.registry.metrics();
      res.writeHead(200, { 'content-type': this.registry.contentType }).end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /stats or /metrics\n');
  }

  private defineMetrics(): void {
    const r = this.registry;
    const read = this.read;
    let snapshot: ServerStats | null = null;
    let takenAt = 0;
    // One stats snapshot per scrape, shared by every metric's collect().
    const stats = (): ServerStats => {
      const now = performance.now();
      if (snapshot === null || now - takenAt > 100) {
        snapshot = read();
        takenAt = now;
      }
      return snapshot;
    };
    const gauge = (name: string, help: string, value: (s: ServerStats) => number) =>
      new Gauge({
        name,
        help,
        registers: [r],
        collect() {
          this.set(value(stats()));
        },
      });
    const counter = (name: string, help: string, value: (s: ServerStats) => number) =>
      new Counter({
        name,
        help,
        registers: [r],
        collect() {
          this.reset();
          this.inc(value(stats()));
        },
      });
    gauge('rtmp_connections', 'Open RTMP connections', (s) => s.connections.open);
    counter('rtmp_connections_accepted_total', 'Connections accepted', (s) => s.connections.accepted);
    counter(
      'rtmp_connections_rejected_total',
      'Connections refused (limit or shutdown)',
      (s) => s.connections.rejected,
    );
    gauge('rtmp_streams', 'Live streams', (s) => s.streams.length);
    gauge('rtmp_publishers', 'Publishing connections', (s) => s.publishers);
    // Viewers by protocol: RTMP players, HTTP-FLV and WebSocket-FLV viewers, HLS readers.
    new Gauge({
      name: 'rtmp_players',
      help: 'Viewers by protocol (rtmp, http-flv, ws-flv, hls: connections that read a playlist lately)',
      labelNames: ['protocol'],
      registers: [r],
      collect() {
        const v = stats().viewers;
        this.set({ protocol: 'rtmp' }, v.rtmp);
        this.set({ protocol: 'http-flv' }, v.httpFlv);
        this.set({ protocol: 'ws-flv' }, v.wsFlv);
        this.set({ protocol: 'hls' }, v.hls);
      },
    });
    counter('rtmp_bytes_in_total', 'Bytes received from peers', (s) => s.bytesIn);
    counter('rtmp_bytes_out_total', 'Bytes written to peers', (s) => s.bytesOut);
    counter('rtmp_dropped_video_frames_total', 'Video frames dropped by backpressure', (s) => s.drops.video);
    counter('rtmp_dropped_audio_frames_total', 'Audio frames dropped by backpressure', (s) => s.drops.audio);
    counter('rtmp_dropped_bytes_total', 'Bytes dropped by backpressure', (s) => s.drops.bytes);
    counter('rtmp_write_calls_total', 'Write calls to peer sockets (a corked batch counts once)', (s) => s.io.writes);
    counter('rtmp_messages_written_total', 'Messages handed to peer sockets', (s) => s.io.messages);
    counter('rtmp_gc_major_total', 'Major garbage collections of the server process', (s) => s.process.gc.major);
    gauge('rtmp_gop_cache_bytes', 'Bytes held by GOP caches', (s) => s.gopCacheBytes);
    gauge('rtmp_hls_segment_bytes', 'Bytes held by HLS segments', (s) => s.http?.hls.bytes ?? 0);
    counter('rtmp_http_requests_total', 'HTTP requests to the viewer port', (s) => s.http?.requests ?? 0);
    counter('rtmp_pool_hits_total', 'Buffer pool acquires served from a free list', (s) => s.pool.hits);
    counter('rtmp_pool_misses_total', 'Buffer pool acquires that allocated', (s) => s.pool.misses);
    gauge('rtmp_pool_held_bytes', 'Bytes in buffer pool free lists', (s) => s.pool.heldBytes);
    gauge('rtmp_pool_outstanding_bytes', 'Pooled bytes in use', (s) => s.pool.outstandingBytes);
    counter('process_cpu_seconds_total', 'User and system CPU time of the server process', (s) => s.process.cpuSeconds);
    gauge('process_resident_memory_bytes', 'Resident memory of the server process', (s) => s.process.rssBytes);
    gauge(
      'process_max_resident_memory_bytes',
      'Peak resident memory of the server process',
      (s) => s.process.maxRssBytes,
    );
    // Per stream (streams are few; per-player series would explode cardinality: see /stats).
    const perStream = (name: string, help: string, value: (st: ServerStats['streams'][number]) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['stream'],
        registers: [r],
        collect() {
          this.reset();
          for (const st of stats().streams) this.set({ stream: st.key }, value(st));
        },
      });
    new Gauge({
      name: 'rtmp_stream_players',
      help: 'Viewers of the stream by protocol',
      labelNames: ['stream', 'protocol'],
      registers: [r],
      collect() {
        this.reset();
        const s = stats();
        for (const st of s.streams) this.set({ stream: st.key, protocol: 'rtmp' }, st.players);
        for (const h of s.http?.streams ?? []) {
          this.set({ stream: h.key, protocol: 'http-flv' }, h.httpFlv);
          this.set({ stream: h.key, protocol: 'ws-flv' }, h.wsFlv);
          this.set({ stream: h.key, protocol: 'hls' }, h.hls);
        }
      },
    });
    perStream('rtmp_stream_bytes_in', 'Bytes the publisher sent', (st) => st.bytesIn);
    perStream(
      'rtmp_stream_dropped_video_frames',
      'Video frames dropped for players of the stream',
      (st) => st.drops.video,
    );
    perStream(
      'rtmp_stream_dropped_audio_frames',
      'Audio frames dropped for players of the stream',
      (st) => st.drops.audio,
    );
    perStream('rtmp_stream_gop_cache_bytes', 'Bytes in the GOP cache of the stream', (st) => st.gopCacheBytes);
  }
}
