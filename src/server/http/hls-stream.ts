import { HlsSegmenter, type BuiltPart, type BuiltSegment, type SegmentSink } from './hls-segmenter.js';

/** The HLS settings of the server, as a stream uses them. */
export interface HlsSettings {
  segmentMs: number;
  /** LL-HLS part target duration, ms; 0 or absent = classic HLS (no parts). */
  partMs?: number;
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

/** Segments from the end of the playlist whose parts are listed (RFC 8216bis: at least three target durations). */
const PART_LISTED_SEGMENTS = 3;
/** PART-HOLD-BACK in part targets (RFC 8216bis: at least three). */
const PART_HOLD_BACK_PARTS = 3;

/** Where a blocking playlist request stands against what the stream holds. */
export type BlockingState = 'ready' | 'wait' | 'too-far';

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
  private listeners = new Set<() => void>();
  /** Parts of the segment under way (numbered `nextMsn`), oldest first. */
  private pending: BuiltPart[] = [];
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

  /** EXT-X-TARGETDURATION, s. */
  get targetDurationS(): number {
    return this.targetS;
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
    this.pending = [];
    this.segmenter = new HlsSegmenter(this.settings.segmentMs, this, false, this.settings.partMs ?? 0);
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

  /** Calls `fn` once, at the next change of the playlist (a segment, a part, the end); returns a cancel. */
  onChange(fn: () => void): () => void {
    // A set: thousands of held requests may cancel at once (clients gone).
    const wrapped = () => fn();
    this.listeners.add(wrapped);
    return () => {
      this.listeners.delete(wrapped);
    };
  }

  /** Parts are served (LL-HLS). */
  get lowLatency(): boolean {
    return (this.settings.partMs ?? 0) > 0;
  }

  /**
   * A blocking playlist request for part `part` of segment `msn` (part -1: the whole segment):
   * 'ready' when the stream holds it or anything later (or has ended), 'wait' when it is the
   * next to come or close to it, 'too-far' when it lies beyond what RFC 8216bis lets a client
   * ask for (two segments past the last one, or three parts past the last part).
   */
  blockingState(msn: number, part: number): BlockingState {
    if (this.endedFlag) return 'ready';
    const next = this.nextMsn;
    if (part < 0) {
      if (msn < next) return 'ready';
      return msn > next + 1 ? 'too-far' : 'wait';
    }
    if (msn < next) {
      const seg = this.segmentByMsn(msn);
      // Gone (older than what is held), or a finished segment with that part, or a later finished segment.
      if (seg === undefined || part < seg.parts.length || msn < next - 1) return 'ready';
      // A part past the end of the last finished segment: the next segment's first part is later.
      return this.pending.length > 0 ? 'ready' : 'wait';
    }
    if (msn === next) {
      if (part < this.pending.length) return 'ready';
      return part - this.pending.length >= PART_HOLD_BACK_PARTS ? 'too-far' : 'wait';
    }
    if (msn === next + 1) return part >= PART_HOLD_BACK_PARTS ? 'too-far' : 'wait';
    return 'too-far';
  }

  /** A part, by its segment's number and its index, when still held. */
  part(msn: number, index: number): BuiltPart | undefined {
    if (msn === this.nextMsn) return this.pending[index];
    return this.segmentByMsn(msn)?.parts[index];
  }

  /** Whether a request for this part may wait for it: it is the next part to come (the preload hint). */
  partIsNext(msn: number, index: number): boolean {
    return !this.endedFlag && this.segmenter !== null && msn === this.nextMsn && index === this.pending.length;
  }

  /** The token of the current publication (segment and part names begin with it). */
  get publicationToken(): string {
    return this.publication;
  }

  /**
   * The media playlist (built once per change and shared). `query` (for example a play token)
   * is appended to every segment URI; such a playlist is built for the request alone.
   */
  playlist(query = ''): Buffer {
    if (query === '' && this.rendered !== null) return this.rendered;
    const listed = this.segments.slice(-this.settings.window);
    const ll = this.lowLatency;
    const partS = (this.settings.partMs ?? 0) / 1000;
    let text = `#EXTM3U\n#EXT-X-VERSION:${ll ? 6 : 3}\n#EXT-X-TARGETDURATION:${this.targetS}\n`;
    if (ll) {
      text +=
        `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${(PART_HOLD_BACK_PARTS * partS).toFixed(3)}\n` +
        `#EXT-X-PART-INF:PART-TARGET=${partS.toFixed(3)}\n`;
    }
    text += `#EXT-X-MEDIA-SEQUENCE:${listed[0]?.msn ?? this.nextMsn}\n`;
    let discontinuities = this.discontinuitySeq;
    for (const s of this.segments) {
      if (s === listed[0]) break;
      if (s.discontinuity) discontinuities++;
    }
    if (discontinuities > 0) text += `#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuities}\n`;
    const partsFrom = listed.length - PART_LISTED_SEGMENTS;
    for (let i = 0; i < listed.length; i++) {
      const s = listed[i]!;
      if (s.discontinuity) text += '#EXT-X-DISCONTINUITY\n';
      text += `#EXT-X-PROGRAM-DATE-TIME:${new Date(s.pdtMs).toISOString()}\n`;
      if (ll && i >= partsFrom) text += partLines(s.parts, this.publication, s.msn, query);
      text += `#EXTINF:${s.durationS.toFixed(3)},\n${s.name}${query}\n`;
    }
    if (this.endedFlag) text += '#EXT-X-ENDLIST\n';
    else if (ll && this.segmenter !== null) {
      // The segment under way: its parts so far, and the next part as a hint (requests for it wait).
      text += partLines(this.pending, this.publication, this.nextMsn, query);
      text += `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${partName(this.publication, this.nextMsn, this.pending.length)}${query}"\n`;
    }
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

  private segmentByMsn(msn: number): HlsSegment | undefined {
    const segs = this.segments;
    const first = segs[0]?.msn ?? this.nextMsn;
    return segs[msn - first];
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

  onPart(part: BuiltPart): void {
    this.pending.push(part);
    this.changed();
  }

  onGiveUp(): void {
    if (this.pending.length === 0) return;
    this.pending = [];
    this.changed();
  }

  onSegment(built: BuiltSegment): void {
    this.pending = [];
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
    this.pending = [];
    while (this.segments.length > 0) this.release(this.segments.shift()!.heldBytes);
    this.discontinuitySeq = 0;
  }

  private changed(): void {
    this.rendered = null;
    if (this.listeners.size === 0) return;
    const fns = this.listeners;
    this.listeners = new Set();
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

/** A part's URI, relative to the playlist: `{publication}-{msn}.{index}.ts`. */
function partName(publication: string, msn: number, index: number): string {
  return `${publication}-${msn}.${index}.ts`;
}

function partLines(parts: readonly BuiltPart[], publication: string, msn: number, query: string): string {
  let text = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    text +=
      `#EXT-X-PART:DURATION=${p.durationS.toFixed(3)},URI="${partName(publication, msn, i)}${query}"` +
      `${p.independent ? ',INDEPENDENT=YES' : ''}\n`;
  }
  return text;
}
