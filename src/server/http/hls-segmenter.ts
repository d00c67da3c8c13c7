import { MSG_AUDIO, MSG_VIDEO } from '../../protocol/constants.js';
import { TsMuxer } from '../../media/ts-muxer.js';
import { MessageClass } from '../shared-message.js';

/** Segments are built in blocks of this size; a segment's memory is counted in whole blocks. */
export const SEGMENT_BLOCK_BYTES = 64 * 1024;
/** A segment may end this share of the target duration early (timestamps rounded to ms). */
const EARLY_CUT_SHARE = 0.1;

/**
 * A partial segment (LL-HLS): a run of whole frames of the segment under way, starting with
 * PAT/PMT so that it reads alone. Its bytes are views of the segment's blocks (no copy): the
 * parts of a segment, in order, are the segment.
 */
export interface BuiltPart {
  durationS: number;
  /** It starts with a keyframe (the first part of a segment). */
  independent: boolean;
  chunks: Buffer[];
  bytes: number;
}

/** A finished MPEG-TS segment: its bytes in blocks (views, never written again). */
export interface BuiltSegment {
  durationS: number;
  /** Wall-clock time of its first frame, ms since the epoch. */
  pdtMs: number;
  /** It does not continue the segment before it (a segment was given up in between). */
  discontinuity: boolean;
  blocks: Buffer[];
  bytes: number;
  /** Memory it holds: whole blocks. */
  heldBytes: number;
  /** Its partial segments (none without LL-HLS). */
  parts: BuiltPart[];
}

/** Where a segmenter puts its work, and asks for memory. */
export interface SegmentSink {
  /** The segment under construction needs `bytes` more; false when no room can be made. */
  reserve(bytes: number): boolean;
  /** Gives back memory of a segment that was given up. */
  unreserve(bytes: number): void;
  onSegment(segment: BuiltSegment): void;
  /** A partial segment of the segment under way is complete (LL-HLS). */
  onPart(part: BuiltPart): void;
  /** The segment under way was given up: its parts go with it. */
  onGiveUp(): void;
}

export interface HlsSegmenterStats {
  segments: number;
  /** Segments given up because they outgrew the memory bounds. */
  overflows: number;
  /** Messages the muxer could not read (malformed frames). */
  errors: number;
}

/**
 * Muxes one publication into MPEG-TS segments, once, whatever the number of viewers: each
 * segment starts with PAT/PMT and a keyframe (with its parameter sets) and ends before the first
 * keyframe at least the target duration after its start; a stream without video is cut at
 * the first audio frame past it. Frames before the first keyframe are skipped.
 *
 * With parts (`partMs` > 0, LL-HLS), the segment under way is also cut into partial segments of
 * whole frames: a part ends before the frame that would take it past `partMs` (judging the frame's
 * duration by the gap before it), and at the end of its segment. Each part starts with PAT/PMT, so
 * a player may start at any part whose first frame is a keyframe.
 */
export class HlsSegmenter {
  private readonly muxer = new TsMuxer();
  private readonly cutAfterMs: number;
  private readonly partMs: number;
  private readonly sink: SegmentSink;
  private blocks: Buffer[] = [];
  private block: Buffer | null = null;
  private blockUsed = 0;
  private bytes = 0;
  /** Memory granted for the segment under way (whole blocks). */
  private reserved = 0;
  private building = false;
  private startTs = 0;
  private startPdtMs = 0;
  private lastTs = 0;
  private lastGapMs = 0;
  private discontinuity: boolean;
  private ended = false;
  private parts: BuiltPart[] = [];
  private partStartTs = 0;
  private partStartByte = 0;
  readonly stats: HlsSegmenterStats = { segments: 0, overflows: 0, errors: 0 };

  constructor(segmentMs: number, sink: SegmentSink, discontinuity = false, partMs = 0) {
    this.cutAfterMs = segmentMs * (1 - EARLY_CUT_SHARE);
    this.partMs = partMs;
    this.sink = sink;
    this.discontinuity = discontinuity;
  }

  /** One message of the stream, classified as the stream classifies it. Throws on a malformed frame. */
  onMessage(typeId: number, timestampMs: number, payload: Buffer, cls: MessageClass): void {
    if (this.ended) return;
    const muxer = this.muxer;
    if (typeId === MSG_VIDEO) {
      if (cls === MessageClass.CONFIG) {
        muxer.videoMessage(timestampMs, payload);
        return;
      }
      if (cls === MessageClass.VIDEO_KEY && (!this.building || timestampMs - this.startTs >= this.cutAfterMs))
        this.cut(timestampMs);
      else if (this.partDue(timestampMs)) this.cutPart(timestampMs);
      if (!this.building) return;
      this.advance(timestampMs);
      this.append(muxer.videoMessage(timestampMs, payload));
    } else if (typeId === MSG_AUDIO) {
      if (cls === MessageClass.CONFIG) {
        muxer.audioMessage(timestampMs, payload);
        return;
      }
      if (muxer.videoCodec === null) {
        if (!this.building || timestampMs - this.startTs >= this.cutAfterMs) this.cut(timestampMs);
        else if (this.partDue(timestampMs)) this.cutPart(timestampMs);
        if (this.building) this.advance(timestampMs);
      }
      if (!this.building) return;
      this.append(muxer.audioMessage(timestampMs, payload));
    }
  }

  /**
   * The frames so far came from a cache, at once: the segment under way began as long before
   * now as its frames span, so its program date-time moves back by that much.
   */
  replayed(): void {
    if (this.building) this.startPdtMs -= this.lastTs - this.startTs;
  }

  /** The publication ended: the segment under way is finished (its last frame lasting as the one before). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.building) this.finish(this.lastTs + this.lastGapMs);
  }

  /** Gives up the segment under way (the stream stopped being muxed). */
  abandon(): void {
    this.ended = true;
    this.drop();
  }

  private advance(timestampMs: number): void {
    if (timestampMs > this.lastTs) {
      this.lastGapMs = timestampMs - this.lastTs;
      this.lastTs = timestampMs;
    }
  }

  private cut(timestampMs: number): void {
    if (this.building) this.finish(timestampMs);
    this.building = true;
    this.startTs = timestampMs;
    this.lastTs = timestampMs;
    this.lastGapMs = 0;
    this.startPdtMs = Date.now();
    this.partStartTs = timestampMs;
    this.partStartByte = 0;
    this.append(this.muxer.tables());
  }

  /** Whether the part under way ends before a frame at `timestampMs` (lasting as the gap before it). */
  private partDue(timestampMs: number): boolean {
    if (this.partMs <= 0 || !this.building || timestampMs <= this.partStartTs) return false;
    return timestampMs + (timestampMs - this.lastTs) - this.partStartTs > this.partMs;
  }

  private cutPart(timestampMs: number): void {
    this.finishPart(timestampMs);
    this.partStartTs = timestampMs;
    this.partStartByte = this.bytes;
    this.append(this.muxer.tables());
  }

  /** The part under way ends at `endTs`: views of its bytes go to the sink. */
  private finishPart(endTs: number): void {
    if (this.partMs <= 0 || this.bytes === this.partStartByte) return;
    const chunks: Buffer[] = [];
    let at = this.partStartByte;
    const end = this.bytes;
    // Every block before the current one is full: offsets map to blocks by division.
    while (at < end) {
      const i = Math.floor(at / SEGMENT_BLOCK_BYTES);
      const block = i < this.blocks.length ? this.blocks[i]! : this.block!;
      const from = at - i * SEGMENT_BLOCK_BYTES;
      const to = Math.min(SEGMENT_BLOCK_BYTES, end - i * SEGMENT_BLOCK_BYTES);
      chunks.push(block.subarray(from, to));
      at += to - from;
    }
    const part: BuiltPart = {
      durationS: Math.max(0, endTs - this.partStartTs) / 1000,
      independent: this.partStartByte === 0,
      chunks,
      bytes: end - this.partStartByte,
    };
    this.parts.push(part);
    this.sink.onPart(part);
  }

  private finish(endTs: number): void {
    this.finishPart(endTs);
    const blocks = this.blocks;
    if (this.block !== null && this.blockUsed > 0) blocks.push(this.block.subarray(0, this.blockUsed));
    const held = this.reserved;
    this.stats.segments++;
    this.sink.onSegment({
      durationS: Math.max(0, endTs - this.startTs) / 1000,
      pdtMs: this.startPdtMs,
      discontinuity: this.discontinuity,
      blocks,
      bytes: this.bytes,
      heldBytes: held,
      parts: this.parts,
    });
    this.parts = [];
    this.discontinuity = false;
    this.blocks = [];
    this.block = null;
    this.blockUsed = 0;
    this.bytes = 0;
    this.reserved = 0;
    this.building = false;
  }

  /** Copies muxer output (a view valid until the muxer's next call) into the segment's blocks. */
  private append(data: Buffer): void {
    let o = 0;
    while (o < data.length) {
      if (this.block === null || this.blockUsed === this.block.length) {
        if (this.block !== null) this.blocks.push(this.block);
        if (!this.sink.reserve(SEGMENT_BLOCK_BYTES)) {
          // No room: this segment is given up, and the next one starts at a keyframe, marked discontinuous.
          this.stats.overflows++;
          this.block = null;
          this.drop();
          this.discontinuity = true;
          return;
        }
        this.reserved += SEGMENT_BLOCK_BYTES;
        // Every byte served is written first; the unused tail of the last block is never served.
        this.block = Buffer.allocUnsafeSlow(SEGMENT_BLOCK_BYTES);
        this.blockUsed = 0;
      }
      const n = Math.min(data.length - o, this.block.length - this.blockUsed);
      data.copy(this.block, this.blockUsed, o, o + n);
      this.blockUsed += n;
      this.bytes += n;
      o += n;
    }
  }

  private drop(): void {
    if (this.parts.length > 0 || this.partStartByte > 0) this.sink.onGiveUp();
    this.parts = [];
    this.partStartByte = 0;
    if (this.reserved > 0) this.sink.unreserve(this.reserved);
    this.reserved = 0;
    this.blocks = [];
    this.block = null;
    this.blockUsed = 0;
    this.bytes = 0;
    this.building = false;
  }
}
