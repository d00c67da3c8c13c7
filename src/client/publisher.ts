import { HEAP_ALLOCATOR, type BufferAllocator } from '../protocol/allocator.js';
import { setDataFrameMessage } from '../protocol/commands.js';
import { CSID_AUDIO, CSID_VIDEO, MSG_AUDIO, MSG_VIDEO } from '../protocol/constants.js';
import type { OutgoingMessage } from '../protocol/message.js';
import { stampSendTime, monotonicUs } from '../media/timing-mark.js';
import type { MediaSource } from '../media/source.js';
import { ClientConnection, type ClientOptions } from './connection.js';

export interface PublisherOptions extends ClientOptions {
  streamName: string;
  source: MediaSource;
  /** Pool for the wire buffers of frames (shared by the publishers of a thread). */
  framePool?: BufferAllocator;
  /** Stop sending (let the schedule slip) while this many bytes wait in the socket. */
  maxBufferedBytes?: number;
}

export interface PublisherCounters {
  videoFrames: number;
  audioFrames: number;
  bytes: number;
  /** Pumps that found the socket over `maxBufferedBytes` and sent nothing. */
  stalledPumps: number;
}

/** Called with each video frame as it goes out: intended and actual send time, in µs. */
export type PacingRecorder = (intendedUs: number, sentUs: number) => void;

/**
 * Called with each video frame as it goes out: its sequence number (from 0), send times in µs, and
 * whether it is a keyframe.
 */
export type VideoSentRecorder = (seq: number, intendedUs: number, sentUs: number, keyframe: boolean) => void;

/**
 * A publishing client: connects, publishes, sends metadata and sequence headers, then sends
 * frames on a schedule. It owns no timer: `pump(nowUs)` sends every frame due by `nowUs`,
 * so one timer can drive thousands of publishers (the load generator's rule). Frames carry
 * their intended time in the timing mark, so lateness shows up as latency downstream.
 */
export class Publisher {
  readonly conn: ClientConnection;
  readonly source: MediaSource;
  readonly counters: PublisherCounters = { videoFrames: 0, audioFrames: 0, bytes: 0, stalledPumps: 0 };
  streamId = 0;
  onPacing: PacingRecorder | null = null;
  onVideoSent: VideoSentRecorder | null = null;
  private startUs = 0;
  private nextVideo = 0;
  private nextAudio = 0;
  private nextVideoDueUs = Infinity;
  private nextAudioDueUs = Infinity;
  private readonly maxBufferedBytes: number;
  private readonly name: string;
  private readonly framePool: BufferAllocator;

  private constructor(conn: ClientConnection, opts: PublisherOptions) {
    this.conn = conn;
    this.source = opts.source;
    this.name = opts.streamName;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.framePool = opts.framePool ?? HEAP_ALLOCATOR;
  }

  static async open(opts: PublisherOptions): Promise<Publisher> {
    const conn = await ClientConnection.open(opts);
    const p = new Publisher(conn, opts);
    p.streamId = await conn.closeOnFailure(conn.publish(opts.streamName));
    return p;
  }

  get closed(): boolean {
    return this.conn.isClosed;
  }

  /** Sends metadata and sequence headers and starts the schedule at `startUs` (default now). */
  start(startUs = monotonicUs()): void {
    const s = this.source;
    this.startUs = startUs;
    this.conn.send(setDataFrameMessage(this.streamId, s.metadata()));
    const vsh = s.videoSequenceHeader();
    if (vsh !== null) this.send(MSG_VIDEO, 0, vsh);
    const ash = s.audioSequenceHeader();
    if (ash !== null) this.send(MSG_AUDIO, 0, ash);
    this.nextVideoDueUs = startUs;
    this.nextAudioDueUs = s.hasAudio ? startUs : Infinity;
  }

  /** When the next frame is due (µs), for schedulers. */
  get nextDueUs(): number {
    return Math.min(this.nextVideoDueUs, this.nextAudioDueUs);
  }

  /** Sends every frame due by `nowUs`, in time order. Returns how many were sent. */
  pump(nowUs: number): number {
    if (this.conn.isClosed) return 0;
    if (this.conn.writableLength > this.maxBufferedBytes) {
      this.counters.stalledPumps++;
      return 0;
    }
    const s = this.source;
    let sent = 0;
    for (;;) {
      const videoFirst = this.nextVideoDueUs <= this.nextAudioDueUs;
      const due = videoFirst ? this.nextVideoDueUs : this.nextAudioDueUs;
      if (due > nowUs) break;
      if (videoFirst) {
        const frame = s.videoFrame(this.nextVideo, due);
        const sentUs = monotonicUs();
        if (frame.markOffset >= 0) {
          stampSendTime(frame.payload, frame.markOffset, s.codec, sentUs);
          this.onPacing?.(due, sentUs);
        }
        this.send(MSG_VIDEO, frame.timestampMs, frame.payload);
        this.onVideoSent?.(this.nextVideo, due, sentUs, frame.keyframe);
        this.counters.videoFrames++;
        this.nextVideo++;
        this.nextVideoDueUs = this.startUs + s.videoDueOffsetUs(this.nextVideo);
      } else {
        const frame = s.audioFrameAt(this.nextAudio);
        if (frame !== null) {
          this.send(MSG_AUDIO, frame.timestampMs, frame.payload);
          this.counters.audioFrames++;
        }
        this.nextAudio++;
        this.nextAudioDueUs = this.startUs + s.audioDueOffsetUs(this.nextAudio);
      }
      sent++;
    }
    return sent;
  }

  /** Video frames sent so far (their marks carry sequence numbers 0..n-1). */
  get videoFramesSent(): number {
    return this.nextVideo;
  }

  /** Ends the publication (FCUnpublish, deleteStream) and closes. */
  stop(): void {
    if (this.conn.isClosed) return;
    this.conn.call('FCUnpublish', null, [this.name]).catch(() => {});
    this.conn.call('deleteStream', null, [this.streamId]).catch(() => {});
    this.conn.close(true);
  }

  private send(typeId: number, timestampMs: number, payload: Buffer): void {
    const msg: OutgoingMessage = {
      csid: typeId === MSG_VIDEO ? CSID_VIDEO : CSID_AUDIO,
      typeId,
      streamId: this.streamId,
      timestamp: timestampMs,
      payload,
    };
    this.counters.bytes += payload.length;
    // Encoded into a pooled buffer at once: the source may reuse `payload` for the next frame.
    this.conn.sendPooled(msg, this.framePool);
  }
}
