import type { ErrorCode } from '../protocol/errors.js';

/**
 * Why the server closed a connection. The kind is public: it is what `/stats` counts in
 * `connections.closedByReason` and what run summaries report, so each kind keeps its spelling.
 * Connections closed for a protocol or limit error are counted by the error's code.
 */
export const CLOSE_KINDS = [
  /** The peer hung up (or reset the connection while we wrote). */
  'peer-closed',
  'socket-error',
  'handshake-timeout',
  /** Nothing received for the idle timeout. */
  'idle',
  /** A publisher that sent no media for the idle timeout. */
  'publisher-idle',
  /** A player that stayed over its queue bound (policy `disconnect`). */
  'slow-player',
  'bad-publish',
  'bad-play',
  'publish-unauthorized',
  'play-unauthorized',
  'duplicate-publisher',
  /** Before `connect`, a message other than a command or control message (see intake.ts). */
  'message-before-connect',
  /** Audio, video or an aggregate from a peer that has not published. */
  'media-before-publish',
  /** Before publishing, a message above `maxCommandBytes`. */
  'command-too-large',
  /** This peer's unfinished messages would pass its bound (`maxCommandBytes`, or `maxPartialBytes` once it published). */
  'partial-bytes-limit',
  /** All peers' unfinished messages would pass `maxServerPartialBytes`. */
  'server-partial-bytes-limit',
  /**
   * A peer that asks (commands, pings) and does not read the answers: what waits for it passed
   * twice `maxQueuedBytes` (media alone never passes one: the backpressure policy drops it).
   */
  'unread-replies',
  /** An HTTP-FLV or WebSocket-FLV viewer whose stream's publisher stopped (the response ends). */
  'unpublished',
  /** The server is stopping. */
  'shutdown',
  /** A bug of ours surfaced while handling this connection. */
  'internal-error',
] as const;

export type CloseKind = (typeof CLOSE_KINDS)[number] | ErrorCode;

export interface CloseReason {
  readonly kind: CloseKind;
  /** What was seen, for the log line (may be empty). */
  readonly detail: string;
}

export function closeReason(kind: CloseKind, detail = ''): CloseReason {
  return { kind, detail };
}

/** `kind: detail`, or the kind alone: the form log lines show. */
export function formatCloseReason(r: CloseReason): string {
  return r.detail === '' ? r.kind : `${r.kind}: ${r.detail}`;
}
