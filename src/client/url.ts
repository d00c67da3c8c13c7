import { UsageError } from '../input/usage-error.js';

export interface RtmpUrl {
  protocol: 'rtmp' | 'rtmps';
  host: string;
  port: number;
  /** Application (first path element), query included as the server expects it in connect. */
  app: string;
  /** Stream name (the rest of the path), or "" when the URL names only the app. */
  stream: string;
  /** tcUrl sent in connect: protocol, host, port and app. */
  tcUrl: string;
}

/**
 * Parses rtmp[s]://host[:port]/app[/stream] (ffmpeg's convention: the first path element is
 * the app). Throws a UsageError with the reason.
 */
export function parseRtmpUrl(text: string): RtmpUrl {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`"${text}" is not a URL; expected rtmp://HOST[:PORT]/APP[/STREAM]`);
  }
  const protocol = u.protocol.replace(/:$/, '');
  if (protocol !== 'rtmp' && protocol !== 'rtmps') {
    throw new UsageError(`"${text}": the scheme must be rtmp:// or rtmps://`);
  }
  if (u.hostname === '') throw new UsageError(`"${text}" has no host`);
  const parts = u.pathname
    .split('/')
    .filter((p) => p.length > 0)
    .map(decodeURIComponent);
  if (parts.length === 0) throw new UsageError(`"${text}" has no application (rtmp://HOST/APP)`);
  const port = u.port === '' ? (protocol === 'rtmps' ? 443 : 1935) : Number(u.port);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const app = parts[0]! + u.search;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    protocol,
    host,
    port,
    app,
    stream: parts.slice(1).join('/'),
    tcUrl: `${protocol}://${hostPart}:${port}/${parts[0]}${u.search}`,
  };
}
