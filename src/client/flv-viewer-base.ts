import type { ClientClose } from './errors.js';
import { FlvFrames } from './flv-frames.js';
import {
  newViewerCounters,
  newViewerTimings,
  type FrameSink,
  type ViewerCounters,
  type ViewerOptions,
  type ViewerTimings,
} from './viewer.js';

/**
 * What the HTTP-FLV and WebSocket-FLV viewers share: a live FLV stream read into frames (the
 * FLV reader skims each tag; marks are read as the RTMP player reads them), start-up timings,
 * counters, and one way to end. Each subclass brings its transport and releases it in `release`.
 */
export abstract class FlvViewerBase {
  readonly url: URL;
  readonly timings: ViewerTimings;
  readonly counters: ViewerCounters = newViewerCounters();
  onEnd: ((end: ClientClose) => void) | null;
  protected readonly frames: FlvFrames;
  private ended = false;

  protected constructor(opts: ViewerOptions, openUs: number) {
    this.url = new URL(opts.url);
    this.timings = newViewerTimings(openUs);
    this.frames = new FlvFrames(this.counters, this.timings);
    this.frames.onFrame = opts.onFrame ?? null;
    this.onEnd = opts.onEnd ?? null;
    this.frames.onBroken = (e) => this.end('protocol', `the FLV stream broke: ${e.message}`);
  }

  get onFrame(): FrameSink | null {
    return this.frames.onFrame;
  }

  set onFrame(sink: FrameSink | null) {
    this.frames.onFrame = sink;
  }

  get closed(): boolean {
    return this.ended;
  }

  close(): void {
    this.end('local', 'closed by the viewer');
  }

  /** Bytes of the stream as they arrive. */
  protected received(chunk: Buffer): void {
    if (!this.ended) this.frames.push(chunk);
  }

  /** Lets go of the transport (the request, the socket). */
  protected abstract release(): void;

  /** Stops everything; tells `onEnd` unless opening failed (`open` rejects then). */
  protected end(kind: ClientClose['kind'], message: string, notify = true): void {
    if (this.ended) return;
    this.ended = true;
    this.release();
    this.frames.destroy();
    if (notify) this.onEnd?.({ kind, message });
  }
}
