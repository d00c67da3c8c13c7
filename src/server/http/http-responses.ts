import http from 'node:http';
import type { Duplex } from 'node:stream';

/** Every response may be read from any page (CORS). */
const CORS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'content-length, date' } as const;
export const PREFLIGHT_HEADERS = {
  ...CORS,
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-allow-headers': 'range, cache-control, content-type',
  'access-control-max-age': '86400',
} as const;
/** The FLV stream is the body, to the end of the connection. */
export const FLV_HEADERS = {
  ...CORS,
  'content-type': 'video/x-flv',
  'cache-control': 'no-cache',
  connection: 'close',
} as const;
export const PLAYLIST_HEADERS = {
  ...CORS,
  'content-type': 'application/vnd.apple.mpegurl',
  'cache-control': 'no-cache',
} as const;
/** A segment's name never comes back with other bytes (names carry the publication): cacheable for good. */
export const SEGMENT_HEADERS = {
  ...CORS,
  'content-type': 'video/mp2t',
  'cache-control': 'public, max-age=31536000, immutable',
} as const;
export const TEXT_HEADERS = {
  ...CORS,
  'content-type': 'text/plain; charset=utf-8',
  'cache-control': 'no-cache',
} as const;

/** Answers requests and counts every status it gives, for `/stats`. */
export class Responder {
  readonly byStatus: Record<string, number> = {};

  count(status: number): void {
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
  }

  /** A whole response: status, headers, an optional short body. */
  respond(
    res: http.ServerResponse,
    status: number,
    headers: Readonly<Record<string, string>>,
    body?: string | Buffer,
  ): void {
    this.count(status);
    res.writeHead(status, { ...headers, 'content-length': body === undefined ? 0 : Buffer.byteLength(body) });
    res.end(body);
  }

  /**
   * A status written straight to a socket Node's HTTP server has let go of (an upgrade) or cannot
   * answer (a request it could not parse), then the end of the connection.
   */
  raw(socket: Duplex, status: number): void {
    this.count(status);
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\n` +
        `content-length: 0\r\naccess-control-allow-origin: *\r\n\r\n`,
    );
  }
}
