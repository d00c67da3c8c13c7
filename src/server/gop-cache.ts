import type { BufferAllocator } from '../protocol/allocator.js';
import { MessageClass, type SharedMessage } from './shared-message.js';

/**
 * A frame kept as the publisher sent it (payload only, in a buffer the cache owns): a stream
 * with no players does not pay for encoding until someone joins.
 */
export interface RawFrame {
  typeId: number;
  csid: number;
  timestamp: number;
  payload: Buffer;
  cls: MessageClass;
}

/** One cached message: encoded, or raw until a joiner needs it encoded. */
interface Entry {
  shared: SharedMessage | null;
  raw: RawFrame | null;
}

/**
 * The messages of the current group of pictures (from its keyframe on, audio included), so a
 * joiner can start decoding at once. Bounded by a frame count and a byte count: a stream whose
 * GOP outgrows either (or that never sends a keyframe) has its cache emptied until the next
 * keyframe, so memory stays bounded.
 */
export class GopCache {
  private entries: Entry[] = [];
  private bytes = 0;
  private frames = 0;
  /** True from a keyframe until the caps are hit. */
  private active = false;
  /** Times the cache was emptied because a cap was hit. */
  overflows = 0;

  constructor(
    private readonly maxFrames: number,
    private readonly maxBytes: number,
    /** Where raw payload buffers go back to. */
    private readonly pool: BufferAllocator,
  ) {}

  get byteLength(): number {
    return this.bytes;
  }

  get length(): number {
    return this.entries.length;
  }

  /** Whether a message of this class would be kept (so callers can skip preparing it). */
  wants(cls: MessageClass): boolean {
    return (
      cls === MessageClass.VIDEO_KEY || (this.active && cls !== MessageClass.CONTROL && cls !== MessageClass.CONFIG)
    );
  }

  /** Keeps an encoded message (retaining it). */
  add(msg: SharedMessage): void {
    if (this.admit(msg.cls, msg.byteLength)) this.entries.push({ shared: msg.retain(), raw: null });
  }

  /**
   * Keeps a raw frame, taking ownership of its payload buffer (from `pool`). Returns false when
   * the frame is not kept; the buffer then still belongs to the caller.
   */
  addRaw(frame: RawFrame): boolean {
    if (!this.admit(frame.cls, frame.payload.length)) return false;
    this.entries.push({ shared: null, raw: frame });
    return true;
  }

  /**
   * The cached messages in order, encoded: raw frames are encoded now (with `encode`), once,
   * and kept encoded for later joiners. The caller retains what it keeps.
   */
  snapshot(encode: (f: RawFrame) => SharedMessage): readonly SharedMessage[] {
    const out: SharedMessage[] = [];
    for (const e of this.entries) {
      if (e.raw !== null) {
        e.shared = encode(e.raw);
        this.pool.release(e.raw.payload);
        e.raw = null;
      }
      out.push(e.shared!);
    }
    return out;
  }

  clear(): void {
    for (const e of this.entries) {
      if (e.shared !== null) e.shared.release();
      else if (e.raw !== null) this.pool.release(e.raw.payload);
    }
    this.entries = [];
    this.bytes = 0;
    this.frames = 0;
    this.active = false;
  }

  /** Applies the keyframe rule and the caps; true when the message is to be stored. */
  private admit(cls: MessageClass, size: number): boolean {
    if (cls === MessageClass.VIDEO_KEY) {
      this.clear();
      this.active = true;
    } else if (!this.active || cls === MessageClass.CONTROL || cls === MessageClass.CONFIG) {
      return false;
    }
    const isFrame = cls >= MessageClass.VIDEO_KEY;
    if (this.bytes + size > this.maxBytes || (isFrame && this.frames + 1 > this.maxFrames)) {
      this.clear();
      this.overflows++;
      return false;
    }
    this.bytes += size;
    if (isFrame) this.frames++;
    return true;
  }
}
