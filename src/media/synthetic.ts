import type { AmfObject } from '../protocol/amf-types.js';
import { MSG_AUDIO, MSG_VIDEO } from '../protocol/constants.js';
import { fourCc } from '../protocol/media-tags.js';
import type { MediaFrame, MediaSource } from './source.js';
import { markNalSize, writeMark, type MarkCodec } from './timing-mark.js';

/**
 * A synthetic audio/video source that servers accept as real: valid AVC (or HEVC as Enhanced
 * RTMP) and AAC sequence headers and tag headers, with frames of realistic sizes (a keyframe
 * about ten P-frames, AAC frames at 44.1 kHz / 1024). Frame bodies are filler, not pictures:
 * servers relay them without decoding. Each video frame starts with a timing mark.
 */

export interface SyntheticOptions {
  /** Video bits per second. */
  videoBitrate: number;
  fps: number;
  gopSeconds: number;
  width?: number;
  height?: number;
  codec?: MarkCodec;
  /** Audio bits per second (0: no audio). */
  audioBitrate?: number;
}

const AAC_SAMPLE_RATE = 44_100;
const AAC_FRAME_SAMPLES = 1024;

/** Writes bits MSB first; ue/se are Exp-Golomb codes (H.264 7.2). */
class BitWriter {
  private readonly bytes: number[] = [];
  private cur = 0;
  private n = 0;
  u(bits: number, value: number): this {
    for (let i = bits - 1; i >= 0; i--) {
      this.cur = (this.cur << 1) | ((value >>> i) & 1);
      if (++this.n === 8) {
        this.bytes.push(this.cur);
        this.cur = 0;
        this.n = 0;
      }
    }
    return this;
  }
  ue(value: number): this {
    const v = value + 1;
    const len = 32 - Math.clz32(v);
    return this.u(len - 1, 0).u(len, v);
  }
  se(value: number): this {
    return this.ue(value <= 0 ? -2 * value : 2 * value - 1);
  }
  /** rbsp_trailing_bits, then emulation prevention (0x03 after 00 00 before 00..03). */
  finish(): Buffer {
    this.u(1, 1);
    while (this.n !== 0) this.u(1, 0);
    const out: number[] = [];
    let zeros = 0;
    for (const b of this.bytes) {
      if (zeros >= 2 && b <= 3) {
        out.push(3);
        zeros = 0;
      }
      out.push(b);
      zeros = b === 0 ? zeros + 1 : 0;
    }
    return Buffer.from(out);
  }
}

const AVC_PROFILE_BASELINE = 66;
const AVC_LEVEL = 31;

/** Sequence parameter set for a baseline-profile stream of the given size. */
export function avcSps(width: number, height: number): Buffer {
  const mbw = Math.ceil(width / 16);
  const mbh = Math.ceil(height / 16);
  const w = new BitWriter()
    .u(8, 0x67) // NAL header: nal_ref_idc 3, type 7 (SPS)
    .u(8, AVC_PROFILE_BASELINE)
    .u(8, 0xc0) // constraint_set0 and 1
    .u(8, AVC_LEVEL)
    .ue(0) // seq_parameter_set_id
    .ue(0) // log2_max_frame_num_minus4
    .ue(2) // pic_order_cnt_type
    .ue(1) // max_num_ref_frames
    .u(1, 0) // gaps_in_frame_num_value_allowed_flag
    .ue(mbw - 1)
    .ue(mbh - 1)
    .u(1, 1) // frame_mbs_only_flag
    .u(1, 1); // direct_8x8_inference_flag
  const cropRight = (mbw * 16 - width) / 2;
  const cropBottom = (mbh * 16 - height) / 2;
  if (cropRight > 0 || cropBottom > 0) {
    w.u(1, 1).ue(0).ue(Math.floor(cropRight)).ue(0).ue(Math.floor(cropBottom));
  } else {
    w.u(1, 0);
  }
  return w.u(1, 0).finish(); // vui_parameters_present_flag
}

export function avcPps(): Buffer {
  return new BitWriter()
    .u(8, 0x68) // NAL header: type 8 (PPS)
    .ue(0) // pic_parameter_set_id
    .ue(0) // seq_parameter_set_id
    .u(1, 0) // entropy_coding_mode_flag (CAVLC)
    .u(1, 0) // bottom_field_pic_order_in_frame_present_flag
    .ue(0) // num_slice_groups_minus1
    .ue(0) // num_ref_idx_l0_default_active_minus1
    .ue(0) // num_ref_idx_l1_default_active_minus1
    .u(1, 0) // weighted_pred_flag
    .u(2, 0) // weighted_bipred_idc
    .se(0) // pic_init_qp_minus26
    .se(0) // pic_init_qs_minus26
    .se(0) // chroma_qp_index_offset
    .u(1, 1) // deblocking_filter_control_present_flag
    .u(1, 0) // constrained_intra_pred_flag
    .u(1, 0) // redundant_pic_cnt_present_flag
    .finish();
}

/** AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1) with 4-byte NAL lengths. */
export function avcDecoderConfigurationRecord(sps: Buffer, pps: Buffer): Buffer {
  const out = Buffer.alloc(11 + sps.length + pps.length);
  out[0] = 1;
  out[1] = sps[1]!;
  out[2] = sps[2]!;
  out[3] = sps[3]!;
  out[4] = 0xff; // reserved + lengthSizeMinusOne = 3
  out[5] = 0xe1; // reserved + one SPS
  out.writeUInt16BE(sps.length, 6);
  sps.copy(out, 8);
  out[8 + sps.length] = 1;
  out.writeUInt16BE(pps.length, 9 + sps.length);
  pps.copy(out, 11 + sps.length);
  return out;
}

/**
 * HEVCDecoderConfigurationRecord of a 640x360 Main-profile stream (VPS, SPS and PPS written
 * by x265 here; the x265 version SEI left out).
 */
const HEVC_RECORD_640X360 = Buffer.from(
  '0104080000009e08000000003ff000fcfff8f800000f03a00001001740010c01ffff0408000003009e0800000300003f959809' +
    'a10001002d4201010408000003009e0800000300003f9000a0402d2cb2b349265780b7020200040000030004000003007820' +
    'a2000100084401c172860c4624',
  'hex',
);

/** AudioSpecificConfig: AAC-LC, 44.1 kHz, stereo. */
const AAC_CONFIG = Buffer.from([0x12, 0x10]);

const HVC1 = fourCc('hvc1');

const TEMPLATES = new Map<string, Buffer>();
/** E-RTMP first byte: ExHeader flag | frame type << 4 | packet type. */
const EX = 0x80;

export class SyntheticSource implements MediaSource {
  epoch = 0;
  readonly codec: MarkCodec;
  readonly fps: number;
  readonly gopFrames: number;
  readonly keyframeBytes: number;
  readonly pframeBytes: number;
  readonly audioFrameBytes: number;
  readonly width: number;
  readonly height: number;
  private readonly opts: SyntheticOptions;
  private readonly audioFrame: Buffer | null;
  private readonly keyTemplate: Buffer;
  private readonly interTemplate: Buffer;
  private readonly markAt: number;

  constructor(opts: SyntheticOptions) {
    this.opts = opts;
    this.codec = opts.codec ?? 'avc';
    this.fps = opts.fps;
    this.width = this.codec === 'hevc' ? 640 : (opts.width ?? 640);
    this.height = this.codec === 'hevc' ? 360 : (opts.height ?? 360);
    this.gopFrames = Math.max(1, Math.round(opts.fps * opts.gopSeconds));
    // Keyframe = 10 P-frames; sizes chosen so the GOP averages the bitrate.
    const avg = opts.videoBitrate / 8 / opts.fps;
    this.markAt = this.codec === 'avc' ? 5 : 8;
    const minFrame = this.markAt + markNalSize(this.codec) + 4 + 2 + 8;
    this.pframeBytes = Math.max(minFrame, Math.round((this.gopFrames * avg) / (this.gopFrames + 9)));
    this.keyframeBytes = Math.max(minFrame, this.pframeBytes * 10);
    const audioBitrate = opts.audioBitrate ?? 64_000;
    this.audioFrameBytes =
      audioBitrate > 0 ? Math.max(4, Math.round(audioBitrate / 8 / (AAC_SAMPLE_RATE / AAC_FRAME_SAMPLES))) : 0;
    this.audioFrame = audioBitrate > 0 ? this.buildAudioFrame() : null;
    this.keyTemplate = this.template(true);
    this.interTemplate = this.template(false);
  }

  get hasAudio(): boolean {
    return this.audioFrame !== null;
  }

  /** Interval between AAC frames in ms. */
  get audioIntervalMs(): number {
    return (AAC_FRAME_SAMPLES * 1000) / AAC_SAMPLE_RATE;
  }

  metadata(): AmfObject {
    return {
      width: this.width,
      height: this.height,
      framerate: this.fps,
      videocodecid: this.codec === 'avc' ? 7 : HVC1,
      videodatarate: this.opts.videoBitrate / 1000,
      ...(this.audioFrame !== null
        ? {
            audiocodecid: 10,
            audiodatarate: (this.opts.audioBitrate ?? 64_000) / 1000,
            audiosamplerate: AAC_SAMPLE_RATE,
            audiosamplesize: 16,
            stereo: true,
          }
        : {}),
      encoder: 'rtmpbench synthetic source',
    };
  }

  videoSequenceHeader(): Buffer {
    if (this.codec === 'hevc') {
      return Buffer.concat([Buffer.from([EX | (1 << 4) | 0]), fourCcBytes(HVC1), HEVC_RECORD_640X360]);
    }
    const record = avcDecoderConfigurationRecord(avcSps(this.width, this.height), avcPps());
    return Buffer.concat([Buffer.from([0x17, 0x00, 0, 0, 0]), record]);
  }

  audioSequenceHeader(): Buffer | null {
    return this.audioFrame === null ? null : Buffer.concat([Buffer.from([0xaf, 0x00]), AAC_CONFIG]);
  }

  videoDueOffsetUs(index: number): number {
    return (index * 1e6) / this.fps;
  }

  audioDueOffsetUs(index: number): number {
    return (index * AAC_FRAME_SAMPLES * 1e6) / AAC_SAMPLE_RATE;
  }

  /** Whether video frame `index` (from 0) is a keyframe. */
  isKeyframe(index: number): boolean {
    return index % this.gopFrames === 0;
  }

  /**
   * Video frame `index` with its timing mark (intended time and sequence number written; the
   * send time is stamped when it goes out). Valid until the next call.
   */
  videoFrame(index: number, intendedUs: number): MediaFrame {
    const keyframe = this.isKeyframe(index);
    // The template itself: only the mark differs between frames, and callers encode the frame
    // before asking for the next one (MediaSource contract), so no copy is made here.
    const payload = keyframe ? this.keyTemplate : this.interTemplate;
    writeMark(payload, this.markAt, this.codec, intendedUs, index, this.epoch);
    return {
      typeId: MSG_VIDEO,
      timestampMs: Math.round((index * 1000) / this.fps),
      payload,
      keyframe,
      markOffset: this.markAt,
    };
  }

  /** Audio frame `index`: one shared, immutable buffer (no mark). */
  audioFrameAt(index: number): MediaFrame | null {
    if (this.audioFrame === null) return null;
    return {
      typeId: MSG_AUDIO,
      timestampMs: Math.round(index * this.audioIntervalMs),
      payload: this.audioFrame,
      keyframe: false,
      markOffset: -1,
    };
  }

  private buildAudioFrame(): Buffer {
    const b = Buffer.alloc(this.audioFrameBytes, 0x5a);
    b[0] = 0xaf;
    b[1] = 0x01;
    return b;
  }

  /**
   * Frame templates are shared by every source of a thread with the same codec and sizes: only
   * the mark differs per frame, and it is written and sent before the next frame is asked for.
   */
  private template(keyframe: boolean): Buffer {
    const key = `${this.codec}:${keyframe ? this.keyframeBytes : this.pframeBytes}:${keyframe}`;
    let t = TEMPLATES.get(key);
    if (t === undefined) {
      t = this.buildVideoTemplate(keyframe);
      TEMPLATES.set(key, t);
    }
    return t;
  }

  private buildVideoTemplate(keyframe: boolean): Buffer {
    const size = keyframe ? this.keyframeBytes : this.pframeBytes;
    const b = Buffer.alloc(size);
    // Filler bytes with the top bit set: no start codes if a server converts to Annex B.
    for (let i = 0; i < size; i++) b[i] = 0x80 | ((i * 7) & 0x7f);
    let o: number;
    if (this.codec === 'avc') {
      b[0] = keyframe ? 0x17 : 0x27;
      b[1] = 0x01; // NALU
      b[2] = b[3] = b[4] = 0; // composition time 0
      o = 5;
    } else {
      b[0] = EX | ((keyframe ? 1 : 2) << 4) | 1; // CodedFrames
      fourCcBytes(HVC1).copy(b, 1);
      b[5] = b[6] = b[7] = 0; // composition time 0
      o = 8;
    }
    o += markNalSize(this.codec); // the mark is written per frame
    const nalLength = size - o - 4;
    b.writeUInt32BE(nalLength, o);
    if (this.codec === 'avc') {
      b[o + 4] = keyframe ? 0x65 : 0x41; // IDR slice / non-IDR slice
    } else {
      b[o + 4] = keyframe ? 19 << 1 : 1 << 1; // IDR_W_RADL / TRAIL_R
      b[o + 5] = 0x01;
    }
    return b;
  }
}

function fourCcBytes(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value, 0);
  return b;
}
