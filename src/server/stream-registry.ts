import { LiveStream, type StreamSettings } from './live-stream.js';
import { newDropCounters, type DropCounters } from './send-queue.js';

/** Live streams by key ("app/name"); a stream exists while it has a publisher or players. */
export class StreamRegistry {
  private readonly streams = new Map<string, LiveStream>();
  /** Drops counted by streams that are gone, so server totals keep counting from the start. */
  readonly retiredDrops: DropCounters = newDropCounters();

  constructor(private readonly settings: StreamSettings) {}

  get size(): number {
    return this.streams.size;
  }

  get(key: string): LiveStream | undefined {
    return this.streams.get(key);
  }

  getOrCreate(key: string): LiveStream {
    let s = this.streams.get(key);
    if (s === undefined) {
      s = new LiveStream(key, this.settings);
      this.streams.set(key, s);
    }
    return s;
  }

  /** Drops the stream if nobody publishes or plays it any more. */
  releaseIfIdle(stream: LiveStream): void {
    if (stream.idle && this.streams.get(stream.key) === stream) {
      this.retire(stream);
      stream.dispose();
      this.streams.delete(stream.key);
    }
  }

  private retire(stream: LiveStream): void {
    const d = stream.stats().drops;
    this.retiredDrops.video += d.video;
    this.retiredDrops.audio += d.audio;
    this.retiredDrops.data += d.data;
    this.retiredDrops.bytes += d.bytes;
  }

  values(): IterableIterator<LiveStream> {
    return this.streams.values();
  }

  disposeAll(): void {
    for (const s of this.streams.values()) {
      this.retire(s);
      s.dispose();
    }
    this.streams.clear();
  }
}
