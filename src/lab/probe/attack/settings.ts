import type { ProbeTarget } from '../connection.js';

/**
 * The bounds of every attack a resilience probe makes, and what it attacks besides the RTMP URL.
 * An attack stops at the first bound it reaches: its time, its connections, its bytes (each
 * probe's own, from these), or the server's RSS grown past `rssBoundBytes` over its RSS before
 * the attack — so a server that does not bound what a peer costs cannot take the machine with it.
 */
export interface AttackSettings {
  /** The server's process (or process group): its RSS, descriptors and CPU are read from /proc. */
  server: { pid: number; group: boolean } | null;
  /** RSS growth over the RSS before the attack at which the attack stops (bytes). */
  rssBoundBytes: number;
  /** Most connections one attack opens. */
  connections: number;
  /** How long one attack runs at most (the default outlasts the 5 s a server commonly gives a handshake). */
  durationMs: number;
  /** Wait after the attack's connections closed before the "after" sample. */
  settleMs: number;
  /** The server's RTMPS endpoint (TLS attacks are n/a without one). */
  tls: ProbeTarget | null;
  /**
   * The server's HTTP outputs, by kind: URL templates in which `{stream}` stands for the stream
   * name (the HTTP attacks are n/a for a kind that is absent).
   */
  http: Partial<Record<HttpOutputKind, string>>;
}

/**
 * HTTP outputs the attacks know: HTTP-FLV streams, HLS playlists, and LL-HLS playlists whose
 * reloads block (`_HLS_msn`, `_HLS_part`: held by the server until the part exists).
 */
export const HTTP_OUTPUT_KINDS = ['http-flv', 'hls', 'll-hls'] as const;
export type HttpOutputKind = (typeof HTTP_OUTPUT_KINDS)[number];

export const DEFAULT_ATTACK: AttackSettings = {
  server: null,
  rssBoundBytes: 256 * 1024 * 1024,
  connections: 300,
  durationMs: 8000,
  settleMs: 1000,
  tls: null,
  http: {},
};

/** How long an attack probe may take in all: set-up, the attack, the settle wait and the checks. */
export function attackLimitMs(s: AttackSettings, waitMs: number): number {
  return s.durationMs + s.settleMs + 6 * waitMs + 5000;
}
