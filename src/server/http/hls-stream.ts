import { HlsSegmenter, type BuiltSegment, type SegmentSink } from './hls-segmenter.js';

/** The HLS settings of the server, as a stream uses them. */
export interface HlsSettings {
  segmentMs: number;
  /** Segments listed in the playlist. */
  window: number;
  maxStreamBytes: number;
}

/** Memory all streams' segments share. */
export interface HlsBudget {
  readonly maxBytes: number;
  usedBytes: number;
  /**
   * Frees the oldest segment of the stream holding the most memory that has one to free; false
   * when there is none, or when `asking` (the stream that needs room) holds more than any
   * stream with a segment to free: its own segment under way is then what does not fit.
   */
  evict(asking: HlsStream): boolean;
}

export interface HlsSegment extends BuiltSegment {
  msn: number;
  /** Its URI, relative to the playlist. */
  name: string;
}

/**
 * One stream's HLS: the segments of its current (or last) publication, its playlist, and the
 * memory they hold, within a bound per stream and the budget all streams share. The newest
 * `window` segments are listed; as many older ones stay fetchable for a while (a viewer may
 * have read a playlist that still lists them), unless memory is short. Segment names carry a
 * token of the publication, so a URI always means the same bytes (they may be cached for good).
 */
export class HlsStream implements SegmentSink {
  readonly key: string;
  private readonly settings: HlsSettings;
  private readonly budget: HlsBudget;
  /** Oldest first; the last `window` are listed. */
  private readonly segments: HlsSegment[] = [];
  private heldBytes = 0;
  private nextMsn = 0;
  private discontinuitySeq = 0;
  private targetS: number;
  private publication = '';
  private segmenter: HlsSegmenter | null = null;
  private endedFlag = false;
  private rendered: Buffer | null = null;
  private listeners: (() => void)[] = [];
  /** Monotonic ms of the last playlist or segment request. */
  lastRequestMs = performance.now();
  /** Monotonic ms the publication ended (0 while it goes on). */
  endedAtMs = 0;
  /** Connections that read a playlist lately, by connection id: monotonic ms of the read. */
  readonly readers = new Map<number, number>();
  evictions = 0;
  /** Segments given up by publications already ended. */
  private pastOverflows = 0;

  constructor(key: string, settings: HlsSettings, budget: HlsBudget) {
    this.key = key;
    this.settings = settings;
    this.budget = budget;
    this.targetS = Math.max(1, Math.ceil(settings.segmentMs / 1000));
  }

  /** A publication is being muxed into this stream. */
  get active(): boolean {
    return this.segmenter !== null;
  }

  get ended(): boolean {
    return this.endedFlag;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  get listedCount(): number {
    return Math.min(this.segments.length, this.settings.window);
  }

  /** Segments given up because they outgrew the memory bounds. */
  get overflows(): number {
    return this.pastOverflows + (this.segmenter?.stats.overflows ?? 0);
  }

  /**
   * Starts muxing a new publication: the segments of an earlier one go (their names never come
   * back: numbering goes on), and the returned segmenter takes the messages.
   */
  start(): HlsSegmenter {
    this.retireSegmenter()?.abandon();
    this.clear();
    this.endedFlag = false;
    this.endedAtMs = 0;
    this.publication = Date.now().toString(36);
    this.targetS = Math.max(1, Math.ceil(this.settings.segmentMs / 1000));
    this.segmenter = new HlsSegmenter(this.settings.segmentMs, this);
    this.changed();
    return this.segmenter;
  }

  /** The publication ended: the last segment is finished and the playlist ends. */
  end(): void {
    const segmenter = this.retireSegmenter();
    if (segmenter === null) return;
    segmenter.end();
    this.endedFlag = true;
    this.endedAtMs = performance.now();
    this.changed();
  }

  /** Stops muxing and frees everything (nobody asks for this stream any more). */
  dispose(): void {
    this.retireSegmenter()?.abandon();
    this.clear();
    this.endedFlag = true;
    this.changed();
  }

  /** Calls `fn` once, at the next change of the playlist (a segment, the end); returns a cancel. */
  onChange(fn: () => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * The media playlist (built once per change and shared). `query` (for example a play token)
   * is appended to every segment URI; such a playlist is built for the request alone.
   */
  playlist(query = ''): Buffer {
    if (query === '' && this.rendered !== null) return this.rendered;
    const listed = this.segments.slice(-this.settings.window);
    let text =
      `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:${this.targetS}\n` +
      `#EXT-X-MEDIA-SEQUENCE:${listed[0]?.msn ?? this.nextMsn}\n`;
    let discontinuities = this.discontinuitySeq;
    for (const s of this.segments) {
      if (s === listed[0]) break;
      if (s.discontinuity) discontinuities++;
    }
    if (discontinuities > 0) text += `#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuities}\n`;
    for (const s of listed) {
      if (s.discontinuity) text += '#EXT-X-DISCONTINUITY\n';
      text += `#EXT-X-PROGRAM-DATE-TIME:${new Date(s.pdtMs).toISOString()}\n#EXTINF:${s.durationS.toFixed(3)},\n${s.name}${query}\n`;
    }
    if (this.endedFlag) text += '#EXT-X-ENDLIST\n';
    const body = Buffer.from(text, 'utf8');
    if (query === '') this.rendered = body;
    return body;
  }

  /** A segment still held, by its name. */
  segment(name: string): HlsSegment | undefined {
    const segs = this.segments;
    // Requests are nearly always for one of the newest: look from the end.
    for (let i = segs.length - 1; i >= 0; i--) if (segs[i]!.name === name) return segs[i];
    return undefined;
  }

  /** Frees the oldest segment for memory; false when there is none. */
  evictOldest(): boolean {
    if (!this.dropOldest()) return false;
    this.evictions++;
    return true;
  }

  reserve(bytes: number): boolean {
    this.heldBytes += bytes;
    this.budget.usedBytes += bytes;
    while (this.heldBytes > this.settings.maxStreamBytes && this.evictOldest()) {
      // Older segments make room for the newest.
    }
    while (this.budget.usedBytes > this.budget.maxBytes && this.budget.evict(this)) {
      // Other streams' oldest segments too.
    }
    if (this.heldBytes <= this.settings.maxStreamBytes && this.budget.usedBytes <= this.budget.maxBytes) return true;
    this.release(bytes);
    return false;
  }

  unreserve(bytes: number): void {
    this.release(bytes);
  }

  onSegment(built: BuiltSegment): void {
    const msn = this.nextMsn++;
    this.segments.push({ ...built, msn, name: `${this.publication}-${msn}.ts` });
    const rounded = Math.round(built.durationS);
    if (rounded > this.targetS) this.targetS = rounded;
    // Listed ones, and as many more for viewers that read an older playlist.
    while (this.segments.length > 2 * this.settings.window + 1) this.dropOldest();
    this.changed();
  }

  /** Lets go of the segmenter (its counts kept); returns it for its last act. */
  private retireSegmenter(): HlsSegmenter | null {
    const s = this.segmenter;
    if (s === null) return null;
    this.segmenter = null;
    this.pastOverflows += s.stats.overflows;
    return s;
  }

  private dropOldest(): boolean {
    const s = this.segments.shift();
    if (s === undefined) return false;
    if (s.discontinuity) this.discontinuitySeq++;
    this.release(s.heldBytes);
    this.changed();
    return true;
  }

  private release(bytes: number): void {
    this.heldBytes -= bytes;
    this.budget.usedBytes -= bytes;
  }

  private clear(): void {
    while (this.segments.length > 0) this.release(this.segments.shift()!.heldBytes);
    this.discontinuitySeq = 0;
  }

  private changed(): void {
    this.rendered = null;
    if (this.listeners.length === 0) return;
    const fns = this.listeners;
    this.listeners = [];
    for (const fn of fns) fn();
  }
}

/** `HlsBudget.evict` over a set of streams: the largest with a segment to free pays first. */
export function evictLargest(streams: Iterable<HlsStream>, asking: HlsStream): boolean {
  const bySize = [...streams].sort((a, b) => b.bytes - a.bytes);
  for (const h of bySize) {
    if (h.evictOldest()) return true;
    if (h === asking) return false;
  }
  return false;
}
