/**
 * What an HTTP request asks for, from its path: a stream is named `app/name` as RTMP names it
 * (either part may hold slashes; the last path element says what is asked for):
 *
 * - `/{app}/{name}.flv`: the stream as HTTP-FLV (or WebSocket-FLV, with an upgrade);
 * - `/{app}/{name}/index.m3u8`: its HLS media playlist;
 * - `/{app}/{name}/{segment}.ts`: one of its segments;
 * - `/{app}/{name}/{segment}.{index}.ts`: one of a segment's parts (LL-HLS).
 */
export type Route =
  | { kind: 'flv'; key: string; query: URLSearchParams }
  | { kind: 'playlist'; key: string; query: URLSearchParams }
  | { kind: 'segment'; key: string; name: string; query: URLSearchParams }
  | { kind: 'part'; key: string; publication: string; msn: number; index: number; query: URLSearchParams }
  | { kind: 'unknown' };

const UNKNOWN: Route = { kind: 'unknown' };
const PLAYLIST_NAME = 'index.m3u8';
const SEGMENT_NAME = /^[0-9a-z]+-\d+\.ts$/;
const PART_NAME = /^([0-9a-z]+)-(\d{1,15})\.(\d{1,6})\.ts$/;

export function parseRoute(url: string | undefined): Route {
  if (url === undefined || url[0] !== '/') return UNKNOWN;
  const q = url.indexOf('?');
  let path: string;
  try {
    path = decodeURIComponent(q < 0 ? url : url.slice(0, q));
  } catch {
    return UNKNOWN;
  }
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const parts = path.slice(1).split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))) return UNKNOWN;
  const last = parts[parts.length - 1]!;
  if (parts.length >= 2 && last.endsWith('.flv') && last.length > 4) {
    return { kind: 'flv', key: `${parts.slice(0, -1).join('/')}/${last.slice(0, -4)}`, query };
  }
  if (parts.length < 3) return UNKNOWN;
  const key = parts.slice(0, -1).join('/');
  if (last === PLAYLIST_NAME) return { kind: 'playlist', key, query };
  if (SEGMENT_NAME.test(last)) return { kind: 'segment', key, name: last, query };
  const part = PART_NAME.exec(last);
  if (part !== null)
    return { kind: 'part', key, publication: part[1]!, msn: Number(part[2]), index: Number(part[3]), query };
  return UNKNOWN;
}
