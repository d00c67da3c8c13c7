import { readFileSync } from 'node:fs';
import net from 'node:net';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import tls from 'node:tls';
import { BufferPool } from '../buffers/buffer-pool.js';
import { UsageError } from '../input/usage-error.js';
import { closeReason, formatCloseReason, type CloseKind, type CloseReason } from './close-reason.js';
import { flushesPerRead, type ServerConfig } from './config.js';
import { ReassemblyBudget } from './intake.js';
import { HttpOutputServer } from './http/http-output-server.js';
import { updateCoarseClock } from './coarse-clock.js';
import { PROBE_TICK_MS } from './lag-probe.js';
import { createLogger, type Logger } from './logger.js';
import type { IoCounters } from './send-queue.js';
import type { PlayerStats, ServerStats } from './server-stats.js';
import { Session, sourceAddress, type SessionContext } from './session.js';
import { StatsHttpServer } from './stats-http.js';
import { adoptWithSharedReads, SHARED_READ_BYTES } from './shared-reads.js';
import { StreamRegistry } from './stream-registry.js';

/** Bytes Node may buffer in a player's socket before write() asks us to wait. */
const SOCKET_HIGH_WATER_MARK = 64 * 1024;
const SWEEP_INTERVAL_MS = 1000;

export type { ServerStats } from './server-stats.js';

export interface ListenAddresses {
  host: string;
  port: number;
  tlsPort?: number;
  statsPort?: number;
  httpPort?: number;
}

/**
 * The built-in RTMP server: accept loop with a connection limit, sessions, the stream
 * registry, periodic sweeps (idle peers, pings, merged-write flushes) and the stats endpoint.
 */
export class RtmpServer {
  readonly config: ServerConfig;
  readonly logger: Logger;
  readonly pool: BufferPool;
  readonly registry: StreamRegistry;
  private readonly sessions = new Set<Session>();
  /** Open connections by source address (only with a per-address limit). */
  private readonly perAddress = new Map<string, number>();
  /** Bytes of unfinished messages held by all connections, and their bound. */
  readonly reassembly: ReassemblyBudget;
  /** Sockets of closed sessions still flushing their last bytes (graceful close). */
  private readonly draining = new Set<net.Socket>();
  private readonly servers: net.Server[] = [];
  private stats: StatsHttpServer | null = null;
  private http: HttpOutputServer | null = null;
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAtMs = performance.now();
  private accepted = 0;
  private rejected = 0;
  private readonly closedByReason: Partial<Record<CloseKind, number>> = {};
  private closedBytesIn = 0;
  private closedBytesOut = 0;
  private closing: Promise<void> | null = null;
  private readonly ctx: SessionContext;
  /** Write calls and messages handed to the kernel, over all sessions since the start. */
  private readonly io: IoCounters = { writes: 0, messages: 0, readAllocatedBytes: 0 };
  /** One read buffer for every plain connection (see shared-reads.ts). */
  private readonly readBuffer = Buffer.allocUnsafeSlow(SHARED_READ_BYTES);
  /** Garbage collections of this process since the server started (a performance observer). */
  private readonly gc = { minor: 0, major: 0, incremental: 0, ms: 0 };
  private gcObserver: PerformanceObserver | null = null;

  constructor(config: ServerConfig, logger?: Logger) {
    this.config = config;
    this.logger = logger ?? createLogger(config.logLevel);
    this.pool = new BufferPool({ maxHeldBytes: config.poolMaxBytes });
    this.registry = new StreamRegistry({
      chunkSize: config.chunkSize,
      batched: config.mergeWriteMs > 0 || config.batchReads,
      flushPerRead: flushesPerRead(config),
      gopCache: config.gopCache,
      gopCacheMaxFrames: config.gopCacheMaxFrames,
      gopCacheMaxBytes: config.gopCacheMaxBytes,
      pool: this.pool,
      onPublish: (stream) => this.http?.onPublish(stream),
    });
    this.reassembly = new ReassemblyBudget(config.maxServerPartialBytes);
    this.ctx = {
      config,
      reassembly: this.reassembly,
      pool: this.pool,
      logger: this.logger,
      registry: this.registry,
      io: this.io,
      onClose: (s, reason) => this.onSessionClosed(s, reason),
    };
  }

  private observeGc(): void {
    const { NODE_PERFORMANCE_GC_MAJOR, NODE_PERFORMANCE_GC_MINOR, NODE_PERFORMANCE_GC_INCREMENTAL } = constants;
    this.gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
        if (kind === NODE_PERFORMANCE_GC_MAJOR) this.gc.major++;
        else if (kind === NODE_PERFORMANCE_GC_MINOR) this.gc.minor++;
        else if (kind === NODE_PERFORMANCE_GC_INCREMENTAL) this.gc.incremental++;
        this.gc.ms += e.duration;
      }
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  async listen(): Promise<ListenAddresses> {
    const cfg = this.config;
    const onSocket = (socket: net.Socket) => this.accept(socket);
    // With shared reads, sockets arrive paused and are moved into sockets that read into one buffer.
    const plain = net.createServer(
      { noDelay: cfg.tcpNodelay, highWaterMark: SOCKET_HIGH_WATER_MARK, pauseOnConnect: cfg.sharedReads },
      (socket) => this.accept(socket, cfg.sharedReads),
    );
    const port = await listenOn(plain, cfg.host, cfg.port);
    this.servers.push(plain);
    const addresses: ListenAddresses = { host: cfg.host, port };
    if (cfg.tlsPort !== undefined) {
      let cert: Buffer;
      let key: Buffer;
      try {
        cert = readFileSync(cfg.tlsCert!);
        key = readFileSync(cfg.tlsKey!);
      } catch (e) {
        await this.close();
        throw new UsageError(`cannot read the TLS certificate or key: ${(e as Error).message}`);
      }
      // A TLS handshake gets the RTMP handshake's time in all (Node's handshakeTimeout is an idle
      // timeout, which a peer sending a byte a second never meets), and connections still in it
      // count against maxConnections with the others.
      const inHandshake = new Map<string, NodeJS.Timeout>();
      const peer = (s: net.Socket) => `${s.remoteAddress}:${s.remotePort}`;
      const secure = tls.createServer({ cert, key, highWaterMark: SOCKET_HIGH_WATER_MARK } as tls.TlsOptions, (s) => {
        clearTimeout(inHandshake.get(peer(s)));
        inHandshake.delete(peer(s));
        s.setNoDelay(cfg.tcpNodelay);
        onSocket(s);
      });
      secure.maxConnections = cfg.maxConnections;
      secure.on('connection', (raw: net.Socket) => {
        const key = peer(raw);
        const timer = setTimeout(() => {
          inHandshake.delete(key);
          raw.destroy();
        }, cfg.handshakeTimeoutMs);
        timer.unref();
        inHandshake.set(key, timer);
        raw.once('close', () => {
          if (inHandshake.get(key) === timer) {
            clearTimeout(timer);
            inHandshake.delete(key);
          }
        });
      });
      secure.on('tlsClientError', (err) => this.logger.info('tls handshake failed', { error: err.message }));
      addresses.tlsPort = await listenOn(secure, cfg.host, cfg.tlsPort);
      this.servers.push(secure);
    }
    if (cfg.statsPort !== undefined) {
      this.stats = new StatsHttpServer(() => this.getStats());
      addresses.statsPort = await this.stats.listen(cfg.statsHost ?? cfg.host, cfg.statsPort);
    }
    if (cfg.httpPort !== undefined) {
      this.http = new HttpOutputServer({ config: cfg, logger: this.logger, pool: this.pool, registry: this.registry });
      addresses.httpPort = await this.http.listen(cfg.host, cfg.httpPort);
    }
    this.observeGc();
    this.timers.push(setInterval(() => this.sweep(), SWEEP_INTERVAL_MS));
    if (cfg.pingIntervalMs > 0) this.timers.push(setInterval(() => this.pingAll(), cfg.pingIntervalMs));
    if (cfg.maxLagMs > 0) this.timers.push(setInterval(() => this.probeAll(), PROBE_TICK_MS));
    if (cfg.mergeWriteMs > 0) this.timers.push(setInterval(() => this.flushAll(), cfg.mergeWriteMs));
    for (const t of this.timers) t.unref();
    return addresses;
  }

  private accept(socket: net.Socket, shared = false): void {
    if (shared) {
      let session: Session | null = null;
      const adopted = adoptWithSharedReads(socket, this.readBuffer, SOCKET_HIGH_WATER_MARK, (chunk) =>
        session?.receive(chunk),
      );
      if (adopted === null) {
        socket.resume();
      } else {
        session = this.startSession(adopted) ?? null;
        return;
      }
    }
    this.startSession(socket);
  }

  /** Starts a session on an accepted socket (or refuses it); returns the session. */
  private startSession(socket: net.Socket): Session | undefined {
    if (this.closing !== null || this.sessions.size >= this.config.maxConnections) {
      this.rejected++;
      this.logger.warn('connection refused', {
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
        reason: this.closing ? 'shutting down' : `limit of ${this.config.maxConnections} connections`,
      });
      socket.destroy();
      return;
    }
    const perAddress = this.config.maxConnectionsPerAddress;
    if (perAddress > 0) {
      const address = sourceAddress(socket);
      const open = this.perAddress.get(address) ?? 0;
      if (open >= perAddress) {
        this.rejected++;
        this.logger.warn('connection refused', {
          remote: `${socket.remoteAddress}:${socket.remotePort}`,
          reason: `limit of ${perAddress} connections from ${address}`,
        });
        socket.destroy();
        return;
      }
      this.perAddress.set(address, open + 1);
    }
    this.accepted++;
    const session = new Session(socket, this.ctx);
    this.sessions.add(session);
    this.logger.debug('connection', { session: session.id, remote: session.remote });
    return session;
  }

  private onSessionClosed(session: Session, reason: CloseReason): void {
    if (!this.sessions.delete(session)) return;
    if (this.config.maxConnectionsPerAddress > 0) {
      const address = session.address;
      const open = (this.perAddress.get(address) ?? 1) - 1;
      if (open > 0) this.perAddress.set(address, open);
      else this.perAddress.delete(address);
    }
    const socket = session.socket;
    if (!socket.destroyed) {
      this.draining.add(socket);
      socket.once('close', () => this.draining.delete(socket));
    }
    this.closedBytesIn += session.bytesIn();
    this.closedBytesOut += session.bytesOut();
    const kind = reason.kind;
    this.closedByReason[kind] = (this.closedByReason[kind] ?? 0) + 1;
    const level = kind === 'peer-closed' || kind === 'shutdown' ? 'debug' : 'info';
    this.logger[level]('connection closed', {
      session: session.id,
      remote: session.remote,
      role: session.role,
      reason: formatCloseReason(reason),
    });
  }

  /** Closes peers that went quiet: no bytes for idleTimeoutMs, or a publisher without media. */
  private sweep(): void {
    const now = performance.now();
    const idle = this.config.idleTimeoutMs;
    for (const s of this.sessions) {
      if (now - s.lastReceiveMs > idle) {
        s.close(closeReason('idle', `nothing received for ${idle} ms`));
        continue;
      }
      const published = s.publishedStream();
      if (published !== null && now - published.lastMediaAtMs > idle) {
        s.close(closeReason('publisher-idle', `no media for ${idle} ms`));
      }
    }
  }

  /** Lag probes: players that have had no ping for a while get one with their next write. */
  private probeAll(): void {
    const now = updateCoarseClock();
    for (const s of this.sessions) if (s.role === 'player') s.queue.probeTick(now);
  }

  private pingAll(): void {
    for (const s of this.sessions) s.ping();
  }

  private flushAll(): void {
    for (const stream of this.registry.values()) stream.flushBatch();
    for (const s of this.sessions) if (s.queue.pending) s.queue.flush();
  }

  getStats(): ServerStats {
    let bytesIn = this.closedBytesIn;
    let bytesOut = this.closedBytesOut;
    const playerDetails: PlayerStats[] = [];
    let publishers = 0;
    for (const s of this.sessions) {
      bytesIn += s.bytesIn();
      bytesOut += s.bytesOut();
      if (s.publishedStream() !== null) publishers++;
      const played = s.playedStream();
      if (played !== null) {
        playerDetails.push({
          session: s.id,
          stream: played.key,
          remote: s.remote,
          queuedBytes: s.queue.queuedBytes,
          lagMs: Math.round(s.queue.lag?.lastLagMs ?? 0),
          messagesSent: s.queue.messagesSent,
          bytesOut: s.bytesOut(),
          drops: { ...s.queue.drops },
        });
      }
    }
    const streams = [...this.registry.values()].map((st) => st.stats());
    // Since the server started: streams that are gone included.
    const drops = { ...this.registry.retiredDrops };
    let gopCacheBytes = 0;
    for (const st of streams) {
      drops.video += st.drops.video;
      drops.audio += st.drops.audio;
      drops.data += st.drops.data;
      drops.bytes += st.drops.bytes;
      gopCacheBytes += st.gopCacheBytes;
    }
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    const cfg = this.config;
    return {
      uptimeSeconds: (performance.now() - this.startedAtMs) / 1000,
      settings: {
        chunkSize: cfg.chunkSize,
        gopCache: cfg.gopCache,
        backpressure: cfg.backpressure,
        maxQueuedBytes: cfg.maxQueuedBytes,
        mergeWriteMs: cfg.mergeWriteMs,
      },
      connections: {
        open: this.sessions.size,
        accepted: this.accepted,
        rejected: this.rejected,
        closedByReason: { ...this.closedByReason },
      },
      publishers,
      players: playerDetails.length,
      viewers: { rtmp: playerDetails.length, ...(this.http?.viewerCounts() ?? { httpFlv: 0, wsFlv: 0, hls: 0 }) },
      ...(this.http !== null ? { http: this.http.stats() } : {}),
      bytesIn,
      bytesOut,
      drops,
      gopCacheBytes,
      streams,
      playerDetails,
      pool: this.pool.stats(),
      reassembly: {
        heldBytes: this.reassembly.heldBytes,
        peakBytes: this.reassembly.peakBytes,
        maxBytes: this.reassembly.maxBytes,
      },
      io: { ...this.io },
      process: {
        gc: { ...this.gc, ms: Math.round(this.gc.ms * 10) / 10 },
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        rssBytes: mem.rss,
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
        heapUsedBytes: mem.heapUsed,
      },
    };
  }

  /**
   * Stops accepting, tells players the stream ended (StreamEOF, UnpublishNotify), lets queued
   * bytes drain for up to `drainMs`, then closes every socket.
   */
  close(drainMs = 1000): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = (async () => {
      for (const t of this.timers) clearInterval(t);
      this.timers = [];
      this.gcObserver?.disconnect();
      const closed = Promise.all(this.servers.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
      const httpClosed = this.http?.close();
      for (const stream of this.registry.values()) stream.stopPublishing();
      for (const s of this.sessions) s.close(closeReason('shutdown'), true);
      const deadline = Date.now() + drainMs;
      while (this.draining.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const socket of this.draining) socket.destroy();
      this.registry.disposeAll();
      await this.stats?.close();
      await httpClosed;
      await closed;
    })();
    return this.closing;
  }
}

function listenOn(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new UsageError(`cannot listen on ${host}:${port}: ${err.message}`));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
