import { PlayoutClock } from '../../client/hls-playout.js';
import type { HlsFrame } from '../../client/hls-viewer.js';
import { Player } from '../../client/player.js';
import type { Viewer, ViewerFrame } from '../../client/viewer.js';
import type { HistogramKey, MetricName } from '../../metrics/histograms.js';
import { PROTOCOL_KEYS, type ProtocolKey, type ViewerProtocol } from '../../protocol/delivery.js';
import type { Counters } from '../../results/counters.js';
import type { MediaFailure } from '../../results/failures.js';
import type { ViewerRecord } from '../worker-protocol.js';

/** What a probe needs from the shard that runs it. */
export interface ProbeContext {
  /** Run start, µs on the monotonic clock. */
  readonly startAtUs: number;
  readonly stallThresholdUs: number;
  /** Records a latency, when the run is past its warm-up. */
  record(key: HistogramKey, valueUs: number): void;
  /** Whether values also go to the viewer's protocol's own histograms (see keepsProtocolHistograms). */
  readonly protocolHistograms: boolean;
  measuring(): boolean;
  /** Time between video frames of the publishers, µs (to place a publication's first frame). */
  readonly frameIntervalUs: number;
  /** A viewer saw a publication end (its next one began): what it was due of that one. */
  publicationSeen(record: ViewerRecord): void;
}

/**
 * Whether a run keeps each viewer protocol's histograms apart ("hls.endToEnd"): when its viewers
 * are not all RTMP, as its summary then reports each protocol (byProtocol). An RTMP-only run's
 * "rtmp.*" histograms would hold every value of the run's own a second time; its thresholds on
 * rtmp.latency.* read the run's own. Decided from the scenario's viewer groups, which every
 * worker and every machine of a run share, so the histograms of all shares merge key by key.
 */
export function keepsProtocolHistograms(protocols: readonly ViewerProtocol[]): boolean {
  return protocols.some((p) => p !== 'rtmp');
}

/** How a viewer stands against the no-video bound. */
export type VideoVerdict = 'ok' | 'waiting' | MediaFailure;

const isHls = (f: ViewerFrame): f is HlsFrame => (f as HlsFrame).playoutUs !== undefined;

/**
 * Measures one viewer, whatever its protocol: connect and start-up times, time to first frame
 * and keyframe, end-to-end latency of every marked frame (from its intended send time, or from
 * when it actually left if that was earlier), for HLS also at playout and the segment's
 * availability lag, gaps and stalls, and what frame accounting needs when it ends. Loss,
 * duplicates and order are counted by the viewer from the marks' sequence numbers. Every value
 * goes to the run's histograms, to its protocol's ("hls.endToEnd") in runs that keep those
 * apart, and to its named group's.
 */
export class PlayerProbe {
  viewer: Viewer | null = null;
  readonly protocolKey: ProtocolKey;
  /** When opening (its first attempt) began, µs. */
  readonly openedUs: number;
  /** When the request that started it went out (play, GET, upgrade, first playlist), µs. */
  playSentUs = 0;
  /** When it started playing (counted as up), µs; 0 before. */
  upSinceUs = 0;
  stalls = 0;
  /** The publication (epoch) the viewer is in, and its first and last frame seen there. */
  epoch: number;
  firstSeq = -1;
  lastSeq = -1;
  /** Whether the viewer was already playing when its current publication began. */
  private followed = false;
  lastLatencyUs = 0;
  /** Frames sent before the viewer began (not in end-to-end latency), and latencies measured below 0 (recorded as 0). */
  private sentBeforeJoin = 0;
  private belowZero = 0;
  /** A planned leave. */
  stopTimer: NodeJS.Timeout | null = null;
  /** How it joined (its stream, group and planned leave), to follow the stream to a new publication. */
  join: { stream: number; group: number; slow: boolean; stopAtUs: number | null } | null = null;
  /** The last video frame's arrival (HLS: when a player would show it), for gaps and frame accounting. */
  private lastFrameUs = 0;
  private minOffsetUs = Infinity;
  /** Arrivals of the first frame and keyframe, held until the time play was sent is known. */
  private firstFrameAtUs = 0;
  private firstKeyframeAtUs = 0;
  private readonly e2eMetric: MetricName;
  /**
   * HTTP-FLV and WS-FLV: when a player would show each frame. mpegts.js with its defaults (what
   * browser viewers measured, docs/browser-viewers.md) plays from the first frame it is sent (the
   * server's GOP cache, up to a GOP behind live) at 1x with no catch-up, waiting when a frame is
   * late: the same clock as an HLS player's, a frame at a time.
   */
  private flvPlayout: PlayoutClock | null;

  constructor(
    private readonly ctx: ProbeContext,
    readonly stream: number,
    readonly protocol: ViewerProtocol,
    readonly slow: boolean,
    epoch: number,
    nowUs: number,
    /** A named group's viewer: its latencies are recorded under the name too. */
    private readonly groupName?: string,
  ) {
    this.epoch = epoch;
    this.openedUs = nowUs;
    this.protocolKey = PROTOCOL_KEYS[protocol];
    this.e2eMetric = slow ? 'slowEndToEnd' : 'endToEnd';
    this.flvPlayout = protocol === 'http-flv' || protocol === 'ws-flv' ? new PlayoutClock() : null;
  }

  get gotVideo(): boolean {
    return this.firstFrameAtUs !== 0;
  }

  /** Records a value in the run's histogram of the metric, in its protocol's and in its group's. */
  record(metric: MetricName, valueUs: number): void {
    this.ctx.record(metric, valueUs);
    if (this.ctx.protocolHistograms) this.ctx.record(`${this.protocolKey}.${metric}`, valueUs);
    if (this.groupName !== undefined) this.ctx.record(`${this.groupName}.${metric}`, valueUs);
  }

  /** The viewer is open and playing: record its start-up. */
  attach(viewer: Viewer, nowUs: number): void {
    this.viewer = viewer;
    this.upSinceUs = nowUs;
    const t = viewer.timings;
    if (t.connectedUs > 0) this.record('connect', t.connectedUs - t.openUs);
    if (viewer instanceof Player) this.record('handshake', viewer.conn.timings.handshakeUs);
    // From the first attempt: a viewer that retried while the stream was not there yet waited that long.
    this.record('playStart', t.startedUs - this.openedUs);
    // A viewer that asked again while the stream was not there yet (HTTP 404) waited from its first request.
    this.playSentUs = t.openUs > this.openedUs ? this.openedUs : t.requestUs > 0 ? t.requestUs : t.openUs;
    this.recordFirstFrames();
  }

  /** Each video frame (the frame object is reused by the viewer: copy what is kept). */
  onFrame(v: ViewerFrame): void {
    const ctx = this.ctx;
    if (this.firstFrameAtUs === 0) this.firstFrameAtUs = v.arrivalUs;
    if (this.firstKeyframeAtUs === 0 && v.keyframe) this.firstKeyframeAtUs = v.arrivalUs;
    if (this.firstFrameAtUs > 0 || this.firstKeyframeAtUs > 0) this.recordFirstFrames();
    const hls = isHls(v) ? v : null;
    const mark = v.mark;
    const flv = this.flvPlayout;
    if (flv !== null) flv.beginSegment(v.timestampMs, 0, v.arrivalUs, true);
    if (mark !== null) {
      if (mark.epoch !== this.epoch) this.newPublication(v.arrivalUs, mark.epoch, mark.seq, mark.intendedUs);
      if (this.firstSeq < 0) this.firstSeq = mark.seq;
      if (mark.seq > this.lastSeq) this.lastSeq = mark.seq;
      // From the intended send time (wrk2's rule: a publisher that fell behind counts against
      // the server), or from the actual one when the frame left early (the pacing lookahead):
      // measured from its intended time, an early frame would flatter the server by up to a ms.
      const sentUs = Math.min(mark.sentUs, mark.intendedUs);
      const latencyUs = v.arrivalUs - sentUs;
      this.lastLatencyUs = latencyUs;
      // Frames sent before this viewer began (the GOP cache, an HLS start behind the live
      // edge) arrive late by design: counted, and time to first frame covers them, but
      // latency is of live frames.
      if (mark.intendedUs < this.openedUs) {
        if (ctx.measuring()) this.sentBeforeJoin++;
      } else {
        // Below 0 only across hosts within the clocks' bound (or with a clock problem): counted, recorded as 0.
        if (latencyUs < 0 && ctx.measuring()) this.belowZero++;
        this.record(this.e2eMetric, latencyUs);
        if (flv !== null && !this.slow) this.record('playout', flv.at(v.timestampMs) - sentUs);
        if (hls !== null) {
          this.record('playout', hls.playoutUs - sentUs);
          if (hls.listedUs > 0) this.record('availabilityLag', hls.listedUs - sentUs);
        }
      }
    } else {
      // No marks (a stream someone else publishes): each frame's arrival against its
      // timestamp, relative to the fastest frame so far.
      const offset = v.arrivalUs - v.timestampMs * 1000;
      if (offset < this.minOffsetUs) this.minOffsetUs = offset;
      this.record(this.e2eMetric, offset - this.minOffsetUs);
    }
    // Gaps as a viewer sees them: between arrivals, or for HLS (frames come a segment at a
    // time) between the times a buffering player shows them.
    const atUs = hls !== null ? hls.playoutUs : v.arrivalUs;
    if (this.lastFrameUs !== 0) {
      const gap = atUs - this.lastFrameUs;
      if (!this.slow) this.record('gap', gap);
      if (gap > ctx.stallThresholdUs && ctx.measuring()) this.stalls++;
    }
    this.lastFrameUs = atUs;
  }

  /**
   * The stream was published again and this viewer followed: what it was due of the last
   * publication goes to frame accounting, and the time it took to get frames again (from the
   * new publication's first frame) is recorded.
   */
  private newPublication(arrivalUs: number, epoch: number, seq: number, intendedUs: number): void {
    if (this.firstSeq >= 0) {
      this.ctx.publicationSeen({ ...this.endRecord(arrivalUs, true), dueUntilLastFrame: false });
      this.record('resume', arrivalUs - (intendedUs - seq * this.ctx.frameIntervalUs));
      this.followed = true;
    }
    this.epoch = epoch;
    // A new publication's timestamps start again: a player starts again from its first frame.
    if (this.flvPlayout !== null) this.flvPlayout = new PlayoutClock();
    this.firstSeq = -1;
    this.lastSeq = -1;
    // The publisher was away between its publications: that gap is no stall of the server's.
    this.lastFrameUs = 0;
  }

  private recordFirstFrames(): void {
    if (this.playSentUs === 0) return;
    if (this.firstFrameAtUs > 0) {
      this.record('firstFrame', this.firstFrameAtUs - this.playSentUs);
      this.firstFrameAtUs = -1;
    }
    if (this.firstKeyframeAtUs > 0) {
      this.record('firstKeyframe', this.firstKeyframeAtUs - this.playSentUs);
      this.firstKeyframeAtUs = -1;
    }
  }

  /** Whether the viewer has had video (and audio, when the stream has it) within the bound. */
  verdict(nowUs: number, firstVideoWithinUs: number, audioExpected: boolean): VideoVerdict {
    const v = this.viewer;
    if (v === null) return 'waiting';
    const late = nowUs - this.playSentUs >= firstVideoWithinUs;
    if (v.counters.videoFrames === 0) return late ? 'no-video' : 'waiting';
    if (audioExpected && v.counters.audioFrames === 0) return late ? 'no-audio' : 'waiting';
    return 'ok';
  }

  /** Adds this viewer's counts so far into `into`. */
  addCounts(into: Counters, nowUs: number): void {
    const v = this.viewer;
    if (v === null) return;
    const c = v.counters;
    into.bytesReceived += c.bytesReceived;
    if (v instanceof Player) into.playerBytesSent += v.conn.socket.bytesWritten;
    into.mediaBytesReceived += c.mediaBytes;
    into.framesReceived += c.videoFrames;
    into.audioFramesReceived += c.audioFrames;
    into.duplicated += c.duplicated;
    into.outOfOrder += c.outOfOrder;
    into.markedFrames += c.marks;
    into.sentBeforeJoin += this.sentBeforeJoin;
    into.latencyBelowZero += this.belowZero;
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

  /**
   * What frame accounting needs, as the viewer ends at `leftUs`. For an HLS viewer the frames
   * due end with its last one: frames in segments the server had not yet listed were not out.
   */
  endRecord(leftUs: number, atEnd: boolean): ViewerRecord {
    const ms = (us: number) => (us - this.ctx.startAtUs) / 1000;
    return {
      stream: this.stream,
      epoch: this.epoch,
      protocol: this.protocolKey,
      slow: this.slow,
      firstSeq: this.firstSeq,
      lastSeq: this.lastSeq,
      playSentMs: ms(this.playSentUs > 0 ? this.playSentUs : this.openedUs),
      leftMs: ms(leftUs),
      lastLatencyMs: this.lastLatencyUs / 1000,
      lastFrameMs: this.lastFrameUs > 0 ? ms(this.lastFrameUs) : -1,
      atEnd,
      dueUntilLastFrame: this.protocol === 'hls',
      followed: this.followed,
    };
  }
}
