import type net from 'node:net';
import { runAttack, type Attack } from '../attack/attack.js';
import { HTTP_OUTPUT_KINDS, type HttpOutputKind } from '../attack/settings.js';
import type { ProbeContext, ProbeVerdict } from '../context.js';

/**
 * Resilience of the HTTP outputs (HTTP-FLV, HLS): requests whose headers never end, and
 * complete requests for the live stream whose answers are never read. Every HTTP output the
 * server has takes its share of the attack's connections. LL-HLS blocking playlist reloads,
 * held by the server until the part they ask for exists, join as one more kind of held request
 * (settings.ts HTTP_OUTPUT_KINDS, and `heldRequest` below).
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
  detail: 'no HTTP output to attack (the server has none here, or give --http-flv / --hls URLs)',
};

function request(url: URL, complete: boolean): string {
  const head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: rtmpbench-probe\r\n`;
  return complete ? `${head}Connection: keep-alive\r\n\r\n` : head;
}

/** What one connection of a held-request attack asks for, by output. */
function heldRequest(_kind: HttpOutputKind, url: URL): string {
  // HTTP-FLV: the live stream, which never ends; HLS: the playlist, on a connection kept alive.
  return request(url, true);
}

async function httpAttack(
  ctx: ProbeContext,
  onSocket: (a: Attack, s: net.Socket, kind: HttpOutputKind, url: URL) => void,
  every?: (a: Attack, s: net.Socket) => void,
): Promise<ProbeVerdict> {
  if (outputs(ctx, 'stream').length === 0) return NO_HTTP;
  const n = ctx.attack.connections;
  return runAttack(ctx, { connections: n, bytes: n * 4096 }, async (a) => {
    const targets = outputs(ctx, a.healthyName);
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
    return [...kinds].map(([k, c]) => `${c} on ${k}`).join(', ');
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
  return httpAttack(ctx, (a, s, kind, url) => {
    a.writeRaw(s, heldRequest(kind, url));
    s.pause();
  });
}
