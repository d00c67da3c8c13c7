import type { Socket } from 'node:net';
import { RingQueue } from '../buffers/ring-queue.js';
import type { BackpressurePolicy } from './config.js';
import { isVideoFrame, MessageClass, type SharedMessage } from './shared-message.js';
import { coarseClock } from './coarse-clock.js';
import { LagProbe, lagProbeIntervalMs, pingTimestamp, PROBE_TICK_MS } from './lag-probe.js';
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
  /**
   * Called when what waits for the peer passed twice `maxQueuedBytes` after a control message:
   * those are never dropped, so a peer that keeps asking and never reads would hold its answers
   * without bound (media alone stays under one `maxQueuedBytes`: the policy drops it first).
   */
  onUnreadReplies?: (queuedBytes: number) => void;
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
  /**
   * Most a player may be behind live, in ms, measured by pings that travel in its stream
   * (`probe`); beyond it media is dropped, video to the next keyframe, until it catches up.
   * 0: no such bound (the byte bound alone).
   */
  maxLagMs?: number;
  /** Encodes a ping request with a timestamp (lag probes); without it there is no lag bound. */
  makePing?: (timestamp: number) => SharedMessage;
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
 * With a lag bound (`maxLagMs`), a player further behind live than the bound is over it too,
 * whatever its queue holds (see lag-probe.ts): loopback and LAN socket buffers hold seconds of
 * media before the bytes bound sees anything.
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
  /** When each waiting message was queued (coarse clock, ms), in step with `waiting`. */
  private readonly waitingSinceMs = new RingQueue<number>(16);
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
  /** How far behind live the player is (null without a lag bound). */
  readonly lag: LagProbe | null;
  /** Media queued here more than this much stream time behind new media is skipped (lag bound / 2). */
  private readonly staleMs: number;
  /** A ping is due with the next write (the probe tick or a keep-alive asked), since when. */
  private pingDue = false;
  private pingDueSinceMs = 0;
  /** Bytes offered to this queue (taken or dropped), and their count at the last probe tick, and when. */
  private acceptedBytes = 0;
  private tickBytes = 0;
  private tickAtMs = 0;
  /** The last flush left messages behind (window full, burst bound, or a write in progress). */
  private backlogged = false;

  constructor(socket: Socket, opts: SendQueueOptions) {
    this.opts = opts;
    this.burstBytes = opts.burstBytes ?? 0;
    // `none` never drops: no lag bound either.
    const maxLagMs = opts.policy === 'none' ? 0 : (opts.maxLagMs ?? 0);
    this.lag =
      maxLagMs > 0 && opts.makePing !== undefined ? new LagProbe(maxLagMs, lagProbeIntervalMs(maxLagMs)) : null;
    this.staleMs = maxLagMs / 2;
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
    const queued = this.queuedBytes;
    if (this.opts.policy !== 'none' && queued > 2 * this.opts.maxQueuedBytes) this.opts.onUnreadReplies?.(queued);
  }

  /** Queues a message the peer must get, without writing yet (the caller flushes). */
  queueControl(msg: SharedMessage): void {
    if (this.closed) return;
    this.accept(msg.retain());
  }

  /** Asks for a ping with the next write (keep-alive for a player); false without lag probes. */
  requestPing(nowMs: number): boolean {
    if (this.lag === null || this.closed) return false;
    if (!this.pingDue) this.pingDueSinceMs = nowMs;
    this.pingDue = true;
    return true;
  }

  /** The lag probe tick: a player that has had no ping for a while gets one with its next write. */
  probeTick(nowMs: number): void {
    const lag = this.lag;
    if (lag === null) return;
    const wasSilent = lag.isSilent;
    lag.tick(nowMs);
    // Let go of (it answers no pings): what waited behind its start window goes out now.
    if (!wasSilent && lag.isSilent && this.waiting.length > 0) this.flush();
    // What the stream offers this player (not what the window let through: that would feed back).
    if (nowMs > this.tickAtMs) lag.offered((this.acceptedBytes - this.tickBytes) / (nowMs - this.tickAtMs));
    this.tickAtMs = nowMs;
    this.tickBytes = this.acceptedBytes;
    if (this.pingDue) {
      // Nothing was written to carry it (a stream without media right now): on its own.
      if (nowMs - this.pingDueSinceMs >= PROBE_TICK_MS && this.waiting.length === 0 && !this.writer.busy)
        this.pingNow(lag);
    } else if (lag.wantsPing(nowMs, this.writer.bytesWritten)) {
      this.requestPing(nowMs);
    }
  }

  /** The peer answered a ping with `timestamp`: the window may have room again. */
  onPingAnswered(timestamp: number, nowMs: number): void {
    if (this.lag?.answered(timestamp, nowMs) && this.waiting.length > 0) this.flush();
  }

  /** Offers a media message; the policy decides whether it is queued or dropped. */
  offer(msg: SharedMessage): void {
    if (this.closed) return;
    const cls = msg.cls;
    if (this.backlogged && this.staleMs > 0 && cls !== MessageClass.CONFIG && this.skipStale(msg)) return;
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
    // A peer with a backlog under a lag bound takes messages one by one: they may be skipped later.
    const whole = !this.needKeyframe && !this.needConfig && !(this.backlogged && this.staleMs > 0);
    if (whole && this.fits(batch.byteLength, this.opts.policy === 'priority-drop' ? minShare : 1)) {
      this.accept(batch.retain(), messages.length);
      return;
    }
    for (const m of messages) this.offer(m);
  }

  /**
   * The fan-out's common case, in one step: a player with nothing queued, no write in progress,
   * not waiting for a keyframe or config, no ping due and no window to keep, takes the batch in
   * one write at once (with nothing queued, any one message fits every policy). Returns false
   * when any of that does not hold: the caller offers the batch the usual way.
   */
  writeBatchNow(batch: SharedMessage, messages: number): boolean {
    if (
      this.waiting.length > 0 ||
      this.closed ||
      this.writer.busy ||
      this.needKeyframe ||
      this.needConfig ||
      this.pingDue
    )
      return false;
    if (this.lag !== null && this.lag.windowBytes !== Infinity) return false;
    this.overSinceMs = 0; // nothing queued: caught up (policy `disconnect`)
    const io = this.opts.io;
    if (io !== undefined) {
      io.messages += messages;
      io.writes++;
    }
    this.messagesSent++;
    this.acceptedBytes += batch.byteLength;
    const result = this.writer.write(batch.wire);
    if (result === WriteResult.PENDING) {
      this.inFlight.push(batch.retain());
      this.inFlightCounts.push(1);
    } else if (result === WriteResult.FAILED) {
      this.failed();
    }
    return true;
  }

  /**
   * Writes what is queued, as one write (vectored when several messages wait), up to the
   * burst bound unless `all`; nothing while an earlier write is still in progress (its
   * completion flushes again).
   */
  flush(all = false): void {
    let budget = all || this.burstBytes === 0 ? Infinity : this.burstBytes;
    const lag = this.lag;
    if (lag !== null) {
      // No more unread bytes in the socket than the player's window (see LagProbe); with none
      // unread, one message whatever its size.
      const unread = lag.unread(this.writer.bytesWritten);
      const room = lag.windowBytes - unread;
      if (room < budget) budget = room > 0 ? room : unread <= 0 ? 1 : 0;
    }
    let windowFull = budget <= 0;
    while (!this.closed && this.waiting.length > 0 && !this.writer.busy && budget > 0) {
      const written = this.writeSome(budget);
      if (written < 0) break;
      budget -= written;
      if (budget <= 0 && lag !== null && lag.unread(this.writer.bytesWritten) >= lag.windowBytes) windowFull = true;
    }
    this.backlogged = this.waiting.length > 0;
    if (!this.backlogged || this.closed || this.writer.busy) return;
    if (windowFull) {
      // A full window opens only with an answer: make sure a ping follows the last bytes written.
      if (lag!.unconfirmed(this.writer.bytesWritten)) this.pingNow(lag!);
    } else if (!this.flushScheduled) {
      // The burst bound left messages waiting with no write in flight (whose completion would
      // flush again): flush again on the next turn of the loop, or a backlog would wait for the
      // publisher's next batch to start a fan-out pass (forever, when none comes).
      this.flushScheduled = true;
      setImmediate(this.flushLater);
    }
  }

  private flushScheduled = false;
  private readonly flushLater = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /** A ping on its own, right after what was written. */
  private pingNow(lag: LagProbe): void {
    const now = performance.now();
    const ping = this.opts.makePing!(pingTimestamp(now));
    lag.sent(now, this.writer.bytesWritten + ping.byteLength);
    this.pingDue = false;
    if (this.opts.io !== undefined) this.opts.io.writes++;
    const result = this.writer.write(ping.wire);
    if (result === WriteResult.PENDING) {
      this.inFlight.push(ping);
      this.inFlightCounts.push(1);
      return;
    }
    ping.release();
    if (result === WriteResult.FAILED) this.failed();
  }

  /**
   * A ping to follow a write that ends at `end`, when one is due: by time (the probe tick), by
   * the bytes since the last, or because this write fills the window (its answer opens it again).
   */
  private pingAfter(lag: LagProbe, end: number): SharedMessage | null {
    const fills = lag.unread(end) >= lag.windowBytes * 0.75;
    if (!fills && !this.pingDue && !lag.dueByBytes(end)) return null;
    const now = performance.now();
    if (!fills && !lag.canPing(now)) return null;
    this.pingDue = false;
    const ping = this.opts.makePing!(pingTimestamp(now));
    lag.sent(now, end + ping.byteLength);
    return ping;
  }

  /**
   * Under a lag bound: media that has waited here more than half the bound will not reach the
   * player in time. A keyframe skips it all (the player restarts at the keyframe); anything else
   * is dropped until then. Returns true when `msg` was dropped. (Waiting time, not media time:
   * a joiner's GOP cache is old media that has not waited yet.)
   */
  private skipStale(msg: SharedMessage): boolean {
    const since = this.oldestWaitingMediaSinceMs();
    if (since < 0 || coarseClock.nowMs - since <= this.staleMs) return false;
    if (msg.cls === MessageClass.VIDEO_KEY) {
      this.dropWaitingMedia();
      return false;
    }
    this.drop(msg);
    if (isVideoFrame(msg.cls) && msg.cls !== MessageClass.VIDEO_DISPOSABLE) this.needKeyframe = true;
    return true;
  }

  private oldestWaitingMediaSinceMs(): number {
    const waiting = this.waiting;
    for (let i = 0; i < waiting.length; i++) {
      const m = waiting.at(i)!;
      if (m.cls !== MessageClass.CONTROL && m.cls !== MessageClass.CONFIG) return this.waitingSinceMs.at(i)!;
    }
    return -1;
  }

  /** Drops every media message waiting here (control messages stay); config is resent before the next keyframe. */
  private dropWaitingMedia(): void {
    const waiting = this.waiting;
    for (let n = waiting.length; n > 0; n--) {
      const m = waiting.shift()!;
      const since = this.waitingSinceMs.shift()!;
      if (m.cls === MessageClass.CONTROL) {
        waiting.push(m);
        this.waitingSinceMs.push(since);
        continue;
      }
      this.waitingBytes -= m.byteLength;
      if (m.cls === MessageClass.CONFIG) this.needConfig = true;
      else this.drop(m);
      m.release();
    }
  }

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
    this.waitingBytes -= bytes;
    // Under a lag bound a ping may follow, in the same write (never behind what waits: its
    // answer must be able to come while the window is full).
    const ping = this.lag === null ? null : this.pingAfter(this.lag, this.writer.bytesWritten + bytes);
    let total = bytes;
    if (ping !== null) {
      iov[n] = ping.wire;
      total += ping.byteLength;
    }
    const count = ping === null ? n : n + 1;
    iov.length = count;
    const result = count === 1 ? this.writer.write(iov[0]!) : this.writer.writev(iov, total);
    this.messagesSent += n;
    if (this.opts.io !== undefined) this.opts.io.writes++;
    for (let i = 0; i < count; i++) iov[i] = EMPTY; // no stale references to pooled buffers
    if (result === WriteResult.PENDING) {
      for (let i = 0; i < n; i++) this.inFlight.push(waiting.shift()!);
      for (let i = 0; i < n; i++) this.waitingSinceMs.shift();
      if (ping !== null) this.inFlight.push(ping);
      this.inFlightCounts.push(count);
      return -1;
    }
    for (let i = 0; i < n; i++) waiting.shift()!.release();
    for (let i = 0; i < n; i++) this.waitingSinceMs.shift();
    ping?.release();
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
    this.waitingSinceMs.clear();
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
    // otherwise never reach anyone. A peer too far behind live takes none.
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
    this.acceptedBytes += msg.byteLength;
    const d = this.drops;
    if (isVideoFrame(msg.cls)) d.video++;
    else if (msg.cls === MessageClass.AUDIO) d.audio++;
    else d.data++;
    d.bytes += msg.byteLength;
    this.opts.onDrop(msg);
  }

  private accept(msg: SharedMessage, messages = 1): void {
    if (this.opts.io !== undefined) this.opts.io.messages += messages;
    this.acceptedBytes += msg.byteLength;
    this.waiting.push(msg);
    this.waitingSinceMs.push(coarseClock.nowMs);
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
