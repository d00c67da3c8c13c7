import type { TimingMark } from '../media/timing-mark.js';
import type { ClientClose } from './errors.js';

/**
 * What every simulated viewer reports, whatever its protocol, so the load generator measures
 * RTMP, HTTP-FLV, WebSocket-FLV and HLS viewers the same way: a callback per video frame, and
 * live timings and counters it reads when it likes (ticks, the end of a run).
 */

import type { ViewerProtocol } from '../protocol/delivery.js';

/** One video frame as a viewer got it. The object is reused between calls: copy what you keep. */
export interface ViewerFrame {
  /**
   * Monotonic µs when the frame's bytes had arrived: the read that completed it (RTMP,
   * HTTP-FLV, WS-FLV), or the end of its segment's download (HLS).
   */
  arrivalUs: number;
  /** The stream's timestamp of the frame in ms (FLV/RTMP timestamp, or PTS/decode time for HLS). */
  timestampMs: number;
  keyframe: boolean;
  /** The frame's timing mark, or null when the publisher sent none. */
  mark: TimingMark | null;
}

export type FrameSink = (frame: ViewerFrame) => void;

/** Monotonic µs of a viewer's start-up steps; 0 until the step happened. */
export interface ViewerTimings {
  /** `open()` was called. */
  openUs: number;
  /** The (first) connection was up: TCP, and TLS when used. */
  connectedUs: number;
  /** The play request went out: RTMP `play`, the HTTP GET, the WebSocket upgrade, the first playlist request. */
  requestUs: number;
  /**
   * The server accepted: NetStream.Play.Start, HTTP response headers, WebSocket open, HLS first media
   * playlist read.
   */
  startedUs: number;
  firstFrameUs: number;
  firstKeyframeUs: number;
}

export interface ViewerCounters {
  videoFrames: number;
  keyframes: number;
  audioFrames: number;
  /** Frames that carried a timing mark. */
  marks: number;
  /** From the marks' sequence numbers. */
  lost: number;
  duplicated: number;
  outOfOrder: number;
  /** Audio/video payload bytes (tag data, elementary stream or sample bytes). */
  mediaBytes: number;
  /** Bytes read from the network: HTTP bodies, WebSocket messages, RTMP socket reads. */
  bytesReceived: number;
}

/** The narrow shape every viewer (RTMP `Player` included) offers the generator. */
export interface Viewer {
  readonly protocol: ViewerProtocol;
  readonly timings: ViewerTimings;
  readonly counters: ViewerCounters;
  /** Each video frame, called synchronously as it is read (HLS: when its segment completes). */
  onFrame: FrameSink | null;
  /** Once, when the viewer stops: kind `local` after `close()`, else why it ended. Not when `open` rejects. */
  onEnd: ((end: ClientClose) => void) | null;
  readonly closed: boolean;
  close(): void;
}

export function newViewerTimings(openUs = 0): ViewerTimings {
  return { openUs, connectedUs: 0, requestUs: 0, startedUs: 0, firstFrameUs: 0, firstKeyframeUs: 0 };
}

export function newViewerCounters(): ViewerCounters {
  return {
    videoFrames: 0,
    keyframes: 0,
    audioFrames: 0,
    marks: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    mediaBytes: 0,
    bytesReceived: 0,
  };
}

/** Options every viewer takes. */
export interface ViewerOptions {
  /** http(s):// for HTTP-FLV and HLS, ws(s):// for WebSocket-FLV. */
  url: string;
  /** Deadline for connecting and the server's first answer, in ms (default 10 s). */
  timeoutMs?: number;
  /** Accept any TLS certificate (self-signed test servers). */
  insecure?: boolean;
  /** Source address of the viewer's connections. */
  localAddress?: string;
  /** Set before the request goes out, so no frame is missed. */
  onFrame?: FrameSink;
  /** Set before the request goes out, so no ending is missed (see `Viewer.onEnd`). */
  onEnd?: (end: ClientClose) => void;
}

export const DEFAULT_VIEWER_TIMEOUT_MS = 10_000;
