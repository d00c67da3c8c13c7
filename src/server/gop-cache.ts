import { MessageClass, type SharedMessage } from './shared-message.js';

/**
 * The messages of the current group of pictures (from its keyframe on, audio included), so a
 * joiner can start decoding at once. Bounded by a frame count and a byte count: a stream whose
 * GOP outgrows either (or that never sends a keyframe) has its cache emptied until the next
 * keyframe, so memory stays bounded.
 */
export class GopCache {
  private entries: SharedMessage[] = [];
  private bytes = 0;
  private frames = 0;
  /** True from a keyframe until the caps are hit. */
  private active = false;
  /** Times the cache was emptied because a cap was hit. */
  overflows = 0;

  constructor(
    private readonly maxFrames: number,
    private readonly maxBytes: number,
  ) {}

  get byteLength(): number {
    return this.bytes;
  }

  get length(): number {
    return this.entries.length;
  }

  add(msg: SharedMessage): void {
    const cls = msg.cls;
    if (cls === MessageClass.VIDEO_KEY) {
      this.clear();
      this.active = true;
    } else if (!this.active || cls === MessageClass.CONTROL || cls === MessageClass.CONFIG) {
      return;
    }
    const isFrame = cls >= MessageClass.VIDEO_KEY;
    if (this.bytes + msg.byteLength > this.maxBytes || (isFrame && this.frames + 1 > this.maxFrames)) {
      this.clear();
      this.overflows++;
      return;
    }
    this.entries.push(msg.retain());
    this.bytes += msg.byteLength;
    if (isFrame) this.frames++;
  }

  /** The cached messages in order (the caller retains what it keeps). */
  snapshot(): readonly SharedMessage[] {
    return this.entries;
  }

  clear(): void {
    for (const m of this.entries) m.release();
    this.entries = [];
    this.bytes = 0;
    this.frames = 0;
    this.active = false;
  }
}
