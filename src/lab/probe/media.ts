import { ecmaArray, type AmfObject } from '../../protocol/amf-types.js';
import { encodeAmf0 } from '../../protocol/amf0.js';
import { MSG_AUDIO, MSG_DATA_AMF0, MSG_VIDEO } from '../../protocol/constants.js';
import { AvMultitrackType, fourCc, VideoPacketType } from '../../protocol/media-tags.js';
import { avcDecoderConfigurationRecord, avcPps, avcSps, SyntheticSource } from '../../media/synthetic.js';

/**
 * The media a probe sends, each message built so the viewer side can find it again: every
 * frame carries a marker (16 unique ASCII bytes) inside its codec data, and sequence headers
 * (which have no room for one) are matched by their bytes. Tag headers are exact (legacy
 * AVC/AAC, Enhanced RTMP SequenceStart, CodedFrames, CodedFramesX, multitrack, ModEx); codec
 * bodies are filler that servers relay without decoding (top bit set: no start codes).
 */

export interface ProbeMessage {
  typeId: number;
  /** Timestamp in ms (may exceed 2^32 for wrap probes: the wire carries it modulo 2^32). */
  timestamp: number;
  payload: Buffer;
  /** Bytes that identify this message in the viewer's stream, or null to match by equal payload. */
  marker: Buffer | null;
  /** Short name for evidence ("keyframe 1", "AAC sequence header"). */
  label: string;
}

const EX_HEADER = 0x80;
const KEY = 1;
const INTER = 2;
const HVC1 = fourCc('hvc1');
const AV01 = fourCc('av01');
const VP09 = fourCc('vp09');

export type EnhancedCodec = 'hevc' | 'av1' | 'vp9';
const FOURCC: Record<EnhancedCodec, number> = { hevc: HVC1, av1: AV01, vp9: VP09 };

/** av1C: marker+version, profile 0 level 8, 8-bit 4:2:0, then a sequence header OBU. */
const AV1_CONFIG = Buffer.from('81080c000a0b00000024c4ffdf00680230', 'hex');
/** vpcC (version 1): profile 0, level 3.1, 8-bit 4:2:0, BT.709, no codec initialization data. */
const VP9_CONFIG = Buffer.from('01000000001f820101010000', 'hex');

function u32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
}

function u24(value: number): Buffer {
  return Buffer.from([(value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
}

/** `size` bytes: the marker, then filler with the top bit set. */
function body(marker: Buffer, size: number): Buffer {
  const b = Buffer.allocUnsafe(Math.max(size, marker.length));
  marker.copy(b, 0);
  for (let i = marker.length; i < b.length; i++) b[i] = 0x80 | ((i * 7) & 0x7f);
  return b;
}

export class ProbeMedia {
  private n = 0;

  /** 16 bytes no other message of this stream carries. */
  marker(): Buffer {
    return Buffer.from(`#rtmpbench${(this.n++).toString(36).padStart(5, '0')}`.slice(0, 16).padEnd(16, '#'), 'latin1');
  }

  /** `@setDataFrame onMetaData {...}` as publishers send it (matched by its bytes). */
  setDataFrame(props: AmfObject, timestamp = 0): ProbeMessage {
    return {
      typeId: MSG_DATA_AMF0,
      timestamp,
      payload: encodeAmf0('@setDataFrame', 'onMetaData', ecmaArray(props)),
      marker: null,
      label: '@setDataFrame onMetaData',
    };
  }

  avcSequenceHeader(timestamp = 0): ProbeMessage {
    const record = avcDecoderConfigurationRecord(avcSps(640, 360), avcPps());
    return {
      typeId: MSG_VIDEO,
      timestamp,
      payload: Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), record]),
      marker: null,
      label: 'AVC sequence header',
    };
  }

  /** A legacy AVC frame: tag header, one NAL unit (IDR or non-IDR slice) holding the marker. */
  avcFrame(
    keyframe: boolean,
    timestamp: number,
    size = 2000,
    label = keyframe ? 'AVC keyframe' : 'AVC frame',
  ): ProbeMessage {
    const marker = this.marker();
    const nal = Buffer.concat([Buffer.from([keyframe ? 0x65 : 0x41]), body(marker, Math.max(16, size - 10))]);
    const payload = Buffer.concat([Buffer.from([keyframe ? 0x17 : 0x27, 0x01, 0, 0, 0]), u32(nal.length), nal]);
    return { typeId: MSG_VIDEO, timestamp, payload, marker, label };
  }

  aacSequenceHeader(timestamp = 0): ProbeMessage {
    return {
      typeId: MSG_AUDIO,
      timestamp,
      payload: Buffer.from([0xaf, 0x00, 0x12, 0x10]),
      marker: null,
      label: 'AAC sequence header',
    };
  }

  aacFrame(timestamp: number, size = 200, label = 'AAC frame'): ProbeMessage {
    const marker = this.marker();
    return {
      typeId: MSG_AUDIO,
      timestamp,
      payload: Buffer.concat([Buffer.from([0xaf, 0x01]), body(marker, size - 2)]),
      marker,
      label,
    };
  }

  /**
   * Legacy AVC/AAC: sequence headers, a keyframe, then inter frames and audio, `count` video frames in
   * all, 40 ms apart from `start`.
   */
  avcAacStream(count: number, start = 0, withAudio = true): ProbeMessage[] {
    const out: ProbeMessage[] = [this.avcSequenceHeader(start)];
    if (withAudio) out.push(this.aacSequenceHeader(start));
    for (let i = 0; i < count; i++) {
      const t = start + i * 40;
      out.push(this.avcFrame(i === 0, t, i === 0 ? 6000 : 1500, i === 0 ? 'keyframe' : `frame ${i}`));
      if (withAudio) out.push(this.aacFrame(t + 20, 200, `audio ${i}`));
    }
    return out;
  }

  /** Enhanced RTMP SequenceStart for `codec` (HEVC record, av1C or vpcC). */
  enhancedSequenceStart(codec: EnhancedCodec, timestamp = 0): ProbeMessage {
    const config = codec === 'hevc' ? hevcRecord() : codec === 'av1' ? AV1_CONFIG : VP9_CONFIG;
    const payload = Buffer.concat([
      Buffer.from([EX_HEADER | (KEY << 4) | VideoPacketType.SEQUENCE_START]),
      u32(FOURCC[codec]),
      config,
    ]);
    return { typeId: MSG_VIDEO, timestamp, payload, marker: null, label: `${codec} SequenceStart` };
  }

  /**
   * An Enhanced RTMP coded frame: CodedFrames (HEVC with its composition time) or, with
   * `noCompositionTime`, CodedFramesX; the marker sits in the codec data.
   */
  enhancedFrame(
    codec: EnhancedCodec,
    keyframe: boolean,
    timestamp: number,
    opts: { size?: number; noCompositionTime?: boolean; label?: string } = {},
  ): ProbeMessage {
    const marker = this.marker();
    const x = codec === 'hevc' && opts.noCompositionTime === true;
    const packetType = x ? VideoPacketType.CODED_FRAMES_X : VideoPacketType.CODED_FRAMES;
    const head = Buffer.concat([
      Buffer.from([EX_HEADER | ((keyframe ? KEY : INTER) << 4) | packetType]),
      u32(FOURCC[codec]),
      codec === 'hevc' && !x ? u24(0) : Buffer.alloc(0),
    ]);
    const payload = Buffer.concat([head, codecData(codec, keyframe, marker, opts.size ?? 3000)]);
    return {
      typeId: MSG_VIDEO,
      timestamp,
      payload,
      marker,
      label: opts.label ?? `${codec} ${keyframe ? 'keyframe' : 'frame'}${x ? ' (CodedFramesX)' : ''}`,
    };
  }

  /** SequenceStart, a keyframe, inter frames (one as CodedFramesX for HEVC): `count` frames. */
  enhancedStream(codec: EnhancedCodec, count: number): ProbeMessage[] {
    const out = [this.enhancedSequenceStart(codec)];
    for (let i = 0; i < count; i++)
      out.push(this.enhancedFrame(codec, i === 0, i * 40, { noCompositionTime: codec === 'hevc' && i === count - 1 }));
    return out;
  }

  /**
   * Enhanced RTMP multitrack video (ManyTracks, two HEVC tracks with ids 0 and 1): a
   * SequenceStart for both tracks, then coded frames carrying both, the marker in track 1.
   */
  multitrackStream(count: number): ProbeMessage[] {
    const seq = this.multitrack(VideoPacketType.SEQUENCE_START, KEY, [hevcRecord(), hevcRecord()]);
    const out: ProbeMessage[] = [
      { typeId: MSG_VIDEO, timestamp: 0, payload: seq, marker: null, label: 'multitrack SequenceStart' },
    ];
    for (let i = 0; i < count; i++) {
      const marker = this.marker();
      const key = i === 0;
      const tracks = [
        Buffer.concat([u24(0), codecData('hevc', key, this.marker(), 1500)]),
        Buffer.concat([u24(0), codecData('hevc', key, marker, 600)]),
      ];
      out.push({
        typeId: MSG_VIDEO,
        timestamp: i * 40,
        payload: this.multitrack(VideoPacketType.CODED_FRAMES, key ? KEY : INTER, tracks),
        marker,
        label: `multitrack ${key ? 'keyframe' : `frame ${i}`}`,
      });
    }
    return out;
  }

  private multitrack(packetType: number, frameType: number, tracks: Buffer[]): Buffer {
    const parts = [
      Buffer.from([
        EX_HEADER | (frameType << 4) | VideoPacketType.MULTITRACK,
        (AvMultitrackType.MANY_TRACKS << 4) | packetType,
      ]),
      u32(HVC1),
    ];
    for (const [id, t] of tracks.entries()) parts.push(Buffer.from([id]), u24(t.length), t);
    return Buffer.concat(parts);
  }

  /** HEVC coded frames behind a ModEx prefix (TimestampOffsetNano of `nanos`). */
  modExFrame(keyframe: boolean, timestamp: number, nanos: number): ProbeMessage {
    const marker = this.marker();
    const head = Buffer.concat([
      Buffer.from([EX_HEADER | ((keyframe ? KEY : INTER) << 4) | VideoPacketType.MOD_EX]),
      Buffer.from([3 - 1]), // modExDataSize - 1
      u24(nanos),
      Buffer.from([(0 << 4) | VideoPacketType.CODED_FRAMES]), // TimestampOffsetNano, then the packet type
      u32(HVC1),
      u24(0),
    ]);
    return {
      typeId: MSG_VIDEO,
      timestamp,
      payload: Buffer.concat([head, codecData('hevc', keyframe, marker, 2000)]),
      marker,
      label: `ModEx ${keyframe ? 'keyframe' : 'frame'}`,
    };
  }

  /** A raw video message of exactly `size` bytes: a legacy AVC keyframe whose NAL unit fills it. */
  bigKeyframe(size: number, timestamp: number): ProbeMessage {
    return this.avcFrame(true, timestamp, size, `keyframe of ${size} bytes`);
  }
}

let hevcConfig: Buffer | null = null;
/** A real HEVCDecoderConfigurationRecord (the synthetic source's, 640x360 Main). */
function hevcRecord(): Buffer {
  if (hevcConfig === null) {
    const header = new SyntheticSource({
      videoBitrate: 100_000,
      fps: 25,
      gopSeconds: 1,
      codec: 'hevc',
      audioBitrate: 0,
    }).videoSequenceHeader();
    hevcConfig = Buffer.from(header.subarray(5));
  }
  return hevcConfig;
}

/** Codec data holding the marker: a length-prefixed NAL unit (HEVC), OBUs (AV1), a frame (VP9). */
function codecData(codec: EnhancedCodec, keyframe: boolean, marker: Buffer, size: number): Buffer {
  if (codec === 'hevc') {
    const nal = Buffer.concat([Buffer.from([keyframe ? 19 << 1 : 1 << 1, 0x01]), body(marker, Math.max(16, size - 6))]);
    return Buffer.concat([u32(nal.length), nal]);
  }
  if (codec === 'av1') {
    // A temporal delimiter OBU, then a frame OBU (type 6) with a two-byte LEB128 size.
    const payload = body(marker, Math.max(16, size - 6));
    const len = Math.min(payload.length, 0x3fff);
    return Buffer.concat([Buffer.from([0x12, 0x00, 0x32, 0x80 | (len & 0x7f), len >>> 7]), payload.subarray(0, len)]);
  }
  // VP9: frame marker 2, profile 0, show_existing_frame 0, frame type (0 key, 1 inter).
  return Buffer.concat([Buffer.from([keyframe ? 0x82 : 0x86]), body(marker, Math.max(16, size - 1))]);
}
