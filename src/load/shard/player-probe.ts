import type { Player, VideoObservation } from '../../client/player.js';
import type { MetricName } from '../../metrics/histograms.js';
import type { Counters } from '../../results/counters.js';
import type { ViewerRecord } from '../worker-protocol.js';

/** What a probe needs from the shard that runs it. */
export interface ProbeContext {
  /** Run start, µs on the monotonic clock. */
  readonly startAtUs: number;
  readonly stallThresholdUs: number;
  /** Records a latency, when the run is past its warm-up. */
  record(metric: MetricName, valueUs: number): void;
  measuring(): boolean;
}

/** How a viewer stands against the no-video bound. */
export type VideoVerdict = 'ok' | 'waiting' | 'no-video' | 'no-audio';

/**
 * Measures one viewer: connect and start-up times, time to first frame and keyframe,
 * end-to-end latency of every marked frame (from its intended send time, or from when it
 * actually left if that was earlier), gaps and stalls, and what frame accounting needs when it ends. Loss, duplicates and
 * order are counted by the player from the marks' sequence numbers.
 */
export class PlayerProbe {
  player: Player | null = null;
  /** When opening began and when play was sent (0 until known), µs. */
  readonly openedUs: number;
  playSentUs = 0;
  /** When it started playing (counted as up), µs; 0 before. */
  upSinceUs = 0;
  stalls = 0;
  firstSeq = -1;
  lastSeq = -1;
  lastLatencyUs = 0;
  /** A planned leave. */
  stopTimer: NodeJS.Timeout | null = null;
  private lastArrivalUs = 0;
  private minOffsetUs = Infinity;
  /** Arrivals of the first frame and keyframe, held until the time play was sent is known. */
  private firstFrameAtUs = 0;
  private firstKeyframeAtUs = 0;
  private readonly e2eMetric: MetricName;

  constructor(
    private readonly ctx: ProbeContext,
    readonly stream: number,
    readonly slow: boolean,
    readonly epoch: number,
    nowUs: number,
  ) {
    this.openedUs = nowUs;
    this.e2eMetric = slow ? 'slowEndToEnd' : 'endToEnd';
  }

  get gotVideo(): boolean {
    return this.firstFrameAtUs !== 0;
  }

  /** The player is open and playing: record its start-up. */
  attach(player: Player, nowUs: number): void {
    this.player = player;
    this.upSinceUs = nowUs;
    const t = player.conn.timings;
    this.ctx.record('connect', t.tcpConnectUs);
    this.ctx.record('handshake', t.handshakeUs);
    this.ctx.record('playStart', player.playStartUs - this.openedUs);
    this.playSentUs = player.playSentUs;
    this.recordFirstFrames();
  }

  /** Each video frame (the observation object is reused by the player: copy what is kept). */
  onVideo(v: VideoObservation): void {
    const ctx = this.ctx;
    if (this.firstFrameAtUs === 0) this.firstFrameAtUs = v.arrivalUs;
    if (this.firstKeyframeAtUs === 0 && v.keyframe) this.firstKeyframeAtUs = v.arrivalUs;
    if (this.firstFrameAtUs > 0 || this.firstKeyframeAtUs > 0) this.recordFirstFrames();
    const mark = v.mark;
    if (mark !== null) {
      if (this.firstSeq < 0) this.firstSeq = mark.seq;
      if (mark.seq > this.lastSeq) this.lastSeq = mark.seq;
      // From the intended send time (wrk2's rule: a publisher that fell behind counts against
      // the server), or from the actual one when the frame left early (the pacing lookahead):
      // measured from its intended time, an early frame would flatter the server by up to a ms.
      const latencyUs = v.arrivalUs - (mark.sentUs < mark.intendedUs ? mark.sentUs : mark.intendedUs);
      this.lastLatencyUs = latencyUs;
      // Frames sent before this viewer began (the GOP cache) arrive late by design: counted,
      // and time to first frame covers them, but latency is of live frames.
      if (mark.intendedUs >= this.openedUs) ctx.record(this.e2eMetric, latencyUs);
    } else {
      // No marks (a stream someone else publishes): each frame's arrival against its RTMP
      // timestamp, relative to the fastest frame so far.
      const offset = v.arrivalUs - v.timestampMs * 1000;
      if (offset < this.minOffsetUs) this.minOffsetUs = offset;
      ctx.record(this.e2eMetric, offset - this.minOffsetUs);
    }
    if (this.lastArrivalUs !== 0) {
      const gap = v.arrivalUs - this.lastArrivalUs;
      if (!this.slow) ctx.record('gap', gap);
      if (gap > ctx.stallThresholdUs && ctx.measuring()) this.stalls++;
    }
    this.lastArrivalUs = v.arrivalUs;
  }

  private recordFirstFrames(): void {
    if (this.playSentUs === 0) return;
    if (this.firstFrameAtUs > 0) {
      this.ctx.record('firstFrame', this.firstFrameAtUs - this.playSentUs);
      this.firstFrameAtUs = -1;
    }
    if (this.firstKeyframeAtUs > 0) {
      this.ctx.record('firstKeyframe', this.firstKeyframeAtUs - this.playSentUs);
      this.firstKeyframeAtUs = -1;
    }
  }

  /** Whether the viewer has had video (and audio, when the stream has it) within the bound. */
  verdict(nowUs: number, firstVideoWithinUs: number, audioExpected: boolean): VideoVerdict {
    const p = this.player;
    if (p === null) return 'waiting';
    const late = nowUs - this.playSentUs >= firstVideoWithinUs;
    if (p.counters.videoFrames === 0) return late ? 'no-video' : 'waiting';
    if (audioExpected && p.counters.audioFrames === 0) return late ? 'no-audio' : 'waiting';
    return 'ok';
  }

  /** Adds this viewer's counts so far into `into`. */
  addCounts(into: Counters, nowUs: number): void {
    const p = this.player;
    if (p === null) return;
    const c = p.counters;
    into.bytesReceived += p.conn.socket.bytesRead;
    into.playerBytesSent += p.conn.socket.bytesWritten;
    into.mediaBytesReceived += c.mediaBytes;
    into.framesReceived += c.videoFrames;
    into.audioFramesReceived += c.audioFrames;
    into.duplicated += c.duplicated;
    into.outOfOrder += c.outOfOrder;
    into.markedFrames += c.marks;
    if (this.slow) {
      into.slowReceived += c.videoFrames;
      into.slowLost += c.lost;
      into.slowStalls += this.stalls;
    } else {
      into.lost += c.lost;
      into.stalls += this.stalls;
    }
    if (this.upSinceUs > 0) into.playerSeconds += (nowUs - this.upSinceUs) / 1e6;
  }

  /** What frame accounting needs, as the viewer ends at `leftUs`. */
  record(leftUs: number, atEnd: boolean): ViewerRecord {
    const ms = (us: number) => (us - this.ctx.startAtUs) / 1000;
    return {
      stream: this.stream,
      epoch: this.epoch,
      slow: this.slow,
      firstSeq: this.firstSeq,
      lastSeq: this.lastSeq,
      playSentMs: ms(this.playSentUs > 0 ? this.playSentUs : this.openedUs),
      leftMs: ms(leftUs),
      lastLatencyMs: this.lastLatencyUs / 1000,
      atEnd,
    };
  }
}
