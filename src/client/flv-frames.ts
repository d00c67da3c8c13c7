import { MSG_AUDIO, MSG_VIDEO } from '../protocol/constants.js';
import { classifyVideo, newVideoTagInfo } from '../protocol/media-tags.js';
import type { RtmpError } from '../protocol/errors.js';
import { FlvStreamReader, type FlvStreamSink, type FlvStreamTag } from '../media/flv-stream-reader.js';
import { monotonicUs, readMark, type TimingMark } from '../media/timing-mark.js';
import { SequenceTracker } from './sequence-tracker.js';
import type { FrameSink, ViewerCounters, ViewerFrame, ViewerTimings } from './viewer.js';

/** Enough of each media tag for the tag header and the timing mark (as the RTMP player keeps). */
const FLV_SKIM_BYTES = 64;

/**
 * Frames of an FLV stream (HTTP-FLV and WebSocket-FLV bodies): the FLV reader skims each tag,
 * video tags are classified and their marks read at the fixed offset, exactly as the RTMP
 * player does; counters, first-frame times and the frame callback of the viewer are fed here.
 * Every byte pushed in one read gets the same arrival time (one clock read per read).
 */
export class FlvFrames implements FlvStreamSink {
  onFrame: FrameSink | null = null;
  /** The FLV stream broke (the viewer closes). */
  onBroken: ((error: RtmpError) => void) | null = null;
  private readonly reader: FlvStreamReader;
  private readonly counters: ViewerCounters;
  private readonly timings: ViewerTimings;
  private readonly tracker: SequenceTracker;
  private readonly info = newVideoTagInfo();
  private readonly mark: TimingMark = { intendedUs: 0, sentUs: 0, seq: 0, epoch: 0 };
  private readonly frame: ViewerFrame = { arrivalUs: 0, timestampMs: 0, keyframe: false, mark: null };
  private nowUs = 0;

  constructor(counters: ViewerCounters, timings: ViewerTimings) {
    this.counters = counters;
    this.timings = timings;
    this.tracker = new SequenceTracker(counters);
    this.reader = new FlvStreamReader(this, { skimMedia: FLV_SKIM_BYTES });
  }

  /** Bytes of the body, as read. Returns false once the stream is broken. */
  push(chunk: Buffer): boolean {
    this.counters.bytesReceived += chunk.length;
    this.nowUs = monotonicUs();
    return this.reader.push(chunk);
  }

  destroy(): void {
    this.reader.destroy();
  }

  onTag(tag: FlvStreamTag): void {
    const c = this.counters;
    if (tag.typeId === MSG_AUDIO) {
      c.mediaBytes += tag.dataBytes;
      c.audioFrames++;
      return;
    }
    if (tag.typeId !== MSG_VIDEO) return;
    c.mediaBytes += tag.dataBytes;
    const p = tag.payload;
    let keyframe: boolean;
    let dataOffset: number;
    let hevc = false;
    // Fast path: legacy AVC coded frames (0x17 / 0x27, AVC NALU), as in the RTMP player.
    if ((p[0] === 0x17 || p[0] === 0x27) && p[1] === 1 && p.length >= 5) {
      keyframe = p[0] === 0x17;
      dataOffset = 5;
    } else {
      const info = this.info;
      if (!classifyVideo(p, info) || info.sequenceHeader || info.sequenceEnd || info.command) return;
      keyframe = info.keyframe;
      dataOffset = info.dataOffset;
      hevc = info.codec === 'hevc';
    }
    const now = this.nowUs;
    c.videoFrames++;
    const t = this.timings;
    if (t.firstFrameUs === 0) t.firstFrameUs = now;
    if (keyframe) {
      c.keyframes++;
      if (t.firstKeyframeUs === 0) t.firstKeyframeUs = now;
    }
    const hasMark = readMark(p, dataOffset, hevc ? 'hevc' : 'avc', this.mark);
    if (hasMark) {
      c.marks++;
      this.tracker.track(this.mark.seq, this.mark.epoch);
    }
    const sink = this.onFrame;
    if (sink !== null) {
      const f = this.frame;
      f.arrivalUs = now;
      f.timestampMs = tag.timestampMs;
      f.keyframe = keyframe;
      f.mark = hasMark ? this.mark : null;
      sink(f);
    }
  }

  onError(error: RtmpError): void {
    this.onBroken?.(error);
  }
}
