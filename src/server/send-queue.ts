import type { Socket } from 'node:net';
import { RingQueue } from '../buffers/ring-queue.js';
import type { BackpressurePolicy } from './config.js';
import { isVideoFrame, MessageClass, type SharedMessage } from './shared-message.js';

export interface DropCounters {
  /** Video frames dropped (including those skipped while waiting for a keyframe after a drop). */
  video: number;
  audio: number;
  data: number;
  /** Bytes of everything dropped. */
  bytes: number;
}

export function newDropCounters(): DropCounters {
  return { video: 0, audio: 0, data: 0, bytes: 0 };
}

export interface SendQueueOptions {
  policy: BackpressurePolicy;
  maxQueuedBytes: number;
  disconnectGraceMs: number;
  /** Messages wait for `flush()` (merged writes) instead of being written at once. */
  merge: boolean;
  /** Called when the queue decides the player must go (policy `disconnect`). */
  onOverflow: (queuedBytes: number) => void;
  /** Called on every drop, for the stream's counters. */
  onDrop: (msg: SharedMessage) => void;
  /** Messages to send before the next accepted keyframe after config was dropped. */
  pendingConfig: () => readonly SharedMessage[];
  /** Server-wide I/O counters this queue adds to. */
  io?: IoCounters;
}

/** What the server hands the kernel: write calls (one per write, or one per corked batch) and the messages in them. */
export interface IoCounters {
  writes: number;
  messages: number;
  /** Bytes read from peers into buffers allocated for that read (0 with shared reads). */
  readAllocatedBytes: number;
}

/**
 * Everything a server writes to one peer goes through its SendQueue, so control messages
 * and media stay in order. The queue bounds the bytes buffered for the peer (in Node's socket
 * plus here) by `maxQueuedBytes`, applying the backpressure policy to media that would not fit:
 *
 * - `none`: never drop (unbounded; for comparison only);
 * - `drop-to-keyframe`: drop what does not fit; after a dropped video frame, drop video until
 *   the next keyframe that fits;
 * - `priority-drop`: nginx-style thresholds: disposable frames go when the queue is a quarter
 *   full, inter frames at half, keyframes at three quarters, audio only when full;
 * - `disconnect`: drop what does not fit, and close a peer that stays over for the grace time.
 *
 * Control messages (status, pings) are never dropped. Written buffers are released in the
 * socket's write callbacks, which Node calls in write order.
 */
export class SendQueue {
  private readonly socket: Socket;
  private readonly opts: SendQueueOptions;
  private readonly waiting = new RingQueue<SharedMessage>(16);
  private readonly inFlight = new RingQueue<SharedMessage>(16);
  private waitingBytes = 0;
  private paused = false;
  private closed = false;
  /** Video is skipped until a keyframe: at join without GOP cache, or after a drop. */
  private needKeyframe = false;
  /** Waiting for the first keyframe after joining: skipped frames were never this player's to lose. */
  private joining = false;
  /** Config (sequence headers) was dropped: resend before the next keyframe. */
  private needConfig = false;
  private overSinceMs = 0;
  readonly drops: DropCounters = newDropCounters();
  messagesSent = 0;
  private readonly onWritten: (err?: Error | null) => void;
  private readonly onDrainBound: () => void;

  constructor(socket: Socket, opts: SendQueueOptions) {
    this.socket = socket;
    this.opts = opts;
    this.onWritten = () => {
      this.inFlight.shift()?.release();
    };
    this.onDrainBound = () => this.onDrain();
    socket.on('drain', this.onDrainBound);
  }

  /** Bytes buffered for this peer: in our queue plus in Node's socket buffer. */
  get queuedBytes(): number {
    return this.waitingBytes + this.socket.writableLength;
  }

  get pending(): boolean {
    return this.waiting.length > 0;
  }

  /** Skip video until the next keyframe (a joiner without GOP cache); not counted as drops. */
  waitForKeyframe(): void {
    this.needKeyframe = true;
    this.joining = true;
  }

  /** Queues a message the peer must get (commands, status, config at join): never dropped. */
  sendControl(msg: SharedMessage): void {
    if (this.closed) return;
    this.accept(msg.retain());
  }

  /** Offers a media message; the policy decides whether it is queued or dropped. */
  offer(msg: SharedMessage): void {
    if (this.closed) return;
    const cls = msg.cls;
    if (cls === MessageClass.CONFIG) {
      if (this.fits(msg.byteLength, 1)) {
        this.needConfig = false;
        this.accept(msg.retain());
      } else {
        this.needConfig = true;
        this.drop(msg);
      }
      return;
    }
    if (isVideoFrame(cls)) {
      if (this.needKeyframe && cls !== MessageClass.VIDEO_KEY) {
        if (!this.joining) this.drop(msg);
        return;
      }
      if (!this.fits(msg.byteLength, share(this.opts.policy, cls))) {
        this.joining = false;
        this.drop(msg);
        // Later frames depend on a dropped key or inter frame; nothing depends on a disposable one.
        if (cls !== MessageClass.VIDEO_DISPOSABLE) this.needKeyframe = true;
        return;
      }
      if (cls === MessageClass.VIDEO_KEY) {
        this.needKeyframe = false;
        this.joining = false;
        if (this.needConfig) {
          this.needConfig = false;
          for (const c of this.opts.pendingConfig()) this.accept(c.retain());
        }
      }
      this.accept(msg.retain());
      return;
    }
    if (!this.fits(msg.byteLength, 1)) {
      this.drop(msg);
      return;
    }
    this.accept(msg.retain());
  }

  /**
   * Merged writes: offers a batch (the concatenated wire form of `messages`) as one unit. A
   * peer in step with the stream (not waiting for a keyframe or for config) with room for the
   * whole batch takes it in one write; any other peer gets the messages one by one, through
   * the policy. `minShare` is the smallest queue share any message of the batch may fill.
   */
  offerBatch(batch: SharedMessage, messages: readonly SharedMessage[], minShare: number): void {
    if (this.closed) return;
    if (!this.needKeyframe && !this.needConfig && this.fits(batch.byteLength, this.opts.policy === 'priority-drop' ? minShare : 1)) {
      this.accept(batch.retain(), messages.length);
      return;
    }
    for (const m of messages) this.offer(m);
  }

  /** Writes queued messages (merged writes: one vectored write per call). */
  flush(): void {
    if (this.closed || this.paused || this.waiting.length === 0) return;
    const socket = this.socket;
    const many = this.waiting.length > 1;
    if (many) socket.cork();
    while (this.waiting.length > 0) {
      const msg = this.waiting.shift()!;
      this.waitingBytes -= msg.byteLength;
      if (!this.write(msg, !many)) break;
    }
    if (many) {
      socket.uncork();
      if (this.opts.io !== undefined) this.opts.io.writes++;
    }
  }

  /** Releases everything not yet handed to the socket; the queue accepts nothing more. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.off('drain', this.onDrainBound);
    while (this.waiting.length > 0) this.waiting.shift()!.release();
    this.waitingBytes = 0;
    // In-flight buffers are released by their write callbacks, which Node calls (with an
    // error) when the socket is destroyed. A socket already gone gets them released here.
    if (this.socket.destroyed) this.releaseInFlight();
  }

  releaseInFlight(): void {
    while (this.inFlight.length > 0) this.inFlight.shift()!.release();
  }

  private fits(size: number, fraction: number): boolean {
    const policy = this.opts.policy;
    if (policy === 'none') return true;
    const limit = this.opts.maxQueuedBytes * fraction;
    // A peer with nothing queued takes any one message: a keyframe larger than the bound would
    // otherwise never reach anyone.
    const fits = this.queuedBytes + size <= limit || this.queuedBytes === 0;
    if (policy === 'disconnect') {
      if (!fits) {
        // Over the bound: drop, and close the peer if it has not caught up within the grace time.
        const now = performance.now();
        if (this.overSinceMs === 0) this.overSinceMs = now;
        else if (now - this.overSinceMs >= this.opts.disconnectGraceMs) this.opts.onOverflow(this.queuedBytes);
      } else if (this.queuedBytes < this.opts.maxQueuedBytes / 2) {
        // Caught up (hysteresis: a small message slipping in does not count).
        this.overSinceMs = 0;
      }
    }
    return fits;
  }

  private drop(msg: SharedMessage): void {
    const d = this.drops;
    if (isVideoFrame(msg.cls)) d.video++;
    else if (msg.cls === MessageClass.AUDIO) d.audio++;
    else d.data++;
    d.bytes += msg.byteLength;
    this.opts.onDrop(msg);
  }

  private accept(msg: SharedMessage, messages = 1): void {
    if (this.opts.io !== undefined) this.opts.io.messages += messages;
    if (this.opts.merge || this.paused || this.waiting.length > 0) {
      this.waiting.push(msg);
      this.waitingBytes += msg.byteLength;
      return;
    }
    this.write(msg);
  }

  /** Hands one message to the socket; returns false once the socket asks us to wait. */
  private write(msg: SharedMessage, counted = true): boolean {
    this.inFlight.push(msg);
    this.messagesSent++;
    if (counted && this.opts.io !== undefined) this.opts.io.writes++;
    if (!this.socket.write(msg.wire, this.onWritten)) {
      this.paused = true;
      return false;
    }
    return true;
  }

  private onDrain(): void {
    this.paused = false;
    if (!this.opts.merge) this.flush();
  }
}

/** The share of the queue bound a message class may fill under `policy`. */
function share(policy: BackpressurePolicy, cls: MessageClass): number {
  return policy === 'priority-drop' ? priorityShare(cls) : 1;
}

/** nginx-style thresholds: the fraction of the bound a class may fill before it is dropped. */
export function priorityShare(cls: MessageClass): number {
  switch (cls) {
    case MessageClass.VIDEO_DISPOSABLE:
      return 0.25;
    case MessageClass.VIDEO_INTER:
      return 0.5;
    case MessageClass.VIDEO_KEY:
      return 0.75;
    default:
      return 1;
  }
}
