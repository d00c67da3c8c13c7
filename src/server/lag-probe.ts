import { RingQueue } from '../buffers/ring-queue.js';

/**
 * What a player has read of what the server wrote to it, learnt from pings that travel in its
 * byte stream, and how much more the server may hand its socket.
 *
 * Our own queue says little on its own: on Linux loopback a socket takes megabytes before
 * `write()` waits, and a player reading slower than the stream falls tens of seconds behind
 * before the server sees any backpressure. A ping queued behind everything written before it
 * is answered when the player has read that far, so each answer gives the player's read
 * offset in its stream, and answers half a second or more apart its read rate. While a player
 * is behind, the server keeps at most a window of unread bytes in its socket: what it reads in
 * a quarter of the lag bound (32 KB at the least, and until its rate is known). A player keeps
 * up when it answers at once while reading about as fast as the stream offers it, over half a
 * second or more. A player that keeps up has no window;
 * for one that cannot, the excess waits in our queue instead of the kernel's, where the policy
 * can see its age and skip it (send-queue.ts).
 *
 * Pings go out with media writes (no write of their own): when the window is more than a
 * quarter used since the last one, and at least every `intervalMs`. Their 32-bit timestamp is
 * the server's clock in ms, echoed back by the player.
 *
 * The first ping goes out with the player's `play` answers, before any media: a client that
 * answers pings answers that one within a round trip, however slowly it reads, since nothing is
 * ahead of it. A client that has not answered it within `silentAfterMs` (a quarter of the bound,
 * at most a second) does not answer pings: it is let go of, with no window, before the media
 * held back for it grows stale, so one that reads at the stream's rate loses nothing. It keeps the
 * byte bound alone: without answers (and without TCP_INFO in Node) a silent player that reads too
 * slowly shows only when its socket and queue fill (the idle sweep closes a peer that sends
 * nothing at all). An answer, however late, brings it back under the lag bound.
 */

/** Unread bytes allowed before the player's read rate is known, and at the least. */
const MIN_WINDOW_BYTES = 32 * 1024;
/** An answer later than this (or a ping out longer) means the player is reading old bytes: it is behind. */
const BEHIND_MS = 100;
/** A player keeps up when its prompt answers show it reading at least this share of what the stream offers. */
const KEEPS_UP_SHARE = 0.8;
/** Shortest span a read rate is measured over: answers come in bursts, as the player reads. */
const RATE_SPAN_MS = 500;
/** Closest two pings may follow each other. */
const MIN_PING_GAP_MS = 20;
/** Most pings out at once (older ones are forgotten). */
const MAX_OUT = 64;

export class LagProbe {
  /** Pings not yet answered, oldest first: when queued (ms), and the stream offset after each. */
  private readonly sentMs = new RingQueue<number>(8);
  private readonly sentOffsets = new RingQueue<number>(8);
  private lastSentMs = -Infinity;
  private lastSentOffset = 0;
  /** The player has answered at least one ping. */
  private answers = false;
  /** When the first ping went out (a player that never answers is let go of after a while). */
  private firstSentMs = -1;
  /** The player did not answer its first ping in time: no window (the byte bound alone). */
  private silent = false;
  /** How long the first ping may stay unanswered before the player counts as silent. */
  private readonly silentAfterMs: number;
  /** Stream offset the player had read at its last answer. */
  private readOffset = 0;
  /**
   * Whether the player keeps up: not known (a start window, until an answer covering real
   * traffic comes back promptly), yes (no window), or it is behind (a window from its rate).
   */
  private state: 'unknown' | 'keeps-up' | 'behind' = 'unknown';
  /** Bytes per ms written to the player lately (the probe tick measures it). */
  private offeredBytesPerMs = 0;
  /** Bytes per ms the player read over the last span of answers (0: not known yet). */
  private rateBytesPerMs = 0;
  /** Where the current rate span started: offset read and when. */
  private spanOffset = 0;
  private spanAtMs = -1;
  /** How late the player's last answer was (ms). */
  lastLagMs = 0;

  constructor(
    private readonly maxLagMs: number,
    /** Longest time between two pings. */
    private readonly intervalMs: number,
  ) {
    this.silentAfterMs = silentAfterMs(maxLagMs);
  }

  /** The player answers no pings: the byte bound alone. */
  get isSilent(): boolean {
    return this.silent;
  }

  /**
   * Unread bytes the socket may hold for the player now: no limit while it keeps up; while it
   * is behind, what it reads in a quarter of the bound (the rest waits in our queue, where its
   * age shows); the least window before its first answer.
   */
  get windowBytes(): number {
    if (this.silent || this.state === 'keeps-up') return Infinity;
    if (this.state === 'unknown') return MIN_WINDOW_BYTES;
    // Behind: what it reads in a quarter of the bound (its last measured rate; for a player that
    // kept up until a moment ago, about what the stream offers).
    return Math.max(MIN_WINDOW_BYTES, this.rateBytesPerMs * (this.maxLagMs / 4));
  }

  /** What the stream offered the player since the last tick, per ms (smoothed). */
  offered(bytesPerMs: number): void {
    this.offeredBytesPerMs = this.offeredBytesPerMs === 0 ? bytesPerMs : (this.offeredBytesPerMs * 3 + bytesPerMs) / 4;
  }

  /** The probe tick: a ping out too long marks the player behind; one that never answers is let go of. */
  tick(nowMs: number): void {
    if (this.sentMs.length > 0 && nowMs - this.sentMs.peek()! > BEHIND_MS && this.answers) this.state = 'behind';
    if (!this.answers && this.firstSentMs >= 0 && nowMs - this.firstSentMs > this.silentAfterMs) this.silent = true;
  }

  /** Bytes written up to `writtenOffset` that the player has not confirmed reading. */
  unread(writtenOffset: number): number {
    return writtenOffset - this.readOffset;
  }

  /** Bytes were written after the latest ping: only a new ping can confirm them. */
  unconfirmed(writtenOffset: number): boolean {
    return writtenOffset > this.lastSentOffset;
  }

  /** A quarter of the window has been written since the last ping (no clock needed). */
  dueByBytes(endOffset: number): boolean {
    const w = this.windowBytes;
    return w !== Infinity && endOffset - this.lastSentOffset > w / 4;
  }

  /** Pings are not closer than a few ms apart. */
  canPing(nowMs: number): boolean {
    return nowMs - this.lastSentMs >= MIN_PING_GAP_MS;
  }

  /** Whether a ping should follow bytes up to `endOffset` now. */
  wantsPing(nowMs: number, endOffset: number): boolean {
    if (nowMs - this.lastSentMs < MIN_PING_GAP_MS) return false;
    return nowMs - this.lastSentMs >= this.intervalMs || this.dueByBytes(endOffset);
  }

  /** A ping with timestamp `nowMs` was queued; the player's stream ends at `endOffset` after it. */
  sent(nowMs: number, endOffset: number): void {
    if (this.sentMs.length === MAX_OUT) {
      this.sentMs.shift();
      this.sentOffsets.shift();
    }
    this.sentMs.push(nowMs);
    this.sentOffsets.push(endOffset);
    this.lastSentMs = nowMs;
    this.lastSentOffset = endOffset;
    if (this.firstSentMs < 0) this.firstSentMs = nowMs;
  }

  /** The player echoed a ping's 32-bit timestamp. Returns true when it was one of ours. */
  answered(timestamp: number, nowMs: number): boolean {
    const echoedMs = nowMs - ((Math.floor(nowMs) - timestamp) >>> 0);
    let offset = -1;
    let sentMs = echoedMs;
    // Pings are answered in order: drop those up to this one (floor() rounds it down by < 1 ms).
    while (this.sentMs.length > 0 && this.sentMs.peek()! < echoedMs + 1) {
      sentMs = this.sentMs.shift()!;
      offset = this.sentOffsets.shift()!;
    }
    this.lastLagMs = Math.max(0, nowMs - sentMs);
    if (offset < 0) return false;
    if (this.spanAtMs < 0) {
      this.spanAtMs = nowMs;
      this.spanOffset = offset;
    } else if (nowMs - this.spanAtMs >= RATE_SPAN_MS) {
      const sample = (offset - this.spanOffset) / (nowMs - this.spanAtMs);
      this.rateBytesPerMs = this.rateBytesPerMs === 0 ? sample : (this.rateBytesPerMs + sample) / 2;
      this.spanAtMs = nowMs;
      this.spanOffset = offset;
    }
    const late = this.lastLagMs > BEHIND_MS || (this.sentMs.length > 0 && nowMs - this.sentMs.peek()! > BEHIND_MS);
    if (late) this.state = 'behind';
    // Prompt, and reading about what the stream offers over half a second or more (one prompt
    // answer alone proves little: any reader takes what waits in its socket at once).
    else if (this.rateBytesPerMs > 0 && this.rateBytesPerMs >= KEEPS_UP_SHARE * this.offeredBytesPerMs)
      this.state = 'keeps-up';
    else if (this.state === 'behind') this.state = 'unknown'; // caught up, maybe only because little was sent
    this.answers = true;
    this.silent = false;
    this.readOffset = offset;
    return true;
  }

  /** At least this far behind now (ms): the age of the oldest ping not answered; 0 before any answer. */
  lagMs(nowMs: number): number {
    if (!this.answers || this.sentMs.length === 0) return 0;
    return Math.max(0, nowMs - this.sentMs.peek()!);
  }
}

/**
 * How long a player's first ping (sent before any media) may stay unanswered: a quarter of the
 * lag bound, at most a second (a round trip and then some), at least 100 ms. Media waits for it
 * in the player's queue, which skips nothing younger than half the bound.
 */
function silentAfterMs(maxLagMs: number): number {
  return Math.max(100, Math.min(1000, maxLagMs / 4));
}

/** The 32-bit ping timestamp for a time on the server's clock (ms). */
export function pingTimestamp(nowMs: number): number {
  return Math.floor(nowMs) >>> 0;
}

/** How often the server looks for players due a ping. */
export const PROBE_TICK_MS = 250;

/** Longest time between two pings to a player under a lag bound: a quarter of the bound. */
export function lagProbeIntervalMs(maxLagMs: number): number {
  return Math.max(100, Math.round(maxLagMs / 4));
}
