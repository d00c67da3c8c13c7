import type { Publisher } from '../../client/publisher.js';
import type { Counters } from '../../results/counters.js';
import type { SendLogChunk } from '../worker-protocol.js';
import type { ProbeContext } from './player-probe.js';

/**
 * Measures one publisher: its pacing (deviation from the schedule, early or late) and the log
 * of when each video frame left (as latency counts it: its intended time, or its actual one
 * when that was earlier) with its keyframes, taken each tick for frame accounting.
 */
export class PublisherProbe {
  /** The publication is being stopped on purpose (publisher churn, the end of the run). */
  stopping = false;
  stopTimer: NodeJS.Timeout | null = null;
  nextTimer: NodeJS.Timeout | null = null;
  private sentMs: number[] = [];
  private keyframes: number[] = [];
  private firstSeq = 0;

  constructor(
    ctx: ProbeContext,
    readonly publisher: Publisher,
    readonly stream: number,
    readonly epoch: number,
  ) {
    publisher.onPacing = (intendedUs, sentUs) => ctx.record('pacing', Math.abs(sentUs - intendedUs));
    publisher.onVideoSent = (seq, intendedUs, sentUs, keyframe) => {
      if (this.sentMs.length === 0) this.firstSeq = seq;
      this.sentMs.push((Math.min(sentUs, intendedUs) - ctx.startAtUs) / 1000);
      if (keyframe) this.keyframes.push(seq);
    };
  }

  /** The frames sent since the last call (null when none). */
  takeSendLog(): SendLogChunk | null {
    if (this.sentMs.length === 0) return null;
    const chunk: SendLogChunk = {
      stream: this.stream,
      epoch: this.epoch,
      firstSeq: this.firstSeq,
      sentMs: this.sentMs,
      keyframes: this.keyframes,
    };
    this.sentMs = [];
    this.keyframes = [];
    return chunk;
  }

  clearTimers(): void {
    if (this.stopTimer !== null) clearTimeout(this.stopTimer);
    if (this.nextTimer !== null) clearTimeout(this.nextTimer);
    this.stopTimer = null;
    this.nextTimer = null;
  }

  addCounts(into: Counters): void {
    const p = this.publisher;
    into.bytesSent += p.conn.socket.bytesWritten;
    into.publisherBytesReceived += p.conn.socket.bytesRead;
    into.framesSent += p.counters.videoFrames;
  }
}
