import type { BufferPool } from '../buffers/buffer-pool.js';
import { encodeMessageContiguous } from '../protocol/chunk-writer.js';
import { onStatusCommand, rewriteSetDataFrame, Status } from '../protocol/commands.js';
import { CSID_AUDIO, CSID_DATA, CSID_VIDEO, MSG_AUDIO, MSG_DATA_AMF0, MSG_VIDEO } from '../protocol/constants.js';
import { streamBeginMessage, streamEofMessage } from '../protocol/control.js';
import type { OutgoingMessage } from '../protocol/message.js';
import { FanOut, type BatchWindow, type FanOutMember } from './fan-out.js';
import { GopCache } from './gop-cache.js';
import { newDropCounters, priorityShare, type DropCounters, type SendQueue } from './send-queue.js';
import { audioClass, configMessageList, MessageClass, SharedMessage, videoClass } from './shared-message.js';
import type { StreamTap } from './stream-tap.js';

/** The message stream id media is encoded for; players on other ids get a patched copy. */
const FANOUT_STREAM_ID = 1;

export interface StreamSettings {
  chunkSize: number;
  /** Media waits for `flushBatch()` and goes out as one buffer: every tick (merged writes) or after each read. */
  batched: boolean;
  /** Batches are flushed at the end of each read of the publisher (none is pending between reads). */
  flushPerRead: boolean;
  gopCache: boolean;
  gopCacheMaxFrames: number;
  gopCacheMaxBytes: number;
  pool: BufferPool;
  /** Called when a publisher starts (the HTTP outputs may start muxing the stream). */
  onPublish?: (stream: LiveStream) => void;
}

/** A player of a stream: the peer's send queue and the NetStream id it plays on. */
export interface PlayerBinding {
  readonly sessionId: number;
  readonly streamId: number;
  readonly queue: SendQueue;
}

export interface StreamStats {
  key: string;
  publishing: boolean;
  players: number;
  messagesIn: number;
  bytesIn: number;
  videoFramesIn: number;
  audioFramesIn: number;
  drops: DropCounters;
  gopCacheBytes: number;
  gopCacheMessages: number;
  gopCacheOverflows: number;
}

// Classification results are written into these (single-threaded, used synchronously).

/**
 * One live stream (app/name): at most one publisher, any number of players. Each media
 * message is encoded once, in wire form, and the same buffer is offered to every player's
 * send queue; joiners get metadata, sequence headers and the GOP cache first.
 */
export class LiveStream {
  readonly key: string;
  private readonly settings: StreamSettings;
  private readonly fanout = new FanOut();
  private readonly members = new Map<PlayerBinding, StreamMember>();
  private readonly gop: GopCache | null;
  publisherSessionId = 0;
  private metadata: SharedMessage | null = null;
  private videoConfig: SharedMessage | null = null;
  private audioConfig: SharedMessage | null = null;
  private readonly drops = newDropCounters();
  private messagesIn = 0;
  private bytesIn = 0;
  private videoFramesIn = 0;
  private audioFramesIn = 0;
  /** Media arrived since publish started (for the publisher's idle check). */
  lastMediaAtMs = 0;
  /** The stream's HTTP outputs, fed every message the publisher sends; null while none is in use. */
  tap: StreamTap | null = null;
  /** Merged writes: messages since the last flush, in order (each holds a reference). */
  private pending: SharedMessage[] = [];
  private pendingBytes = 0;
  private pendingMinShare = 1;

  constructor(key: string, settings: StreamSettings) {
    this.key = key;
    this.settings = settings;
    this.gop = settings.gopCache
      ? new GopCache(settings.gopCacheMaxFrames, settings.gopCacheMaxBytes, settings.pool)
      : null;
  }

  get publishing(): boolean {
    return this.publisherSessionId !== 0;
  }

  get playerCount(): number {
    return this.members.size;
  }

  get idle(): boolean {
    return !this.publishing && this.members.size === 0;
  }

  /** Encodes a message for this stream's players (fan-out form, pooled, one reference). */
  encode(msg: OutgoingMessage, cls: MessageClass): SharedMessage {
    const pool = this.settings.pool;
    return new SharedMessage(encodeMessageContiguous(msg, this.settings.chunkSize, pool), cls, msg.timestamp, pool);
  }

  startPublishing(sessionId: number): void {
    this.publisherSessionId = sessionId;
    this.lastMediaAtMs = performance.now();
    this.fanout.drain();
    for (const p of this.members.keys()) {
      this.sendTo(
        p,
        onStatusCommand(p.streamId, {
          level: 'status',
          code: Status.PLAY_PUBLISH_NOTIFY,
          description: `${this.key} is now published`,
        }),
      );
      this.sendTo(p, streamBeginMessage(p.streamId));
      p.queue.waitForKeyframe();
    }
    this.settings.onPublish?.(this);
  }

  /** The publisher left: players get end-of-stream and stay, waiting for the next publisher. */
  stopPublishing(): void {
    if (!this.publishing) return;
    this.flushBatch(); // the last frames go out before the end-of-stream
    this.fanout.drain();
    this.publisherSessionId = 0;
    for (const p of this.members.keys()) {
      this.sendTo(p, streamEofMessage(p.streamId));
      this.sendTo(
        p,
        onStatusCommand(p.streamId, {
          level: 'status',
          code: Status.PLAY_UNPUBLISH_NOTIFY,
          description: `${this.key} is now unpublished`,
        }),
      );
    }
    this.replace('metadata', null);
    this.replace('videoConfig', null);
    this.replace('audioConfig', null);
    this.gop?.clear();
    this.tap?.onUnpublish();
  }

  /**
   * A new player: metadata, sequence headers and the GOP cache go out at once, as one write;
   * live batches follow from the next one published.
   */
  addPlayer(p: PlayerBinding): void {
    const member = new StreamMember(p, this);
    this.members.set(p, member);
    if (this.publishing) {
      for (const m of this.configMessages()) this.offerTo(p, m, 'queue');
      const cached = this.gopMessages();
      if (cached.length === 0) p.queue.waitForKeyframe();
      for (const m of cached) this.offerTo(p, m, 'offer');
    }
    // Sent at the joiner's first visit, after the live frames of the pass under way.
    this.fanout.add(member, p.queue.pending);
  }

  removePlayer(p: PlayerBinding): void {
    const member = this.members.get(p);
    if (member === undefined) return;
    this.members.delete(p);
    this.fanout.remove(member);
  }

  /**
   * Hot path: one audio, video or data message from the publisher. `owned` says the payload is
   * a pool buffer the caller would release; returns true when the stream kept it instead.
   */
  onPublisherMessage(typeId: number, timestamp: number, payload: Buffer, owned = false): boolean {
    let cls: MessageClass;
    let csid: number;
    this.messagesIn++;
    this.bytesIn += payload.length;
    if (this.tap !== null) this.tap.onMessage(typeId, timestamp, payload);
    if (typeId === MSG_VIDEO) {
      csid = CSID_VIDEO;
      cls = videoClass(payload);
      if (cls >= MessageClass.VIDEO_KEY) this.videoFramesIn++;
      this.lastMediaAtMs = performance.now();
    } else if (typeId === MSG_AUDIO) {
      csid = CSID_AUDIO;
      cls = audioClass(payload);
      if (cls === MessageClass.AUDIO) this.audioFramesIn++;
      this.lastMediaAtMs = performance.now();
    } else {
      csid = CSID_DATA;
      const rewritten = rewriteSetDataFrame(payload);
      cls = rewritten !== payload ? MessageClass.CONFIG : MessageClass.DATA;
      payload = rewritten;
      typeId = MSG_DATA_AMF0;
    }
    if (
      cls !== MessageClass.CONFIG &&
      this.members.size === 0 &&
      (!this.settings.batched || (this.settings.flushPerRead && this.pending.length === 0))
    ) {
      // Nobody to send to: keep the frame for the GOP cache as it came, encode it if someone joins.
      const gop = this.gop;
      if (gop === null || !gop.wants(cls)) return false;
      const pool = this.settings.pool;
      let buf = payload;
      if (!owned) {
        buf = pool.acquire(payload.length);
        payload.copy(buf);
      }
      const kept = gop.addRaw({ typeId, csid, timestamp, payload: buf, cls });
      if (!kept && !owned) pool.release(buf);
      return kept && owned;
    }
    const msg = this.encode({ csid, typeId, streamId: FANOUT_STREAM_ID, timestamp, payload }, cls);
    if (cls === MessageClass.CONFIG) {
      this.replace(
        typeId === MSG_VIDEO ? 'videoConfig' : typeId === MSG_AUDIO ? 'audioConfig' : 'metadata',
        msg.retain(),
      );
    }
    if (this.settings.batched) {
      // Held until the next flush; the GOP cache takes it then, so joiners never get it twice.
      this.pending.push(msg);
      this.pendingBytes += msg.byteLength;
      const s = priorityShare(cls);
      if (s < this.pendingMinShare) this.pendingMinShare = s;
      return false;
    }
    if (cls !== MessageClass.CONFIG) this.gop?.add(msg);
    this.fanout.publish({ wire: msg.retain(), messages: [msg], minShare: priorityShare(cls) });
    return false;
  }

  /**
   * Sends what arrived since the last flush (at the end of a read, or on the merge timer): the
   * messages are concatenated once into one buffer, which every player in step takes whole.
   */
  flushBatch(): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    const minShare = this.pendingMinShare;
    this.pendingMinShare = 1;
    const pool = this.settings.pool;
    let batch: SharedMessage | null = null;
    if (pending.length === 1) {
      batch = pending[0]!.retain();
    } else {
      const wire = pool.acquire(this.pendingBytes);
      let o = 0;
      for (const m of pending) o += m.wire.copy(wire, o);
      batch = new SharedMessage(wire, MessageClass.DATA, pending[pending.length - 1]!.timestamp, pool);
    }
    this.pendingBytes = 0;
    for (const m of pending) if (m.cls !== MessageClass.CONFIG) this.gop?.add(m);
    this.fanout.publish({ wire: batch, messages: pending, minShare });
  }

  /** Offers batches [from, to) to one player (the fan-out's visit). */
  takeBatches(p: PlayerBinding, window: BatchWindow, from: number, to: number): void {
    if (to - from === 1 && p.streamId === FANOUT_STREAM_ID) {
      // The common case: one batch for a player in step, written at once if it can be.
      const b = window.at(from);
      if (p.queue.writeBatchNow(b.wire, b.messages.length)) return;
    }
    for (let s = from; s < to; s++) {
      const b = window.at(s);
      if (p.streamId === FANOUT_STREAM_ID) p.queue.offerBatch(b.wire, b.messages, b.minShare);
      else for (const m of b.messages) this.offerTo(p, m, 'offer');
    }
  }

  /** Sequence headers and metadata to resend before a keyframe after they were dropped. */
  readonly configMessages = (): SharedMessage[] => {
    return configMessageList(this.metadata, this.videoConfig, this.audioConfig);
  };

  /**
   * Metadata, sequence headers, the GOP cache and what waits for the next flush, in order and in
   * fan-out form: what an output that starts mid-stream needs first.
   */
  cachedMessages(): SharedMessage[] {
    return [
      ...this.configMessages(),
      ...this.gopMessages(),
      ...this.pending.filter((m) => m.cls !== MessageClass.CONFIG),
    ];
  }

  /** The GOP cache in fan-out form (empty without one). */
  private gopMessages(): readonly SharedMessage[] {
    return (
      this.gop?.snapshot((f) =>
        this.encode(
          { csid: f.csid, typeId: f.typeId, streamId: FANOUT_STREAM_ID, timestamp: f.timestamp, payload: f.payload },
          f.cls,
        ),
      ) ?? []
    );
  }

  /** Counts a drop against this stream. */
  countDrop(msg: SharedMessage): void {
    const d = this.drops;
    if (msg.cls >= MessageClass.VIDEO_KEY) d.video++;
    else if (msg.cls === MessageClass.AUDIO) d.audio++;
    else d.data++;
    d.bytes += msg.byteLength;
  }

  stats(): StreamStats {
    return {
      key: this.key,
      publishing: this.publishing,
      players: this.members.size,
      messagesIn: this.messagesIn,
      bytesIn: this.bytesIn,
      videoFramesIn: this.videoFramesIn,
      audioFramesIn: this.audioFramesIn,
      drops: { ...this.drops },
      gopCacheBytes: this.gop?.byteLength ?? 0,
      gopCacheMessages: this.gop?.length ?? 0,
      gopCacheOverflows: this.gop?.overflows ?? 0,
    };
  }

  /** Releases everything the stream holds (server shutdown, or the stream went idle). */
  dispose(): void {
    this.fanout.dispose();
    for (const m of this.pending) m.release();
    this.pending = [];
    this.pendingBytes = 0;
    this.replace('metadata', null);
    this.replace('videoConfig', null);
    this.replace('audioConfig', null);
    this.gop?.clear();
  }

  private sendTo(p: PlayerBinding, msg: OutgoingMessage): void {
    const shared = this.encode(msg, MessageClass.CONTROL);
    p.queue.sendControl(shared);
    shared.release();
  }

  /** Offers a message to one player: through its policy, or (`queue`) as one it must get. */
  private offerTo(p: PlayerBinding, msg: SharedMessage, how: 'offer' | 'queue'): void {
    const target = p.streamId === FANOUT_STREAM_ID ? msg : retarget(msg, p.streamId, this.settings.pool);
    if (how === 'queue') p.queue.queueControl(target);
    else p.queue.offer(target);
    if (target !== msg) target.release();
  }

  private replace(field: 'metadata' | 'videoConfig' | 'audioConfig', next: SharedMessage | null): void {
    this[field]?.release();
    this[field] = next;
  }
}

/** A player in the stream's fan-out. */
class StreamMember implements FanOutMember {
  nextSeq = 0;
  readonly queue: SendQueue;

  constructor(
    private readonly binding: PlayerBinding,
    private readonly stream: LiveStream,
  ) {
    this.queue = binding.queue;
  }

  take(window: BatchWindow, from: number, to: number): void {
    this.stream.takeBatches(this.binding, window, from, to);
  }
}

/**
 * The same message for a player on another message stream id: a copy with the stream id of
 * its fmt-0 header patched (continuation chunks carry no stream id).
 */
function retarget(msg: SharedMessage, streamId: number, pool: BufferPool): SharedMessage {
  const wire = pool.acquire(msg.byteLength);
  msg.wire.copy(wire);
  const basic = (wire[0]! & 0x3f) === 0 ? 2 : (wire[0]! & 0x3f) === 1 ? 3 : 1;
  wire.writeUInt32LE(streamId >>> 0, basic + 7);
  return new SharedMessage(wire, msg.cls, msg.timestamp, pool);
}
