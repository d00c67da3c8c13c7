import type net from 'node:net';
import { runAttack, type Attack } from '../attack/attack.js';
import { HTTP_OUTPUT_KINDS, type HttpOutputKind } from '../attack/settings.js';
import type { ProbeContext, ProbeVerdict } from '../context.js';

/**
 * Resilience of the HTTP outputs (HTTP-FLV, HLS, LL-HLS): requests whose headers never end, and
 * complete requests for the live stream whose answers are never read (LL-HLS: blocking reloads
 * for a part that does not exist yet, which the server holds). Every HTTP output the server has
 * takes its share of the attack's connections.
 */

/** The outputs the settings name, each with its URL for the healthy stream. */
function outputs(ctx: ProbeContext, stream: string): { kind: HttpOutputKind; url: URL }[] {
  const out: { kind: HttpOutputKind; url: URL }[] = [];
  for (const kind of HTTP_OUTPUT_KINDS) {
    const template = ctx.attack.http[kind];
    if (template !== undefined) out.push({ kind, url: new URL(template.replaceAll('{stream}', stream)) });
  }
  return out;
}

const NO_HTTP: ProbeVerdict = {
  result: 'n/a',
  detail: 'no HTTP output to attack (the server has none here, or give --http-flv, --hls or --ll-hls URLs)',
};

function request(url: URL, complete: boolean): string {
  const head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: rtmpbench-probe\r\n`;
  return complete ? `${head}Connection: keep-alive\r\n\r\n` : head;
}

/**
 * The URL of a blocking reload the server must hold: the first part of the segment after the one
 * under way (RFC 8216bis 6.2.5.2 lets a client ask that far ahead), from the playlist now; or why
 * there is none (the playlist does not say it can block, or did not come).
 */
async function blockingReload(playlist: URL, waitMs: number): Promise<URL | string> {
  let text: string;
  try {
    const res = await fetch(playlist, { signal: AbortSignal.timeout(2 * waitMs) });
    text = await res.text();
    if (!res.ok) return `the LL-HLS playlist answered ${res.status}`;
  } catch (e) {
    return `the LL-HLS playlist did not come: ${(e as Error).message}`;
  }
  if (!/CAN-BLOCK-RELOAD=YES/.test(text)) return 'the LL-HLS playlist does not offer blocking reloads';
  const sequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  const next = sequence + (text.match(/^#EXTINF:/gm)?.length ?? 0);
  const url = new URL(playlist);
  url.searchParams.set('_HLS_msn', String(next + 1));
  url.searchParams.set('_HLS_part', '0');
  return url;
}

async function httpAttack(
  ctx: ProbeContext,
  onSocket: (a: Attack, s: net.Socket, kind: HttpOutputKind, url: URL) => void,
  every?: (a: Attack, s: net.Socket) => void,
): Promise<ProbeVerdict> {
  // Requests that never end need no blocking reload: the LL-HLS playlist is asked for as it is.
  const blocking = every === undefined;
  if (outputs(ctx, 'stream').length === 0) return NO_HTTP;
  const n = ctx.attack.connections;
  const notes: string[] = [];
  const targets: { kind: HttpOutputKind; url: URL }[] = [];
  const prepare = async (stream: string) => {
    for (const t of outputs(ctx, stream)) {
      if (t.kind !== 'll-hls' || !blocking) targets.push(t);
      else {
        const url = await blockingReload(t.url, ctx.waitMs);
        if (typeof url === 'string') notes.push(url);
        else targets.push({ kind: t.kind, url });
      }
    }
  };
  return runAttack(ctx, { connections: n, bytes: n * 4096, prepare }, async (a) => {
    if (targets.length === 0) return notes.join('; ');
    const sockets: net.Socket[] = [];
    const kinds = new Map<HttpOutputKind, number>();
    await a.each(n, 32, async (i) => {
      const { kind, url } = targets[i % targets.length]!;
      const s = await a.dialRaw(url.hostname, Number(url.port || 80));
      if (s === null) return;
      onSocket(a, s, kind, url);
      sockets.push(s);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    });
    while (every !== undefined && !a.stopped) {
      await Promise.race([a.hold(), new Promise((r) => setTimeout(r, 1000))]);
      for (const s of sockets) if (!a.stopped && !s.destroyed) every(a, s);
    }
    return [[...kinds].map(([k, c]) => `${c} on ${k}`).join(', '), ...notes].join('; ');
  });
}

/** Requests whose headers never end: a header line, then a byte a second. */
export function httpSlowHeaders(ctx: ProbeContext): Promise<ProbeVerdict> {
  return httpAttack(
    ctx,
    (a, s, _kind, url) => {
      a.writeRaw(s, request(url, false));
    },
    (a, s) => {
      a.writeRaw(s, 'X');
    },
  );
}

/** Complete requests for the live stream (HTTP-FLV) or its playlist (HLS), whose answers are never read. */
export function httpHeldRequests(ctx: ProbeContext): Promise<ProbeVerdict> {
  return httpAttack(ctx, (a, s, _kind, url) => {
    // HTTP-FLV: the live stream, which never ends; HLS: the playlist, on a connection kept alive;
    // LL-HLS: a blocking reload of the playlist.
    a.writeRaw(s, request(url, true));
    s.pause();
  });
}
