import type { Socket } from 'node:net';
import { RingQueue } from '../buffers/ring-queue.js';
import type { BackpressurePolicy } from './config.js';
import { isVideoFrame, MessageClass, type SharedMessage } from './shared-message.js';
import { SocketWriter, WriteResult } from './socket-writer.js';

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
  /** Called when the queue decides the player must go (policy `disconnect`). */
  onOverflow: (queuedBytes: number) => void;
  /** Called on every drop, for the stream's counters. */
  onDrop: (msg: SharedMessage) => void;
  /** Messages to send before the next accepted keyframe after config was dropped. */
  pendingConfig: () => readonly SharedMessage[];
  /**
   * Most bytes one flush hands to the socket beyond its first message (0: no limit). A joiner's
   * GOP cache, or a backlog, then goes out over the stream's next fan-out passes, after the live
   * frames of the players in step, instead of in one burst.
   */
  burstBytes?: number;
  /** Called once when a write fails (the peer is gone): the session closes. */
  onWriteError?: (err: Error) => void;
  /** Server-wide I/O counters this queue adds to. */
  io?: IoCounters;
}

/** What the server hands the kernel: write calls (a vectored write is one) and the messages in them. */
export interface IoCounters {
  writes: number;
  messages: number;
  /** Bytes read from peers into buffers allocated for that read (0 with shared reads). */
  readAllocatedBytes: number;
}

/** Most buffers one vectored write takes (the kernel's IOV_MAX is 1024). */
const MAX_WRITE_BUFFERS = 256;

/**
 * Everything a server writes to one peer goes through its SendQueue, so control messages
 * and media stay in order. The queue bounds the bytes buffered for the peer (here and in
 * libuv's write queue) by `maxQueuedBytes`, applying the backpressure policy to media that
 * would not fit:
 *
 * - `none`: never drop (unbounded; for comparison only);
 * - `drop-to-keyframe`: drop what does not fit; after a dropped video frame, drop video until
 *   the next keyframe that fits;
 * - `priority-drop`: nginx-style thresholds: disposable frames go when the queue is a quarter
 *   full, inter frames at half, keyframes at three quarters, audio only when full;
 * - `disconnect`: drop what does not fit, and close a peer that stays over for the grace time.
 *
 * Control messages (status, pings) are never dropped. Accepted messages wait until `flush()`,
 * which hands all of them to the socket in one (vectored) write: the stream's fan-out visits
 * each player once per pass and flushes it, so whatever reached a player since its last visit
 * leaves in one system call. Buffers the kernel took at once are released at once; the rest
 * when their write completes.
 */
export class SendQueue {
  private readonly opts: SendQueueOptions;
  readonly writer: SocketWriter;
  private readonly waiting = new RingQueue<SharedMessage>(16);
  /** Messages of writes still in progress, in write order; `inFlightCounts` says how many per write. */
  private readonly inFlight = new RingQueue<SharedMessage>(16);
  private readonly inFlightCounts = new RingQueue<number>(4);
  private waitingBytes = 0;
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
  /** Buffers of one write (reused). */
  private readonly iov: Buffer[] = [];
  private readonly burstBytes: number;

  constructor(socket: Socket, opts: SendQueueOptions) {
    this.opts = opts;
    this.burstBytes = opts.burstBytes ?? 0;
    this.writer = new SocketWriter(socket, { onComplete: (err) => this.onWriteComplete(err) });
    if (!this.writer.raw) {
      socket.on('drain', () => {
        this.writer.drained();
        this.flush();
      });
    }
  }

  /** Bytes buffered for this peer: queued here plus what libuv (or Node) still holds. */
  get queuedBytes(): number {
    return this.waitingBytes + this.writer.pendingBytes;
  }

  get pending(): boolean {
    return this.waiting.length > 0;
  }

  /** Bytes written to the peer through this queue. */
  get bytesWritten(): number {
    return this.writer.bytesWritten;
  }

  /** Skip video until the next keyframe (a joiner without GOP cache); not counted as drops. */
  waitForKeyframe(): void {
    this.needKeyframe = true;
    this.joining = true;
  }

  /** Queues a message the peer must get (commands, status, config at join) and writes it. */
  sendControl(msg: SharedMessage): void {
    if (this.closed) return;
    this.accept(msg.retain());
    this.flush();
  }

  /** Queues a message the peer must get, without writing yet (the caller flushes). */
  queueControl(msg: SharedMessage): void {
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
   * Offers a batch (the concatenated wire form of `messages`) as one unit. A peer in step with
   * the stream (not waiting for a keyframe or for config) with room for the whole batch takes
   * it as one buffer; any other peer gets the messages one by one, through the policy.
   * `minShare` is the smallest queue share any message of the batch may fill.
   */
  offerBatch(batch: SharedMessage, messages: readonly SharedMessage[], minShare: number): void {
    if (this.closed) return;
    if (!this.needKeyframe && !this.needConfig && this.fits(batch.byteLength, this.opts.policy === 'priority-drop' ? minShare : 1)) {
      this.accept(batch.retain(), messages.length);
      return;
    }
    for (const m of messages) this.offer(m);
  }

  /**
   * Writes what is queued, as one write (vectored when several messages wait), up to the
   * burst bound unless `all`; nothing while an earlier write is still in progress (its
   * completion flushes again).
   */
  flush(all = false): void {
    const limit = all || this.burstBytes === 0 ? Infinity : this.burstBytes;
    let budget = limit;
    while (!this.closed && this.waiting.length > 0 && !this.writer.busy && budget > 0) {
      const written = this.writeSome(budget);
      if (written < 0) return;
      budget -= written;
    }
    // The burst bound left messages waiting with no write in flight (whose completion would
    // flush again): flush again on the next turn of the loop, or a backlog would wait for the
    // publisher's next batch to start a fan-out pass (forever, when none comes).
    if (!this.closed && this.waiting.length > 0 && !this.writer.busy && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushLater);
    }
  }

  private flushScheduled = false;
  private readonly flushLater = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /** One write of the messages at the head of the queue (at least one); the bytes, or -1 when it did not complete. */
  private writeSome(budget: number): number {
    const waiting = this.waiting;
    const iov = this.iov;
    const max = Math.min(waiting.length, MAX_WRITE_BUFFERS);
    let bytes = 0;
    let n = 0;
    while (n < max) {
      const wire = waiting.at(n)!.wire;
      if (n > 0 && bytes + wire.length > budget) break;
      iov[n++] = wire;
      bytes += wire.length;
    }
    iov.length = n;
    const result = n === 1 ? this.writer.write(iov[0]!) : this.writer.writev(iov, bytes);
    this.waitingBytes -= bytes;
    this.messagesSent += n;
    if (this.opts.io !== undefined) this.opts.io.writes++;
    for (let i = 0; i < n; i++) iov[i] = EMPTY; // no stale references to pooled buffers
    if (result === WriteResult.PENDING) {
      for (let i = 0; i < n; i++) this.inFlight.push(waiting.shift()!);
      this.inFlightCounts.push(n);
      return -1;
    }
    for (let i = 0; i < n; i++) waiting.shift()!.release();
    if (result === WriteResult.FAILED) {
      this.failed();
      return -1;
    }
    return bytes;
  }

  /** Releases everything not yet handed to the socket; the queue accepts nothing more. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    while (this.waiting.length > 0) this.waiting.shift()!.release();
    this.waitingBytes = 0;
    // Writes in progress are released by their completions, which come (with an error) when
    // the socket is destroyed. Node's stream may already have called back for a socket that is
    // gone: release those here (a later callback then finds nothing to release).
    if (!this.writer.raw && this.writer.socketDestroyed) {
      while (this.inFlight.length > 0) this.inFlight.shift()!.release();
      this.inFlightCounts.clear();
    }
  }

  private onWriteComplete(err: Error | null): void {
    const n = this.inFlightCounts.shift() ?? 0;
    for (let i = 0; i < n; i++) this.inFlight.shift()?.release();
    if (err !== null) {
      this.failed();
      return;
    }
    if (!this.writer.busy) this.flush();
  }

  private failed(): void {
    const err = this.writer.error;
    if (err !== null && !this.closed) this.opts.onWriteError?.(err);
  }

  private fits(size: number, fraction: number): boolean {
    const policy = this.opts.policy;
    if (policy === 'none') return true;
    const limit = this.opts.maxQueuedBytes * fraction;
    const queued = this.queuedBytes;
    // A peer with nothing queued takes any one message: a keyframe larger than the bound would
    // otherwise never reach anyone.
    const fits = queued + size <= limit || queued === 0;
    if (policy === 'disconnect') {
      if (!fits) {
        // Over the bound: drop, and close the peer if it has not caught up within the grace time.
        const now = performance.now();
        if (this.overSinceMs === 0) this.overSinceMs = now;
        else if (now - this.overSinceMs >= this.opts.disconnectGraceMs) this.opts.onOverflow(queued);
      } else if (queued < this.opts.maxQueuedBytes / 2) {
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
    this.waiting.push(msg);
    this.waitingBytes += msg.byteLength;
  }
}

const EMPTY = Buffer.alloc(0);

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
