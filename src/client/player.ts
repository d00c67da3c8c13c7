import type { BufferAllocator } from '../protocol/allocator.js';
import { MSG_AUDIO, MSG_VIDEO } from '../protocol/constants.js';
import { classifyVideo, newVideoTagInfo } from '../protocol/media-tags.js';
import type { RtmpMessage } from '../protocol/message.js';
import { monotonicUs, readMark, type MarkCodec, type TimingMark } from '../media/timing-mark.js';
import { ClientConnection, type ClientOptions, type StatusEvent } from './connection.js';
import type { ClientClose } from './errors.js';
import { SequenceTracker } from './sequence-tracker.js';
import type { FrameSink, Viewer, ViewerTimings } from './viewer.js';

/** Enough of each media payload for the tag header and the timing mark (AVC 50, HEVC 54 bytes). */
const PLAYER_SKIM_BYTES = 64;

export interface VideoObservation {
  arrivalUs: number;
  timestampMs: number;
  keyframe: boolean;
  /** Whole message size on the wire (payload bytes). */
  bytes: number;
  /** The frame's timing mark, or null when the publisher sent none. */
  mark: TimingMark | null;
}

export interface PlayerCounters {
  videoFrames: number;
  /** Bytes read from the socket (handshake included). */
  readonly bytesReceived: number;
  keyframes: number;
  audioFrames: number;
  mediaBytes: number;
  marks: number;
  /** Frames missing between marks' sequence numbers (server drops, losses). */
  lost: number;
  duplicated: number;
  outOfOrder: number;
}

export interface PlayerOptions extends ClientOptions {
  streamName: string;
  /** Publisher codec, to find marks (default avc). */
  codec?: MarkCodec;
  /** Set before play is sent, so frames that arrive with Play.Start are seen too. */
  onVideo?: (v: VideoObservation) => void;
  onStatus?: (s: StatusEvent) => void;
}

/**
 * A playing client that reads only what it needs: chunk headers, the tag header and the
 * timing mark of each frame (the reader skims the rest without copying), so one process can
 * hold thousands of players. Observations go to `onVideo` (and, as for every viewer, to
 * `onFrame`); counters are kept here.
 */
export class Player implements Viewer {
  readonly protocol = 'rtmp' as const;
  readonly conn: ClientConnection;
  readonly counters: PlayerCounters;
  /** Monotonic µs when `open` was called. */
  openUs = 0;
  /** Monotonic µs when play was sent, and of the first video frame / keyframe after it. */
  playSentUs = 0;
  playStartUs = 0;
  firstFrameUs = 0;
  firstKeyframeUs = 0;
  streamId = 0;
  /** Each video frame; `mark` is reused between calls (copy what you keep). */
  onVideo: ((v: VideoObservation) => void) | null;
  /** Each video frame, in the shape every viewer reports (the same object as `onVideo` gets). */
  onFrame: FrameSink | null = null;
  /** When the connection ends (unless `conn.onClose` is replaced). */
  onEnd: ((end: ClientClose) => void) | null = null;
  onStatus: ((s: StatusEvent) => void) | null;
  private readonly codec: MarkCodec;
  private readonly allocator: BufferAllocator | null;
  private readonly mark: TimingMark = { intendedUs: 0, sentUs: 0, seq: 0, epoch: 0 };
  private readonly info = newVideoTagInfo();
  private readonly tracker: SequenceTracker;

  private constructor(conn: ClientConnection, opts: PlayerOptions) {
    this.conn = conn;
    const socket = conn.socket;
    this.counters = {
      videoFrames: 0,
      get bytesReceived() {
        return socket.bytesRead;
      },
      keyframes: 0,
      audioFrames: 0,
      mediaBytes: 0,
      marks: 0,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
    };
    this.tracker = new SequenceTracker(this.counters);
    conn.onClose = (c) => this.onEnd?.(c);
    this.codec = opts.codec ?? 'avc';
    this.allocator = opts.allocator ?? null;
    this.onVideo = opts.onVideo ?? null;
    this.onStatus = opts.onStatus ?? null;
    conn.onMedia = (m) => this.onMedia(m);
    conn.onStatus = (s) => {
      // A new publication restarts the publisher's sequence numbers.
      if (s.code === 'NetStream.Play.PublishNotify' || s.code === 'NetStream.Play.UnpublishNotify')
        this.resetSequence();
      this.onStatus?.(s);
    };
  }

  /** Connects and plays; resolves on NetStream.Play.Start. */
  static async open(opts: PlayerOptions): Promise<Player> {
    const openUs = monotonicUs();
    const conn = await ClientConnection.open({ ...opts, skimMedia: opts.skimMedia ?? PLAYER_SKIM_BYTES });
    const p = new Player(conn, opts);
    p.openUs = openUs;
    p.playSentUs = monotonicUs();
    p.streamId = await conn.closeOnFailure(conn.play(opts.streamName));
    p.playStartUs = monotonicUs();
    return p;
  }

  get closed(): boolean {
    return this.conn.isClosed;
  }

  close(): void {
    this.conn.close();
  }

  /** Start-up times in the shape every viewer reports (monotonic µs; 0 until they happen). */
  get timings(): ViewerTimings {
    return {
      openUs: this.openUs,
      connectedUs: this.openUs > 0 ? this.openUs + this.conn.timings.tcpConnectUs : 0,
      requestUs: this.playSentUs,
      startedUs: this.playStartUs,
      firstFrameUs: this.firstFrameUs,
      firstKeyframeUs: this.firstKeyframeUs,
    };
  }

  private resetSequence(): void {
    this.tracker.reset();
  }

  /** Reused for every frame: `onVideo` must copy what it keeps. */
  private readonly observation: VideoObservation = {
    arrivalUs: 0,
    timestampMs: 0,
    keyframe: false,
    bytes: 0,
    mark: null,
  };

  private onMedia(m: RtmpMessage): void {
    const c = this.counters;
    c.mediaBytes += m.length;
    if (m.typeId === MSG_VIDEO) {
      const p = m.payload;
      let keyframe: boolean;
      let dataOffset: number;
      // Fast path: legacy AVC coded frames (0x17 / 0x27, AVC NALU) need no full classification.
      if ((p[0] === 0x17 || p[0] === 0x27) && p[1] === 1 && p.length >= 5) {
        keyframe = p[0] === 0x17;
        dataOffset = 5;
      } else {
        const info = this.info;
        if (!classifyVideo(p, info) || info.sequenceHeader || info.sequenceEnd || info.command) {
          this.release(m);
          return;
        }
        keyframe = info.keyframe;
        dataOffset = info.dataOffset;
      }
      const now = monotonicUs();
      c.videoFrames++;
      if (this.firstFrameUs === 0) this.firstFrameUs = now;
      if (keyframe) {
        c.keyframes++;
        if (this.firstKeyframeUs === 0) this.firstKeyframeUs = now;
      }
      const hasMark = readMark(p, dataOffset, this.codec, this.mark);
      if (hasMark) {
        c.marks++;
        this.tracker.track(this.mark.seq, this.mark.epoch);
      }
      if (this.onVideo !== null || this.onFrame !== null) {
        const o = this.observation;
        o.arrivalUs = now;
        o.timestampMs = m.timestamp;
        o.keyframe = keyframe;
        o.bytes = m.length;
        o.mark = hasMark ? this.mark : null;
        this.onVideo?.(o);
        this.onFrame?.(o);
      }
    } else if (m.typeId === MSG_AUDIO) {
      c.audioFrames++;
    }
    this.release(m);
  }

  private release(m: RtmpMessage): void {
    if (m.pooled && this.allocator !== null) this.allocator.release(m.payload);
  }
}
