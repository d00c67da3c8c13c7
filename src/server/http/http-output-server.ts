import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { BufferPool } from '../../buffers/buffer-pool.js';
import { UsageError } from '../../input/usage-error.js';
import { closeReason, formatCloseReason, type CloseKind, type CloseReason } from '../close-reason.js';
import type { ServerConfig } from '../config.js';
import type { LiveStream } from '../live-stream.js';
import type { Logger } from '../logger.js';
import { newDropCounters, type IoCounters } from '../send-queue.js';
import { isVideoFrame, MessageClass, type SharedMessage } from '../shared-message.js';
import type { StreamRegistry } from '../stream-registry.js';
import type { FlvForm } from './flv-tags.js';
import { FlvViewer, type FlvViewerContext } from './flv-viewer.js';
import { HlsOutputs, type HlsOutputsHost } from './hls-outputs.js';
import { FLV_HEADERS, PREFLIGHT_HEADERS, Responder, TEXT_HEADERS } from './http-responses.js';
import type { HttpOutputStats, HttpStreamStats, HttpViewerStats, ViewersByProtocol } from './http-stats.js';
import { parseRoute, type Route } from './routes.js';
import { StreamOutputs, type StreamOutputsHost } from './stream-outputs.js';

export interface HttpOutputContext {
  readonly config: ServerConfig;
  readonly logger: Logger;
  readonly pool: BufferPool;
  readonly registry: StreamRegistry;
}

/** Request heads larger than this get 431 (players send a few hundred bytes). */
const MAX_HEADER_BYTES = 8 * 1024;
/** Largest WebSocket message a viewer may send (viewers send nothing but pings and a close). */
const WS_MAX_PAYLOAD_BYTES = 4 * 1024;
const SWEEP_INTERVAL_MS = 1000;
/** Time FLV viewers get to take their last bytes when the server stops. */
const CLOSE_DRAIN_MS = 500;
const EMPTY = Buffer.alloc(0);

/**
 * The built-in server's HTTP outputs on one port: HTTP-FLV at `/{app}/{stream}.flv`,
 * WebSocket-FLV on the same path (an upgrade, through `ws`), HLS at
 * `/{app}/{stream}/index.m3u8` with MPEG-TS segments beside it.
 *
 * Node's HTTP server parses requests and enforces the limits a peer could abuse: head size
 * (431), time to send the head (408, the handshake timeout), garbage (400), idle keep-alive
 * connections (the idle timeout), pipelined floods (it stops reading a connection whose
 * responses are not read), and the connection bound (`httpMaxConnections`; more are closed at
 * once). Unknown paths get 404, other methods 405. Every response carries CORS headers;
 * playlists are `no-cache`, segments immutable.
 *
 * FLV viewers join the stream's tap (StreamOutputs) once their headers are out; HLS requests
 * go to HlsOutputs, LL-HLS parts (`/{app}/{stream}/{segment}.{index}.ts`) and blocking playlist
 * reloads too.
 *
 * HTTP/1.1 only: an LL-HLS player holds two requests at a time (a blocking reload and a part),
 * well within a browser's six connections per host, and a load generator opens what it needs.
 * HTTP/2 would matter for many players in one browser, and browsers speak it only over TLS.
 */
export class HttpOutputServer implements StreamOutputsHost, HlsOutputsHost {
  readonly config: ServerConfig;
  readonly logger: Logger;
  readonly pool: BufferPool;
  private readonly registry: StreamRegistry;
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  readonly responder = new Responder();
  private readonly outputs = new Map<string, StreamOutputs>();
  private readonly hls: HlsOutputs;
  private readonly viewers = new Map<FlvViewer, StreamOutputs>();
  /** Each viewer's stream, for drops counted as (or after) the viewer closes. */
  private readonly streamOf = new WeakMap<FlvViewer, LiveStream>();
  private readonly viewerSockets = new WeakSet<Duplex>();
  private readonly connectionIds = new WeakMap<Duplex, number>();
  private readonly sockets = new Set<net.Socket>();
  private readonly viewerCtx: FlvViewerContext;
  private nextConnectionId = 1;
  private timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | null = null;
  private accepted = 0;
  private rejected = 0;
  private requests = 0;
  private readonly closedByReason: Partial<Record<CloseKind, number>> = {};
  private readonly drops = newDropCounters();
  private readonly io: IoCounters = { writes: 0, messages: 0, readAllocatedBytes: 0 };
  private closedBytesOut = 0;

  constructor(ctx: HttpOutputContext) {
    const cfg = ctx.config;
    this.config = cfg;
    this.logger = ctx.logger;
    this.pool = ctx.pool;
    this.registry = ctx.registry;
    this.hls = new HlsOutputs(this);
    this.server = http.createServer(
      {
        maxHeaderSize: MAX_HEADER_BYTES,
        headersTimeout: cfg.handshakeTimeoutMs,
        requestTimeout: cfg.handshakeTimeoutMs,
        keepAliveTimeout: cfg.idleTimeoutMs,
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(cfg.handshakeTimeoutMs / 4))),
        noDelay: cfg.tcpNodelay,
      },
      (req, res) => this.onRequest(req, res),
    );
    this.server.maxConnections = cfg.httpMaxConnections;
    this.server.on('connection', (socket: net.Socket) => this.onConnection(socket));
    this.server.on('drop', () => this.rejected++);
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: WS_MAX_PAYLOAD_BYTES,
      clientTracking: false,
    });
    this.viewerCtx = {
      config: cfg,
      io: this.io,
      onDrop: (viewer, msg) => this.onDrop(viewer, msg),
      pendingConfig: (viewer) => this.viewers.get(viewer)?.configMessages(viewer.form) ?? [],
      onClose: (viewer, reason) => this.onViewerClosed(viewer, reason),
    };
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(new UsageError(`cannot listen on ${host}:${port} (HTTP): ${err.message}`));
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        this.timers.push(setInterval(() => this.sweep(), SWEEP_INTERVAL_MS));
        // Merged writes: FLV viewers are flushed on the same beat as RTMP players.
        if (this.config.mergeWriteMs > 0)
          this.timers.push(setInterval(() => this.flushAll(), this.config.mergeWriteMs));
        for (const t of this.timers) t.unref();
        const bound = (this.server.address() as net.AddressInfo).port;
        this.logger.info('http outputs', {
          url: `http://${host}:${bound}/`,
          flv: '/APP/STREAM.flv',
          hls: '/APP/STREAM/index.m3u8',
        });
        resolve(bound);
      });
    });
  }

  /** A stream started publishing (with HLS at all times, its muxing starts now). */
  onPublish(stream: LiveStream): void {
    if (this.closing === null) this.hls.onPublish(stream);
  }

  onDetached(outputs: StreamOutputs): void {
    if (this.outputs.get(outputs.key) === outputs) this.outputs.delete(outputs.key);
  }

  /** Viewers by protocol (RTMP left to the caller) and the HTTP outputs per stream. */
  viewerCounts(): Omit<ViewersByProtocol, 'rtmp'> {
    let httpFlv = 0;
    let wsFlv = 0;
    for (const o of this.outputs.values()) {
      httpFlv += o.viewers('http-flv');
      wsFlv += o.viewers('ws-flv');
    }
    return { httpFlv, wsFlv, hls: this.hls.viewers() };
  }

  stats(): HttpOutputStats {
    const streams = new Map<string, HttpStreamStats>();
    const entry = (key: string): HttpStreamStats => {
      let s = streams.get(key);
      if (s === undefined) {
        s = { key, httpFlv: 0, wsFlv: 0, hls: 0, hlsSegments: 0, hlsBytes: 0, hlsEnded: false };
        streams.set(key, s);
      }
      return s;
    };
    for (const o of this.outputs.values()) {
      const s = entry(o.key);
      s.httpFlv = o.viewers('http-flv');
      s.wsFlv = o.viewers('ws-flv');
    }
    for (const h of this.hls.streamStats()) Object.assign(entry(h.key), h);
    let flvBytesOut = this.closedBytesOut;
    const viewerDetails: HttpViewerStats[] = [];
    for (const v of this.viewers.keys()) {
      const bytesOut = v.bytesOut();
      flvBytesOut += bytesOut;
      viewerDetails.push({
        viewer: v.id,
        protocol: v.form,
        stream: v.key,
        remote: v.remote,
        queuedBytes: v.queue.queuedBytes,
        messagesSent: v.queue.messagesSent,
        bytesOut,
        drops: { ...v.queue.drops },
      });
    }
    return {
      connections: { open: this.sockets.size, accepted: this.accepted, rejected: this.rejected },
      requests: this.requests,
      responses: { ...this.responder.byStatus },
      closedByReason: { ...this.closedByReason },
      drops: { ...this.drops },
      io: { ...this.io },
      flvBytesOut,
      hls: this.hls.totals(),
      streams: [...streams.values()],
      viewerDetails,
    };
  }

  /**
   * Stops accepting; FLV viewers get what is queued and the end of their response (WebSocket:
   * close 1001), HLS stops; connections still open after a short drain are closed.
   */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = (async () => {
      for (const t of this.timers) clearInterval(t);
      this.timers = [];
      const closed = new Promise<void>((r) => this.server.close(() => r()));
      for (const o of [...this.outputs.values()]) o.closeViewers(closeReason('shutdown'), true);
      this.hls.close();
      this.server.closeIdleConnections();
      const deadline = Date.now() + CLOSE_DRAIN_MS;
      while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      this.server.closeAllConnections();
      for (const s of this.sockets) s.destroy();
      await closed;
    })();
    return this.closing;
  }

  private onConnection(socket: net.Socket): void {
    this.accepted++;
    this.sockets.add(socket);
    this.connectionIds.set(socket, this.nextConnectionId++);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests++;
    const method = req.method;
    if (method === 'OPTIONS') {
      this.respond(res, 204, PREFLIGHT_HEADERS);
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      this.respond(res, 405, { ...TEXT_HEADERS, allow: 'GET, HEAD, OPTIONS' }, 'method not allowed\n');
      return;
    }
    const route = parseRoute(req.url);
    if (route.kind === 'unknown') {
      this.respond(res, 404, TEXT_HEADERS, 'not found: try /APP/STREAM.flv or /APP/STREAM/index.m3u8\n');
      return;
    }
    if (!this.tokenAccepted(route)) {
      this.respond(res, 403, TEXT_HEADERS, 'play token missing or wrong\n');
      return;
    }
    if (this.closing !== null) {
      this.respond(res, 503, { ...TEXT_HEADERS, connection: 'close' }, 'shutting down\n');
      return;
    }
    switch (route.kind) {
      case 'flv':
        this.serveFlv(req, res, route.key);
        return;
      case 'playlist':
        this.hls.servePlaylist(res, route.key, route.query, this.connectionIds.get(req.socket) ?? 0);
        return;
      case 'segment':
        this.hls.serveSegment(req, res, route.key, route.name);
        return;
      case 'part':
        this.hls.servePart(req, res, route.key, route);
        return;
    }
  }

  private serveFlv(req: http.IncomingMessage, res: http.ServerResponse, key: string): void {
    if (this.publishedStream(key) === null) {
      this.respond(res, 404, TEXT_HEADERS, `${key} is not being published\n`);
      return;
    }
    if (req.method === 'HEAD') {
      this.respond(res, 200, FLV_HEADERS);
      return;
    }
    this.responder.count(200);
    // The body is the FLV stream, delimited by the end of the connection (no chunked framing).
    res.removeHeader('transfer-encoding');
    res.writeHead(200, FLV_HEADERS);
    res.flushHeaders();
    const socket = req.socket;
    this.viewerSockets.add(socket);
    // The viewer's queue takes over the socket once the headers are handed to it.
    socket.write(EMPTY, () => this.attachViewer(socket, 'http-flv', key));
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    this.requests++;
    socket.on('error', () => socket.destroy());
    const route = parseRoute(req.url);
    const websocket = (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    if (!websocket || route.kind !== 'flv' || req.method !== 'GET') {
      this.responder.raw(socket, 404);
      return;
    }
    if (!this.tokenAccepted(route)) {
      this.responder.raw(socket, 403);
      return;
    }
    if (this.closing !== null || this.publishedStream(route.key) === null) {
      this.responder.raw(socket, this.closing !== null ? 503 : 404);
      return;
    }
    this.viewerSockets.add(socket);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.responder.count(101);
      // The viewer closes on the socket's own events; ws reports protocol errors here too.
      ws.on('error', () => {});
      const s = socket as net.Socket;
      s.write(EMPTY, () => this.attachViewer(s, 'ws-flv', route.key));
    });
  }

  private attachViewer(socket: net.Socket, form: FlvForm, key: string): void {
    const stream = this.publishedStream(key);
    if (socket.destroyed || this.closing !== null || stream === null) {
      // Gone, or the stream ended between the headers and now: the response ends empty.
      socket.end();
      return;
    }
    const outputs = this.outputsFor(stream);
    const viewer = new FlvViewer(socket, form, key, this.viewerCtx);
    this.viewers.set(viewer, outputs);
    this.streamOf.set(viewer, stream);
    outputs.addViewer(viewer);
    this.logger.info('play', { viewer: viewer.id, protocol: form, stream: key, remote: viewer.remote });
  }

  private onViewerClosed(viewer: FlvViewer, reason: CloseReason): void {
    const outputs = this.viewers.get(viewer);
    if (outputs === undefined) return;
    this.viewers.delete(viewer);
    outputs.removeViewer(viewer);
    this.closedBytesOut += viewer.bytesOut();
    const kind = reason.kind;
    this.closedByReason[kind] = (this.closedByReason[kind] ?? 0) + 1;
    const level = kind === 'peer-closed' || kind === 'shutdown' || kind === 'unpublished' ? 'debug' : 'info';
    this.logger[level]('viewer closed', {
      viewer: viewer.id,
      protocol: viewer.form,
      remote: viewer.remote,
      reason: formatCloseReason(reason),
    });
  }

  private onDrop(viewer: FlvViewer, msg: SharedMessage): void {
    this.streamOf.get(viewer)?.countDrop(msg);
    const d = this.drops;
    if (isVideoFrame(msg.cls)) d.video++;
    else if (msg.cls === MessageClass.AUDIO) d.audio++;
    else d.data++;
    d.bytes += msg.byteLength;
  }

  outputsFor(stream: LiveStream): StreamOutputs {
    let o = this.outputs.get(stream.key);
    if (o === undefined || o.stream !== stream) {
      o = new StreamOutputs(stream, this);
      this.outputs.set(stream.key, o);
    }
    return o;
  }

  outputsOf(key: string): StreamOutputs | undefined {
    return this.outputs.get(key);
  }

  publishedStream(key: string): LiveStream | null {
    const s = this.registry.get(key);
    return s?.publishing ? s : null;
  }

  private tokenAccepted(route: Exclude<Route, { kind: 'unknown' }>): boolean {
    const required = this.config.playToken;
    return required === undefined || route.query.get('token') === required;
  }

  private sweep(): void {
    this.hls.sweep();
  }

  private flushAll(): void {
    for (const o of this.outputs.values()) o.flush();
  }

  private respond(
    res: http.ServerResponse,
    status: number,
    headers: Readonly<Record<string, string>>,
    body?: string | Buffer,
  ): void {
    this.responder.respond(res, status, headers, body);
  }

  /** A request Node could not parse (garbage, too large a head, too slow): a status and a close. */
  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    if (err.code === 'ECONNRESET' || !socket.writable || this.viewerSockets.has(socket)) {
      // Nothing to answer, or an FLV viewer whose body is under way: just close.
      socket.destroy();
      return;
    }
    this.responder.raw(
      socket,
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400,
    );
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}
