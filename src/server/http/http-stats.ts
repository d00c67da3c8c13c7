import type { DropCounters, IoCounters } from '../send-queue.js';

/** Viewers by protocol, as `/stats` and `/metrics` count them. */
export interface ViewersByProtocol {
  rtmp: number;
  httpFlv: number;
  wsFlv: number;
  /** Connections that read an HLS playlist within the last three target durations. */
  hls: number;
}

/** The HTTP outputs of one stream in `/stats`. */
export interface HttpStreamStats {
  key: string;
  httpFlv: number;
  wsFlv: number;
  hls: number;
  hlsSegments: number;
  hlsBytes: number;
  hlsEnded: boolean;
}

/** One HTTP-FLV or WebSocket-FLV viewer in `/stats`. */
export interface HttpViewerStats {
  viewer: number;
  protocol: 'http-flv' | 'ws-flv';
  stream: string;
  remote: string;
  queuedBytes: number;
  messagesSent: number;
  bytesOut: number;
  drops: DropCounters;
}

/** The HLS outputs' totals: streams, segments held and their bytes, what memory bounds cost. */
export interface HlsTotals {
  streams: number;
  segments: number;
  bytes: number;
  maxBytes: number;
  /** Segments freed before their time because memory was short. */
  evictions: number;
  /** Segments given up because they outgrew the memory bounds. */
  overflows: number;
  /** LL-HLS requests held now (blocking playlist reloads, preload-hinted parts, first-segment waits). */
  held: number;
  /** Requests refused with 503 because `hlsMaxHeldRequests` were held. */
  heldRefused: number;
}

/** The HTTP outputs in `/stats` (present when `httpPort` is set). */
export interface HttpOutputStats {
  connections: { open: number; accepted: number; rejected: number };
  requests: number;
  /** Responses by status (statuses Node gave for requests it could not parse included). */
  responses: Record<string, number>;
  /** FLV viewers closed since the start, by close kind. */
  closedByReason: Record<string, number>;
  /** What FLV viewers' queues dropped (also counted in the streams' drops). */
  drops: DropCounters;
  /** Write calls and messages handed to FLV viewers' sockets. */
  io: IoCounters;
  /** Bytes written to FLV viewers, closed ones included. */
  flvBytesOut: number;
  hls: HlsTotals;
  streams: HttpStreamStats[];
  viewerDetails: HttpViewerStats[];
}
