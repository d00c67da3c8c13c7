import type { RtmpError } from '../protocol/errors.js';
import { Mp4SegmentReader, type Mp4Sample, type Mp4SegmentSink } from '../media/fmp4-reader.js';
import type { Mp4Init } from '../media/mp4-init.js';
import type { TimingMark } from '../media/timing-mark.js';
import { TS_SYNC_BYTE, PTS_MODULO } from '../media/mpegts.js';
import { TsDemuxer, type TsDemuxSink, type TsVideoUnit } from '../media/ts-demuxer.js';

/** A video frame read from a segment, kept until the segment is complete. */
export interface SegmentFrame {
  /** Decode and presentation times, ms (33-bit MPEG-TS clocks unwrapped). */
  dtsMs: number;
  ptsMs: number;
  keyframe: boolean;
  hasMark: boolean;
  intendedUs: number;
  sentUs: number;
  seq: number;
  epoch: number;
}

/**
 * Reads HLS segment bodies as they download, MPEG-TS or fMP4 (told apart by the first byte),
 * into a list of the segment's video frames, which the viewer hands out once the segment is
 * complete. Frame records are reused from segment to segment.
 */
export class SegmentFrames implements TsDemuxSink, Mp4SegmentSink {
  readonly frames: SegmentFrame[] = [];
  count = 0;
  audioFrames = 0;
  mediaBytes = 0;
  error: RtmpError | null = null;
  private readonly keepBytes: number;
  private ts: TsDemuxer;
  private mp4: Mp4SegmentReader;
  private init: Mp4Init | null = null;
  private kind: 'ts' | 'mp4' | null = null;
  private lastPts90k = -1;
  private wrapOffset90k = 0;

  constructor(keepBytes: number) {
    this.keepBytes = keepBytes;
    this.ts = new TsDemuxer(this, { keepBytes });
    this.mp4 = new Mp4SegmentReader(this, null, { keepBytes });
  }

  /** The init segment for fMP4 segments that follow. */
  setInit(init: Mp4Init): void {
    this.init = init;
    this.mp4.setInit(init);
  }

  /** A new segment. Readers that failed on the last one start afresh. */
  begin(): void {
    if (this.error !== null) {
      this.error = null;
      this.ts = new TsDemuxer(this, { keepBytes: this.keepBytes });
      this.mp4 = new Mp4SegmentReader(this, this.init, { keepBytes: this.keepBytes });
    }
    this.count = 0;
    this.audioFrames = 0;
    this.mediaBytes = 0;
    this.kind = null;
    this.mp4.reset();
  }

  push(chunk: Buffer): boolean {
    if (this.error !== null || chunk.length === 0) return this.error === null;
    if (this.kind === null) this.kind = chunk[0] === TS_SYNC_BYTE ? 'ts' : 'mp4';
    return this.kind === 'ts' ? this.ts.push(chunk) : this.mp4.push(chunk);
  }

  /** The segment's last byte was read: finish its last access unit. */
  end(): boolean {
    if (this.error !== null) return false;
    if (this.kind === 'ts') return this.ts.flush();
    if (this.kind === 'mp4') return this.mp4.end();
    return true;
  }

  onVideo(u: TsVideoUnit): void {
    this.mediaBytes += u.esBytes;
    const dts = this.unwrap(u.dts90k >= 0 ? u.dts90k : u.pts90k);
    const pts =
      u.pts90k >= 0 ? dts + ((u.pts90k - (u.dts90k >= 0 ? u.dts90k : u.pts90k) + PTS_MODULO) % PTS_MODULO) : dts;
    this.add(dts / 90, pts / 90, u.keyframe, u.mark);
  }

  onAudio(_pts90k: number, frames: number, esBytes: number): void {
    this.audioFrames += frames;
    this.mediaBytes += esBytes;
  }

  onSample(s: Mp4Sample): void {
    this.mediaBytes += s.size;
    if (s.track.handler === 'soun') {
      this.audioFrames++;
      return;
    }
    if (s.track.handler !== 'vide') return;
    const scale = 1000 / s.track.timescale;
    this.add(s.decodeTime * scale, (s.decodeTime + s.compositionOffset) * scale, s.keyframe, s.mark);
  }

  onError(error: RtmpError): void {
    this.error ??= error;
  }

  /** Places a 33-bit 90 kHz value on a continuous clock (wraps every 26.5 hours). */
  private unwrap(t90k: number): number {
    if (this.lastPts90k >= 0 && t90k + this.wrapOffset90k < this.lastPts90k - PTS_MODULO / 2)
      this.wrapOffset90k += PTS_MODULO;
    const v = t90k + this.wrapOffset90k;
    this.lastPts90k = v;
    return v;
  }

  /** Records a video frame; `mark` is read now (the demuxers reuse it). */
  private add(dtsMs: number, ptsMs: number, keyframe: boolean, mark: TimingMark | null): void {
    let f = this.frames[this.count];
    if (f === undefined) {
      f = { dtsMs: 0, ptsMs: 0, keyframe: false, hasMark: false, intendedUs: 0, sentUs: 0, seq: 0, epoch: 0 };
      this.frames.push(f);
    }
    this.count++;
    f.dtsMs = dtsMs;
    f.ptsMs = ptsMs;
    f.keyframe = keyframe;
    f.hasMark = mark !== null;
    f.intendedUs = mark?.intendedUs ?? 0;
    f.sentUs = mark?.sentUs ?? 0;
    f.seq = mark?.seq ?? 0;
    f.epoch = mark?.epoch ?? 0;
  }
}
