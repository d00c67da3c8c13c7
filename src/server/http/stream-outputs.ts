import type { BufferPool } from '../../buffers/buffer-pool.js';
import { rewriteSetDataFrame } from '../../protocol/commands.js';
import { MSG_AUDIO, MSG_DATA_AMF0, MSG_VIDEO } from '../../protocol/constants.js';
import { closeReason, type CloseReason } from '../close-reason.js';
import type { ServerConfig } from '../config.js';
import type { LiveStream } from '../live-stream.js';
import type { Logger } from '../logger.js';
import { audioClass, MessageClass, type SharedMessage, videoClass } from '../shared-message.js';
import type { StreamTap } from '../stream-tap.js';
import { readFanoutWire } from './fanout-wire.js';
import { FlvFanout } from './flv-fanout.js';
import type { FlvForm } from './flv-tags.js';
import type { FlvViewer } from './flv-viewer.js';
import type { HlsSegmenter } from './hls-segmenter.js';
import type { HlsStream } from './hls-stream.js';

export interface StreamOutputsHost {
  readonly config: ServerConfig;
  readonly pool: BufferPool;
  readonly logger: Logger;
  /** The outputs feed nothing any more and left their stream. */
  onDetached(outputs: StreamOutputs): void;
}

/** When viewers' queues are flushed: after each message, at the end of each publisher read, or on the merge timer. */
type FlushMode = 'message' | 'read' | 'timer';

// Classification results are written into these (single-threaded, used synchronously).

/**
 * The HTTP outputs of one live stream, as the stream's tap: its HTTP-FLV and WebSocket-FLV
 * fan-outs and its HLS segmenter, each present only while in use. Each message is classified
 * once (as the stream classifies it) and handed to each. Outputs that start mid-stream are
 * filled from what the stream holds: metadata, sequence headers and its GOP cache.
 */
export class StreamOutputs implements StreamTap {
  readonly key: string;
  readonly stream: LiveStream;
  private readonly host: StreamOutputsHost;
  private readonly flushMode: FlushMode;
  private readonly fanouts: Record<FlvForm, FlvFanout | null> = { 'http-flv': null, 'ws-flv': null };
  private hls: HlsStream | null = null;
  private segmenter: HlsSegmenter | null = null;
  private flushQueued = false;
  private attached = false;
  private readonly flushBound = () => {
    this.flushQueued = false;
    this.flush();
  };
  /** Messages an output could not take (malformed frames); the first is logged. */
  errors = 0;

  constructor(stream: LiveStream, host: StreamOutputsHost) {
    this.key = stream.key;
    this.stream = stream;
    this.host = host;
    const cfg = host.config;
    this.flushMode = cfg.mergeWriteMs > 0 ? 'timer' : cfg.batchReads ? 'read' : 'message';
  }

  get empty(): boolean {
    return this.fanouts['http-flv'] === null && this.fanouts['ws-flv'] === null && this.hls === null;
  }

  viewers(form: FlvForm): number {
    return this.fanouts[form]?.size ?? 0;
  }

  /** Adds an FLV viewer; the first of its form starts that form's fan-out from the stream's caches. */
  addViewer(viewer: FlvViewer): void {
    let fanout = this.fanouts[viewer.form];
    if (fanout === null) {
      const cfg = this.host.config;
      fanout = new FlvFanout(viewer.form, {
        pool: this.host.pool,
        gopCache: cfg.gopCache,
        gopCacheMaxFrames: cfg.gopCacheMaxFrames,
        gopCacheMaxBytes: cfg.gopCacheMaxBytes,
      });
      const f = fanout;
      this.replay((typeId, ts, payload, cls) => f.onMessage(typeId, ts, payload, cls));
      this.fanouts[viewer.form] = fanout;
    }
    fanout.add(viewer);
    this.attach();
  }

  removeViewer(viewer: FlvViewer): void {
    const fanout = this.fanouts[viewer.form];
    if (fanout === null) return;
    fanout.remove(viewer);
    if (fanout.size > 0) return;
    fanout.dispose();
    this.fanouts[viewer.form] = null;
    this.detachIfEmpty();
  }

  /** Starts muxing this publication into `hls`, from the stream's caches on. */
  startHls(hls: HlsStream): void {
    this.segmenter = hls.start();
    this.hls = hls;
    const segmenter = this.segmenter;
    this.replay((typeId, ts, payload, cls) => segmenter.onMessage(typeId, ts, payload, cls));
    segmenter.replayed();
    this.attach();
  }

  /** Stops muxing (nobody asks for HLS of this stream any more). */
  stopHls(): void {
    this.hls = null;
    this.segmenter = null;
    this.detachIfEmpty();
  }

  onMessage(typeId: number, timestamp: number, payload: Buffer): void {
    let cls: MessageClass;
    if (typeId === MSG_VIDEO) {
      cls = videoClass(payload);
    } else if (typeId === MSG_AUDIO) {
      cls = audioClass(payload);
    } else {
      const rewritten = rewriteSetDataFrame(payload);
      cls = rewritten !== payload ? MessageClass.CONFIG : MessageClass.DATA;
      payload = rewritten;
      typeId = MSG_DATA_AMF0;
    }
    this.dispatch(typeId, timestamp, payload, cls);
    if (this.flushMode === 'message') this.flush();
    else if (this.flushMode === 'read' && !this.flushQueued) {
      // Runs once the publisher's read has been handled: what it brought leaves in one write per viewer.
      this.flushQueued = true;
      queueMicrotask(this.flushBound);
    }
  }

  onUnpublish(): void {
    this.flush();
    this.hls?.end();
    this.hls = null;
    this.segmenter = null;
    this.closeViewers(closeReason('unpublished'), true);
    this.detach();
  }

  /** Hands what every viewer's queue holds to its socket. */
  flush(): void {
    this.fanouts['http-flv']?.flush();
    this.fanouts['ws-flv']?.flush();
  }

  /** Closes every FLV viewer (gracefully: queued bytes first, the end of the response after). */
  closeViewers(reason: CloseReason, graceful: boolean): void {
    for (const form of ['http-flv', 'ws-flv'] as const) {
      for (const v of this.fanouts[form]?.list() ?? []) {
        if (graceful) v.end(reason);
        else v.close(reason);
      }
    }
  }

  /** Configs to resend to a viewer of `form` after they were dropped. */
  configMessages(form: FlvForm): SharedMessage[] {
    return this.fanouts[form]?.configMessages() ?? [];
  }

  private dispatch(typeId: number, timestamp: number, payload: Buffer, cls: MessageClass): void {
    const http = this.fanouts['http-flv'];
    const ws = this.fanouts['ws-flv'];
    if (http !== null) http.onMessage(typeId, timestamp, payload, cls);
    if (ws !== null) ws.onMessage(typeId, timestamp, payload, cls);
    const segmenter = this.segmenter;
    if (segmenter !== null) {
      try {
        segmenter.onMessage(typeId, timestamp, payload, cls);
      } catch (e) {
        // A frame the muxer cannot read costs HLS viewers that frame, never the publisher its connection.
        if (this.errors++ === 0)
          this.host.logger.warn('hls: frame skipped', { stream: this.key, error: (e as Error).message });
      }
    }
  }

  /** Feeds `take` what the stream holds now: metadata, sequence headers, the GOP cache. */
  private replay(take: (typeId: number, timestamp: number, payload: Buffer, cls: MessageClass) => void): void {
    const chunkSize = this.host.config.chunkSize;
    for (const m of this.stream.cachedMessages()) {
      try {
        const w = readFanoutWire(m.wire, chunkSize);
        take(w.typeId, w.timestamp, w.payload, m.cls);
      } catch (e) {
        if (this.errors++ === 0)
          this.host.logger.warn('http outputs: cached frame skipped', {
            stream: this.key,
            error: (e as Error).message,
          });
      }
    }
  }

  private attach(): void {
    if (this.attached) return;
    this.attached = true;
    this.stream.tap = this;
  }

  private detachIfEmpty(): void {
    if (this.empty) this.detach();
  }

  private detach(): void {
    if (!this.attached) return;
    this.attached = false;
    if (this.stream.tap === this) this.stream.tap = null;
    this.host.onDetached(this);
  }
}
