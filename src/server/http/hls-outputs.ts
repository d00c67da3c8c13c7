import type http from 'node:http';
import type { ServerConfig } from '../config.js';
import type { LiveStream } from '../live-stream.js';
import type { HlsTotals, HttpStreamStats } from './http-stats.js';
import { PLAYLIST_HEADERS, SEGMENT_HEADERS, TEXT_HEADERS, type Responder } from './http-responses.js';
import { evictLargest, HlsStream, type HlsBudget, type HlsSettings } from './hls-stream.js';
import type { StreamOutputs } from './stream-outputs.js';

/** What the HLS outputs need from the HTTP server around them. */
export interface HlsOutputsHost {
  readonly config: ServerConfig;
  readonly responder: Responder;
  /** The stream of that key if it is being published. */
  publishedStream(key: string): LiveStream | null;
  /** The stream's outputs (its tap), made if needed. */
  outputsFor(stream: LiveStream): StreamOutputs;
  outputsOf(key: string): StreamOutputs | undefined;
}

/** A stream nobody asked for this long stops being muxed (on demand) or is forgotten (ended). */
const IDLE_MIN_MS = 30_000;
/** Longest a playlist request waits for the first segment of a publication. */
const FIRST_SEGMENT_WAIT_MIN_MS = 8000;

/**
 * The HLS side of the HTTP outputs: one HlsStream per stream key (muxed once, however many
 * viewers), the memory budget they share, and the playlist and segment requests. Muxing starts
 * with the first playlist request for a published stream (`hlsOnDemand`, the default) or with
 * the publish, and stops once nobody has asked for the stream for a while. A first playlist
 * request waits for the first segment rather than getting an empty playlist.
 */
export class HlsOutputs implements HlsBudget {
  readonly maxBytes: number;
  usedBytes = 0;
  private readonly host: HlsOutputsHost;
  private readonly settings: HlsSettings;
  private readonly streams = new Map<string, HlsStream>();
  private retiredEvictions = 0;
  private held = 0;
  private heldRefused = 0;
  private retiredOverflows = 0;

  constructor(host: HlsOutputsHost) {
    const cfg = host.config;
    this.host = host;
    this.maxBytes = cfg.hlsMaxBytes;
    this.settings = {
      segmentMs: cfg.hlsSegmentMs,
      partMs: cfg.hlsPartMs,
      window: cfg.hlsWindow,
      maxStreamBytes: cfg.hlsMaxStreamBytes,
    };
  }

  evict(asking: HlsStream): boolean {
    return evictLargest(this.streams.values(), asking);
  }

  /** A stream started publishing: with HLS at all times, its muxing starts now. */
  onPublish(stream: LiveStream): void {
    if (!this.host.config.hlsOnDemand) this.streamFor(stream.key);
  }

  servePlaylist(res: http.ServerResponse, key: string, query: URLSearchParams, connectionId: number): void {
    const responder = this.host.responder;
    const directive = blockingDirective(query);
    if (typeof directive === 'string') {
      responder.respond(res, 400, TEXT_HEADERS, `${directive}\n`);
      return;
    }
    const h = this.streamFor(key);
    if (h === null) {
      responder.respond(res, 404, TEXT_HEADERS, `${key} is not being published\n`);
      return;
    }
    const now = performance.now();
    h.lastRequestMs = now;
    h.readers.set(connectionId, now);
    const token = query.get('token');
    const suffix =
      this.host.config.playToken !== undefined && token !== null ? `?token=${encodeURIComponent(token)}` : '';
    const send = () => {
      if (h.listedCount > 0) responder.respond(res, 200, PLAYLIST_HEADERS, h.playlist(suffix));
      else if (h.ended) responder.respond(res, 404, TEXT_HEADERS, `${key} has ended\n`);
      else responder.respond(res, 503, { ...TEXT_HEADERS, 'retry-after': '1' }, `${key} has no segment yet\n`);
    };
    // Delivery directives mean something only where the playlist says it can block (LL-HLS).
    const block = directive !== null && h.lowLatency ? directive : null;
    if (block !== null && h.blockingState(block.msn, block.part) === 'too-far') {
      const what = block.part >= 0 ? `part ${block.part} of segment ${block.msn}` : `segment ${block.msn}`;
      responder.respond(res, 400, TEXT_HEADERS, `${what} of ${key} is too far ahead of the stream to wait for\n`);
      return;
    }
    const ready = () =>
      (h.listedCount > 0 || h.ended) && (block === null || h.blockingState(block.msn, block.part) !== 'wait');
    if (ready()) {
      send();
      return;
    }
    if (block === null || h.listedCount === 0) {
      // The first segment is under way (muxing has just started): the request waits for it.
      this.hold(res, h, ready, Math.max(FIRST_SEGMENT_WAIT_MIN_MS, 2 * this.settings.segmentMs), send, send);
      return;
    }
    // A blocking reload: held until the stream holds what it asks for (RFC 8216bis 6.2.5.2: 503
    // when that takes more than three target durations).
    this.hold(res, h, ready, this.blockingWaitMs(h), send, () =>
      responder.respond(res, 503, { ...TEXT_HEADERS, 'retry-after': '1' }, `${key} did not advance in time\n`),
    );
  }

  serveSegment(req: http.IncomingMessage, res: http.ServerResponse, key: string, name: string): void {
    const h = this.streams.get(key);
    const segment = h?.segment(name);
    if (h === undefined || segment === undefined) {
      this.host.responder.respond(res, 404, TEXT_HEADERS, `no segment ${name} of ${key}\n`);
      return;
    }
    h.lastRequestMs = performance.now();
    this.writeBody(req, res, segment.blocks, segment.bytes);
  }

  /**
   * A part (LL-HLS). The next part to come (the playlist's preload hint) is held until it is
   * complete, then served; a part that will never exist (its segment ended before it, the
   * publication changed) gets 404.
   */
  servePart(req: http.IncomingMessage, res: http.ServerResponse, key: string, at: PartAddress): void {
    const responder = this.host.responder;
    const h = this.streams.get(key);
    const name = `${at.publication}-${at.msn}.${at.index}.ts`;
    const missing = () => responder.respond(res, 404, TEXT_HEADERS, `no part ${name} of ${key}\n`);
    if (h === undefined || !h.lowLatency || h.publicationToken !== at.publication) {
      missing();
      return;
    }
    h.lastRequestMs = performance.now();
    const serve = () => {
      const part = h.publicationToken === at.publication ? h.part(at.msn, at.index) : undefined;
      if (part === undefined) missing();
      else this.writeBody(req, res, part.chunks, part.bytes);
    };
    if (h.part(at.msn, at.index) !== undefined || !h.partIsNext(at.msn, at.index)) {
      serve();
      return;
    }
    const ready = () => h.publicationToken !== at.publication || !h.partIsNext(at.msn, at.index);
    this.hold(res, h, ready, this.blockingWaitMs(h), serve, () =>
      responder.respond(
        res,
        503,
        { ...TEXT_HEADERS, 'retry-after': '1' },
        `part ${name} of ${key} did not come in time\n`,
      ),
    );
  }

  /** Connections that read any playlist lately. */
  viewers(): number {
    const since = performance.now() - this.readerWindowMs();
    let n = 0;
    for (const h of this.streams.values()) n += readersSince(h, since);
    return n;
  }

  /** Per stream: its readers, segments and memory. */
  streamStats(): Pick<HttpStreamStats, 'key' | 'hls' | 'hlsSegments' | 'hlsBytes' | 'hlsEnded'>[] {
    const since = performance.now() - this.readerWindowMs();
    return [...this.streams.values()].map((h) => ({
      key: h.key,
      hls: readersSince(h, since),
      hlsSegments: h.segmentCount,
      hlsBytes: h.bytes,
      hlsEnded: h.ended,
    }));
  }

  /**
   * Holds a request until `ready()` (checked at each change of the stream), then `onReady`; after
   * `timeoutMs`, `onTimeout`. At most `hlsMaxHeldRequests` are held in all; more get 503. A client
   * that goes away lets go of its place at once.
   */
  private hold(
    res: http.ServerResponse,
    h: HlsStream,
    ready: () => boolean,
    timeoutMs: number,
    onReady: () => void,
    onTimeout: () => void,
  ): void {
    if (this.held >= this.host.config.hlsMaxHeldRequests) {
      this.heldRefused++;
      this.host.responder.respond(
        res,
        503,
        { ...TEXT_HEADERS, 'retry-after': '1' },
        `too many requests waiting (${this.held}); try again\n`,
      );
      return;
    }
    this.held++;
    let done = false;
    let cancel: () => void = () => {};
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      this.held--;
      clearTimeout(timer);
      cancel();
      return true;
    };
    const timer = setTimeout(() => {
      if (finish()) onTimeout();
    }, timeoutMs);
    const wait = () => {
      cancel = h.onChange(() => {
        if (done) return;
        if (!ready()) return wait();
        if (finish()) onReady();
      });
    };
    wait();
    res.once('close', finish);
  }

  /** Longest a blocking request waits: three target durations (RFC 8216bis). */
  private blockingWaitMs(h: HlsStream): number {
    return 3 * h.targetDurationS * 1000;
  }

  private writeBody(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    chunks: readonly Buffer[],
    bytes: number,
  ): void {
    this.host.responder.count(200);
    res.writeHead(200, { ...SEGMENT_HEADERS, 'content-length': bytes });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    // The blocks are never written again: every response writes the same memory.
    res.cork();
    for (const b of chunks) res.write(b);
    res.end();
    res.uncork();
  }

  totals(): HlsTotals {
    let segments = 0;
    let evictions = this.retiredEvictions;
    let overflows = this.retiredOverflows;
    for (const h of this.streams.values()) {
      segments += h.segmentCount;
      evictions += h.evictions;
      overflows += h.overflows;
    }
    return {
      streams: this.streams.size,
      segments,
      bytes: this.usedBytes,
      maxBytes: this.maxBytes,
      evictions,
      overflows,
      held: this.held,
      heldRefused: this.heldRefused,
    };
  }

  /** Streams nobody asks for stop being muxed (on demand) or are forgotten (ended); old readers go. */
  sweep(): void {
    const now = performance.now();
    const cfg = this.host.config;
    const idleMs = Math.max(IDLE_MIN_MS, 4 * cfg.hlsSegmentMs);
    const readerMs = this.readerWindowMs();
    for (const [key, h] of this.streams) {
      for (const [id, at] of h.readers) if (now - at > readerMs) h.readers.delete(id);
      if (now - h.lastRequestMs <= idleMs || (h.active && !cfg.hlsOnDemand)) continue;
      this.drop(key, h);
    }
  }

  /** Stops all muxing and frees every segment. */
  close(): void {
    for (const [key, h] of this.streams) this.drop(key, h);
  }

  /** The HLS state of a stream, muxing started if it is published and not muxed yet; null when there is none. */
  private streamFor(key: string): HlsStream | null {
    let h = this.streams.get(key);
    const stream = this.host.publishedStream(key);
    if (h !== undefined && (h.active || stream === null)) return h;
    if (stream === null) return null;
    if (h === undefined) {
      h = new HlsStream(key, this.settings, this);
      this.streams.set(key, h);
    }
    this.host.outputsFor(stream).startHls(h);
    return h;
  }

  private drop(key: string, h: HlsStream): void {
    if (h.active) this.host.outputsOf(key)?.stopHls();
    this.retiredEvictions += h.evictions;
    this.retiredOverflows += h.overflows;
    h.dispose();
    this.streams.delete(key);
  }

  /** A viewer counts while it read a playlist within three target durations. */
  private readerWindowMs(): number {
    return 3 * Math.max(1000, this.host.config.hlsSegmentMs);
  }
}

/** A part's address, as its name gives it. */
export interface PartAddress {
  publication: string;
  msn: number;
  index: number;
}

/** Longest a delivery directive's value may be (digits): beyond any real sequence number. */
const DIRECTIVE_MAX_DIGITS = 15;

/**
 * The delivery directives of a playlist request (`_HLS_msn`, `_HLS_part`): null without them,
 * a message saying what is wrong with malformed ones. `part` is -1 when only a segment is asked for.
 */
function blockingDirective(query: URLSearchParams): { msn: number; part: number } | string | null {
  const msn = query.getAll('_HLS_msn');
  const part = query.getAll('_HLS_part');
  if (msn.length === 0 && part.length === 0) return null;
  if (msn.length !== 1 || part.length > 1) return '_HLS_msn must be given once, _HLS_part at most once';
  const digits = new RegExp(`^\\d{1,${DIRECTIVE_MAX_DIGITS}}$`);
  if (!digits.test(msn[0]!)) return `_HLS_msn must be a non-negative integer, not "${msn[0]!.slice(0, 32)}"`;
  if (part.length === 1 && !digits.test(part[0]!))
    return `_HLS_part must be a non-negative integer, not "${part[0]!.slice(0, 32)}"`;
  return { msn: Number(msn[0]), part: part.length === 1 ? Number(part[0]) : -1 };
}

function readersSince(h: HlsStream, since: number): number {
  let n = 0;
  for (const at of h.readers.values()) if (at >= since) n++;
  return n;
}
