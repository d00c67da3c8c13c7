import type { Socket } from 'node:net';

/** Refill period of the token buckets. */
const TICK_MS = 50;
/** A bucket holds at most this many ticks' worth of tokens (the burst a slow link allows). */
const BURST_TICKS = 5;

interface Bucket {
  tokens: number;
  paused: boolean;
}

/**
 * Reads slow viewers' sockets through token buckets (one timer for all), so the server's
 * backpressure is exercised as a slow link would exercise it.
 */
export class SlowReaders {
  private readonly buckets = new Map<Socket, Bucket>();
  private timer: NodeJS.Timeout | null = null;
  private readonly bytesPerTick: number;

  constructor(kbps: number) {
    this.bytesPerTick = (kbps * 1000) / 8 / (1000 / TICK_MS);
  }

  /** Limits `socket`; returns the function to call with the size of each read. */
  add(socket: Socket): (bytes: number) => void {
    const b: Bucket = { tokens: this.bytesPerTick, paused: false };
    this.buckets.set(socket, b);
    this.timer ??= setInterval(() => this.refill(), TICK_MS);
    return (n) => {
      b.tokens -= n;
      if (b.tokens < 0 && !b.paused) {
        b.paused = true;
        socket.pause();
      }
    };
  }

  remove(socket: Socket): void {
    this.buckets.delete(socket);
  }

  /** Stops limiting: every socket reads freely again (the end of a run drains them). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const [socket, b] of this.buckets) if (b.paused) socket.resume();
    this.buckets.clear();
  }

  private refill(): void {
    for (const [socket, b] of this.buckets) {
      b.tokens = Math.min(b.tokens + this.bytesPerTick, this.bytesPerTick * BURST_TICKS);
      if (b.paused && b.tokens > 0) {
        b.paused = false;
        socket.resume();
      }
    }
  }
}
