import type { BufferPoolStats } from '../buffers/buffer-pool.js';
import type { ServerConfig } from './config.js';
import type { HttpOutputStats, ViewersByProtocol } from './http/http-stats.js';
import type { StreamStats } from './live-stream.js';
import type { DropCounters, IoCounters } from './send-queue.js';

/** One player in `/stats`. */
export interface PlayerStats {
  session: number;
  stream: string;
  remote: string;
  queuedBytes: number;
  /** How far behind live the player was at its last answer to a lag probe, ms (0 without probes). */
  lagMs: number;
  messagesSent: number;
  bytesOut: number;
  drops: DropCounters;
}

/** What `GET /stats` returns (and `RtmpServer.getStats()`): the server's state and counters. */
export interface ServerStats {
  uptimeSeconds: number;
  settings: Pick<ServerConfig, 'chunkSize' | 'gopCache' | 'backpressure' | 'maxQueuedBytes' | 'mergeWriteMs'>;
  connections: {
    open: number;
    accepted: number;
    rejected: number;
    /**
     * Connections closed since the start, by close kind (a `CloseKind`; JSON readers may meet kinds
     * they do not know).
     */
    closedByReason: Record<string, number>;
  };
  publishers: number;
  /** RTMP players. */
  players: number;
  /** Viewers by protocol (RTMP players included). */
  viewers: ViewersByProtocol;
  bytesIn: number;
  bytesOut: number;
  drops: DropCounters;
  gopCacheBytes: number;
  streams: StreamStats[];
  playerDetails: PlayerStats[];
  pool: BufferPoolStats;
  /**
   * Bytes of unfinished messages held by all connections (declared lengths, see intake.ts): now,
   * the most at once since the start, and the bound.
   */
  reassembly: { heldBytes: number; peakBytes: number; maxBytes: number };
  /** Write calls (a corked batch is one) and the media/control messages in them, since the start. */
  io: IoCounters;
  /** The HTTP outputs (HTTP-FLV, WebSocket-FLV, HLS), when an HTTP port is set. */
  http?: HttpOutputStats;
  process: {
    /** Garbage collections since the server started, by kind, and their total time. */
    gc: { minor: number; major: number; incremental: number; ms: number };
    cpuSeconds: number;
    rssBytes: number;
    maxRssBytes: number;
    heapUsedBytes: number;
  };
}
