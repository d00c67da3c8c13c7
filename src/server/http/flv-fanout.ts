import type { BufferPool } from '../../buffers/buffer-pool.js';
import { MSG_AUDIO, MSG_VIDEO } from '../../protocol/constants.js';
import { GopCache } from '../gop-cache.js';
import { configMessageList, MessageClass, SharedMessage } from '../shared-message.js';
import { encodeFlvTag, flvFileHeader, type FlvForm } from './flv-tags.js';
import type { FlvViewer } from './flv-viewer.js';

export interface FlvFanoutSettings {
  pool: BufferPool;
  gopCache: boolean;
  gopCacheMaxFrames: number;
  gopCacheMaxBytes: number;
}

const NOT_RAW = (): never => {
  throw new Error('the FLV GOP cache holds encoded tags only');
};

/**
 * The FLV viewers of one stream in one form (HTTP body or WebSocket messages), fed like the
 * stream's RTMP players: each message is encoded once into an FLV tag in a pooled buffer, and
 * that buffer is offered to every viewer's send queue; the latest metadata and sequence headers
 * and a GOP cache (with the server's caps) start joiners at a keyframe. It exists while the
 * form has viewers; the first one's fan-out is filled from the stream's own caches.
 */
export class FlvFanout {
  readonly form: FlvForm;
  private readonly pool: BufferPool;
  private readonly viewers: FlvViewer[] = [];
  private readonly gop: GopCache | null;
  private metadata: SharedMessage | null = null;
  private videoConfig: SharedMessage | null = null;
  private audioConfig: SharedMessage | null = null;

  constructor(form: FlvForm, settings: FlvFanoutSettings) {
    this.form = form;
    this.pool = settings.pool;
    this.gop = settings.gopCache
      ? new GopCache(settings.gopCacheMaxFrames, settings.gopCacheMaxBytes, settings.pool)
      : null;
  }

  get size(): number {
    return this.viewers.length;
  }

  /** Hot path: one message of the stream, classified as the stream classifies it. */
  onMessage(typeId: number, timestampMs: number, payload: Buffer, cls: MessageClass): void {
    const pool = this.pool;
    const msg = new SharedMessage(encodeFlvTag(typeId, timestampMs, payload, this.form, pool), cls, timestampMs, pool);
    if (cls === MessageClass.CONFIG)
      this.replace(
        typeId === MSG_VIDEO ? 'videoConfig' : typeId === MSG_AUDIO ? 'audioConfig' : 'metadata',
        msg.retain(),
      );
    else this.gop?.add(msg);
    const viewers = this.viewers;
    for (let i = 0; i < viewers.length; i++) viewers[i]!.queue.offer(msg);
    msg.release();
  }

  /** A joiner: the FLV header, metadata and sequence headers, then the GOP cache (or it waits for a keyframe). */
  add(viewer: FlvViewer): void {
    viewer.sendConstant(flvFileHeader(this.form, this.audioConfig !== null, this.videoConfig !== null));
    for (const m of this.configMessages()) viewer.queue.sendControl(m);
    const cached = this.gop?.snapshot(NOT_RAW) ?? [];
    if (cached.length === 0) viewer.queue.waitForKeyframe();
    for (const m of cached) viewer.queue.offer(m);
    viewer.flush();
    this.viewers.push(viewer);
  }

  remove(viewer: FlvViewer): void {
    const i = this.viewers.indexOf(viewer);
    if (i < 0) return;
    const last = this.viewers.pop()!;
    if (i < this.viewers.length) this.viewers[i] = last;
  }

  /** Hands what the viewers' queues hold to their sockets. */
  flush(): void {
    const viewers = this.viewers;
    for (let i = 0; i < viewers.length; i++) viewers[i]!.flush();
  }

  /** Metadata and sequence headers, to resend before a keyframe after they were dropped. */
  configMessages(): SharedMessage[] {
    return configMessageList(this.metadata, this.videoConfig, this.audioConfig);
  }

  /** Viewers now, for closing them (a copy: closing one removes it). */
  list(): FlvViewer[] {
    return [...this.viewers];
  }

  /** Releases the caches. */
  dispose(): void {
    this.replace('metadata', null);
    this.replace('videoConfig', null);
    this.replace('audioConfig', null);
    this.gop?.clear();
  }

  private replace(field: 'metadata' | 'videoConfig' | 'audioConfig', next: SharedMessage | null): void {
    this[field]?.release();
    this[field] = next;
  }
}
