import { LiveStream, type StreamSettings } from './live-stream.js';

/** Live streams by key ("app/name"); a stream exists while it has a publisher or players. */
export class StreamRegistry {
  private readonly streams = new Map<string, LiveStream>();

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
      stream.dispose();
      this.streams.delete(stream.key);
    }
  }

  values(): IterableIterator<LiveStream> {
    return this.streams.values();
  }

  disposeAll(): void {
    for (const s of this.streams.values()) s.dispose();
    this.streams.clear();
  }
}
