import { ProtocolError } from './errors.js';

/**
 * Classification of audio/video message payloads (FLV tag bodies), legacy and Enhanced RTMP
 * (E-RTMP v2): codec, keyframe, sequence header/end, multitrack. This is what the GOP cache
 * and the drop policies need; codec payloads themselves are not parsed.
 *
 * `classifyVideo`/`classifyAudio` fill a caller-owned object and return false for a payload
 * too short or malformed to classify: they allocate nothing and never throw, so they can
 * run on every message.
 */

export const VideoFrameType = {
  KEY: 1,
  INTER: 2,
  DISPOSABLE_INTER: 3,
  GENERATED_KEY: 4,
  COMMAND: 5,
} as const;

/** Legacy VideoCodecId values (low nibble of byte 0 when the E-RTMP flag is clear). */
export const VideoCodecId = {
  H263: 2,
  SCREEN: 3,
  VP6: 4,
  VP6_ALPHA: 5,
  SCREEN_V2: 6,
  AVC: 7,
  /** Not in any spec, but sent by widespread HEVC-over-RTMP forks before E-RTMP. */
  HEVC_LEGACY: 12,
} as const;

/** Legacy AVCPacketType (byte 1 of AVC/HEVC tags). */
export const AvcPacketType = { SEQUENCE_HEADER: 0, NALU: 1, END_OF_SEQUENCE: 2 } as const;

/** E-RTMP VideoPacketType (low nibble of byte 0 when the E-RTMP flag is set). */
export const VideoPacketType = {
  SEQUENCE_START: 0,
  CODED_FRAMES: 1,
  SEQUENCE_END: 2,
  CODED_FRAMES_X: 3,
  METADATA: 4,
  MPEG2TS_SEQUENCE_START: 5,
  MULTITRACK: 6,
  MOD_EX: 7,
} as const;

/** E-RTMP AudioPacketType. */
export const AudioPacketType = {
  SEQUENCE_START: 0,
  CODED_FRAMES: 1,
  SEQUENCE_END: 2,
  MULTICHANNEL_CONFIG: 4,
  MULTITRACK: 5,
  MOD_EX: 7,
} as const;

export const AvMultitrackType = { ONE_TRACK: 0, MANY_TRACKS: 1, MANY_TRACKS_MANY_CODECS: 2 } as const;

/** Legacy SoundFormat values (high nibble of byte 0). */
export const SoundFormat = {
  PCM_PLATFORM: 0,
  ADPCM: 1,
  MP3: 2,
  PCM_LE: 3,
  NELLYMOSER_16K: 4,
  NELLYMOSER_8K: 5,
  NELLYMOSER: 6,
  G711_ALAW: 7,
  G711_MULAW: 8,
  EX_HEADER: 9,
  AAC: 10,
  SPEEX: 11,
  MP3_8K: 14,
  NATIVE: 15,
} as const;

export function fourCc(s: string): number {
  return ((s.charCodeAt(0) << 24) | (s.charCodeAt(1) << 16) | (s.charCodeAt(2) << 8) | s.charCodeAt(3)) >>> 0;
}

export function fourCcToString(value: number): string {
  return String.fromCharCode((value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

export const VideoFourCc = {
  AVC: fourCc('avc1'),
  HEVC: fourCc('hvc1'),
  AV1: fourCc('av01'),
  VP9: fourCc('vp09'),
  VP8: fourCc('vp08'),
  VVC: fourCc('vvc1'),
} as const;

export const AudioFourCc = {
  AAC: fourCc('mp4a'),
  OPUS: fourCc('Opus'),
  FLAC: fourCc('fLaC'),
  MP3: fourCc('.mp3'),
  AC3: fourCc('ac-3'),
  EAC3: fourCc('ec-3'),
} as const;

export type VideoCodec =
  | 'avc'
  | 'hevc'
  | 'av1'
  | 'vp9'
  | 'vp8'
  | 'vvc'
  | 'h263'
  | 'screen'
  | 'vp6'
  | 'vp6a'
  | 'screen2'
  | 'unknown';
export type AudioCodec =
  | 'aac'
  | 'mp3'
  | 'opus'
  | 'flac'
  | 'ac3'
  | 'eac3'
  | 'pcm'
  | 'adpcm'
  | 'nellymoser'
  | 'g711a'
  | 'g711u'
  | 'speex'
  | 'native'
  | 'unknown';

export interface VideoTagInfo {
  /** E-RTMP ExVideoTagHeader (FourCC signalling). */
  enhanced: boolean;
  frameType: number;
  codec: VideoCodec;
  /** Legacy codec id, or the FourCC as an unsigned 32-bit number when enhanced. */
  codecId: number;
  /** E-RTMP VideoPacketType after ModEx and multitrack, or legacy AVCPacketType, or -1. */
  packetType: number;
  /** A seekable frame carrying coded data (not a sequence header, end or command). */
  keyframe: boolean;
  /** Decoder configuration (AVC/HEVC record, E-RTMP SequenceStart). */
  sequenceHeader: boolean;
  sequenceEnd: boolean;
  /** Frame type 3: droppable without breaking later frames. */
  disposable: boolean;
  /** Frame type 5 (video info/command frame) or E-RTMP Metadata: no picture. */
  command: boolean;
  multitrack: boolean;
  /** AvMultitrackType, or -1. */
  multitrackType: number;
  /** Composition time offset in ms (AVC/HEVC coded frames), else 0. */
  compositionTimeMs: number;
  /** Offset of the codec data of the (first) track: where NAL units or OBUs begin. */
  dataOffset: number;
}

export interface AudioTagInfo {
  enhanced: boolean;
  /** Legacy SoundFormat (9 when enhanced). */
  soundFormat: number;
  codec: AudioCodec;
  /** FourCC when enhanced, else 0. */
  fourCc: number;
  /** AACPacketType (legacy AAC), E-RTMP AudioPacketType, or -1. */
  packetType: number;
  sequenceHeader: boolean;
  sequenceEnd: boolean;
  multitrack: boolean;
  multitrackType: number;
  dataOffset: number;
}

export function newVideoTagInfo(): VideoTagInfo {
  return {
    enhanced: false,
    frameType: 0,
    codec: 'unknown',
    codecId: 0,
    packetType: -1,
    keyframe: false,
    sequenceHeader: false,
    sequenceEnd: false,
    disposable: false,
    command: false,
    multitrack: false,
    multitrackType: -1,
    compositionTimeMs: 0,
    dataOffset: 0,
  };
}

export function newAudioTagInfo(): AudioTagInfo {
  return {
    enhanced: false,
    soundFormat: 0,
    codec: 'unknown',
    fourCc: 0,
    packetType: -1,
    sequenceHeader: false,
    sequenceEnd: false,
    multitrack: false,
    multitrackType: -1,
    dataOffset: 0,
  };
}

const LEGACY_VIDEO_CODECS: readonly VideoCodec[] = [
  'unknown',
  'unknown',
  'h263',
  'screen',
  'vp6',
  'vp6a',
  'screen2',
  'avc',
  'unknown',
  'unknown',
  'unknown',
  'unknown',
  'hevc',
  'unknown',
  'unknown',
  'unknown',
];

function videoCodecOf(fourcc: number): VideoCodec {
  switch (fourcc) {
    case VideoFourCc.AVC:
      return 'avc';
    case VideoFourCc.HEVC:
      return 'hevc';
    case VideoFourCc.AV1:
      return 'av1';
    case VideoFourCc.VP9:
      return 'vp9';
    case VideoFourCc.VP8:
      return 'vp8';
    case VideoFourCc.VVC:
      return 'vvc';
    default:
      return 'unknown';
  }
}

function audioCodecOf(fourcc: number): AudioCodec {
  switch (fourcc) {
    case AudioFourCc.AAC:
      return 'aac';
    case AudioFourCc.OPUS:
      return 'opus';
    case AudioFourCc.FLAC:
      return 'flac';
    case AudioFourCc.MP3:
      return 'mp3';
    case AudioFourCc.AC3:
      return 'ac3';
    case AudioFourCc.EAC3:
      return 'eac3';
    default:
      return 'unknown';
  }
}

const LEGACY_AUDIO_CODECS: readonly AudioCodec[] = [
  'pcm',
  'adpcm',
  'mp3',
  'pcm',
  'nellymoser',
  'nellymoser',
  'nellymoser',
  'g711a',
  'g711u',
  'unknown',
  'aac',
  'speex',
  'unknown',
  'unknown',
  'mp3',
  'native',
];

function readInt24(buf: Buffer, o: number): number {
  const v = (buf[o]! << 16) | (buf[o + 1]! << 8) | buf[o + 2]!;
  return v & 0x800000 ? v - 0x1000000 : v;
}

/**
 * Skips ModEx entries starting at `o` (the byte after the one whose low nibble said ModEx).
 * Returns `offset * 16 + packetType` (offset after the final packet-type byte), or -1 when
 * the payload ends first.
 */
function skipModEx(buf: Buffer, o: number, modExType: number): number {
  let packetType = modExType;
  while (packetType === modExType) {
    if (o >= buf.length) return -1;
    let size = buf[o]! + 1;
    o += 1;
    if (size === 256) {
      if (o + 2 > buf.length) return -1;
      size = buf.readUInt16BE(o) + 1;
      o += 2;
    }
    o += size;
    if (o >= buf.length) return -1;
    packetType = buf[o]! & 0x0f;
    o += 1;
  }
  return o * 16 + packetType;
}

/** What `readTrackHeader` read; one object for the module, so the classifiers allocate nothing. */
const trackHeader = { offset: 0, packetType: 0, fourCc: 0 };

/**
 * Reads the E-RTMP header bytes after the packet type (and any ModEx) at `o`: the multitrack
 * byte when `packetType` is the MULTITRACK value `multitrack`, then the FourCC (the first
 * track's when codecs differ), then the track id and size. Sets `out.multitrack`/
 * `multitrackType`; leaves the offset after them, the packet type and the FourCC in
 * `trackHeader` (that offset may lie past the end: the caller checks). Returns false when the
 * payload ends before the FourCC or the multitrack byte is invalid.
 */
function readTrackHeader(
  payload: Buffer,
  o: number,
  packetType: number,
  multitrack: number,
  out: VideoTagInfo | AudioTagInfo,
): boolean {
  let mt = -1;
  if (packetType === multitrack) {
    if (o >= payload.length) return false;
    mt = payload[o]! >>> 4;
    packetType = payload[o]! & 0x0f;
    o += 1;
    out.multitrack = true;
    out.multitrackType = mt;
    if (mt > AvMultitrackType.MANY_TRACKS_MANY_CODECS || packetType === multitrack) return false;
  }
  if (o + 4 > payload.length) return false;
  trackHeader.fourCc = payload.readUInt32BE(o);
  o += 4;
  // Track id, and the track size when there are several tracks.
  if (mt !== -1) o += mt === AvMultitrackType.ONE_TRACK ? 1 : 4;
  trackHeader.offset = o;
  trackHeader.packetType = packetType;
  return true;
}

function resetVideo(out: VideoTagInfo): void {
  out.enhanced = false;
  out.frameType = 0;
  out.codec = 'unknown';
  out.codecId = 0;
  out.packetType = -1;
  out.keyframe = false;
  out.sequenceHeader = false;
  out.sequenceEnd = false;
  out.disposable = false;
  out.command = false;
  out.multitrack = false;
  out.multitrackType = -1;
  out.compositionTimeMs = 0;
  out.dataOffset = 0;
}

/** Classifies a video message payload into `out`. Returns false when it cannot be read. */
export function classifyVideo(payload: Buffer, out: VideoTagInfo): boolean {
  resetVideo(out);
  if (payload.length < 1) return false;
  const b0 = payload[0]!;
  const frameType = (b0 >>> 4) & 0x07;
  out.frameType = frameType;
  out.disposable = frameType === VideoFrameType.DISPOSABLE_INTER;
  if ((b0 & 0x80) === 0) {
    const codecId = b0 & 0x0f;
    out.codecId = codecId;
    out.codec = LEGACY_VIDEO_CODECS[codecId]!;
    out.dataOffset = 1;
    if (frameType === VideoFrameType.COMMAND) {
      out.command = true;
      return true;
    }
    if (codecId === VideoCodecId.AVC || codecId === VideoCodecId.HEVC_LEGACY) {
      if (payload.length < 5) return false;
      const packetType = payload[1]!;
      out.packetType = packetType;
      out.compositionTimeMs = readInt24(payload, 2);
      out.dataOffset = 5;
      out.sequenceHeader = packetType === AvcPacketType.SEQUENCE_HEADER;
      out.sequenceEnd = packetType === AvcPacketType.END_OF_SEQUENCE;
      out.keyframe = packetType === AvcPacketType.NALU && isKeyFrameType(frameType);
      return true;
    }
    out.keyframe = isKeyFrameType(frameType);
    return true;
  }

  out.enhanced = true;
  let packetType = b0 & 0x0f;
  let o = 1;
  if (packetType === VideoPacketType.MOD_EX) {
    const packed = skipModEx(payload, o, VideoPacketType.MOD_EX);
    if (packed < 0) return false;
    o = packed >>> 4;
    packetType = packed & 0x0f;
  }
  if (frameType === VideoFrameType.COMMAND && packetType !== VideoPacketType.METADATA) {
    // A command frame carries one VideoCommand byte and no video.
    out.packetType = packetType;
    out.command = true;
    out.dataOffset = o;
    return o < payload.length;
  }
  if (!readTrackHeader(payload, o, packetType, VideoPacketType.MULTITRACK, out)) return false;
  o = trackHeader.offset;
  packetType = trackHeader.packetType;
  const fourcc = trackHeader.fourCc;
  if (o > payload.length) return false;
  out.codecId = fourcc;
  out.codec = videoCodecOf(fourcc);
  out.packetType = packetType;
  switch (packetType) {
    case VideoPacketType.SEQUENCE_START:
    case VideoPacketType.MPEG2TS_SEQUENCE_START:
      out.sequenceHeader = true;
      break;
    case VideoPacketType.SEQUENCE_END:
      out.sequenceEnd = true;
      break;
    case VideoPacketType.METADATA:
      out.command = true;
      break;
    case VideoPacketType.CODED_FRAMES:
      out.keyframe = isKeyFrameType(frameType);
      if (fourcc === VideoFourCc.AVC || fourcc === VideoFourCc.HEVC || fourcc === VideoFourCc.VVC) {
        if (o + 3 > payload.length) return false;
        out.compositionTimeMs = readInt24(payload, o);
        o += 3;
      }
      break;
    case VideoPacketType.CODED_FRAMES_X:
      out.keyframe = isKeyFrameType(frameType);
      break;
    default:
      return false;
  }
  out.dataOffset = o;
  return true;
}

function isKeyFrameType(frameType: number): boolean {
  return frameType === VideoFrameType.KEY || frameType === VideoFrameType.GENERATED_KEY;
}

function resetAudio(out: AudioTagInfo): void {
  out.enhanced = false;
  out.soundFormat = 0;
  out.codec = 'unknown';
  out.fourCc = 0;
  out.packetType = -1;
  out.sequenceHeader = false;
  out.sequenceEnd = false;
  out.multitrack = false;
  out.multitrackType = -1;
  out.dataOffset = 0;
}

/**
 * Classifies an audio message payload into `out`. Returns false when it cannot be read.
 * An empty payload is the "silence" message: valid, with nothing set.
 */
export function classifyAudio(payload: Buffer, out: AudioTagInfo): boolean {
  resetAudio(out);
  if (payload.length === 0) return true;
  const b0 = payload[0]!;
  const soundFormat = b0 >>> 4;
  out.soundFormat = soundFormat;
  if (soundFormat !== SoundFormat.EX_HEADER) {
    out.codec = LEGACY_AUDIO_CODECS[soundFormat]!;
    out.dataOffset = 1;
    if (soundFormat === SoundFormat.AAC) {
      if (payload.length < 2) return false;
      out.packetType = payload[1]!;
      out.sequenceHeader = out.packetType === 0;
      out.dataOffset = 2;
    }
    return true;
  }
  out.enhanced = true;
  let packetType = b0 & 0x0f;
  let o = 1;
  if (packetType === AudioPacketType.MOD_EX) {
    const packed = skipModEx(payload, o, AudioPacketType.MOD_EX);
    if (packed < 0) return false;
    o = packed >>> 4;
    packetType = packed & 0x0f;
  }
  if (!readTrackHeader(payload, o, packetType, AudioPacketType.MULTITRACK, out)) return false;
  o = trackHeader.offset;
  packetType = trackHeader.packetType;
  out.fourCc = trackHeader.fourCc;
  if (o > payload.length) return false;
  out.codec = audioCodecOf(out.fourCc);
  out.packetType = packetType;
  switch (packetType) {
    case AudioPacketType.SEQUENCE_START:
      out.sequenceHeader = true;
      break;
    case AudioPacketType.SEQUENCE_END:
      out.sequenceEnd = true;
      break;
    case AudioPacketType.CODED_FRAMES:
    case AudioPacketType.MULTICHANNEL_CONFIG:
      break;
    default:
      return false;
  }
  out.dataOffset = o;
  return true;
}

/** Allocating form of `classifyVideo` that throws on an unreadable payload. */
export function parseVideoTag(payload: Buffer): VideoTagInfo {
  const info = newVideoTagInfo();
  if (!classifyVideo(payload, info)) {
    throw new ProtocolError('RTMP_ERR_TAG_TRUNCATED', `video tag of ${payload.length} bytes cannot be classified`);
  }
  return info;
}

/** Allocating form of `classifyAudio` that throws on an unreadable payload. */
export function parseAudioTag(payload: Buffer): AudioTagInfo {
  const info = newAudioTagInfo();
  if (!classifyAudio(payload, info)) {
    throw new ProtocolError('RTMP_ERR_TAG_TRUNCATED', `audio tag of ${payload.length} bytes cannot be classified`);
  }
  return info;
}

export interface MediaTrack {
  trackId: number;
  fourCc: number;
  /** Offset and length of this track's body inside the payload. */
  offset: number;
  length: number;
}

/**
 * Lists the tracks of an E-RTMP multitrack video or audio payload (slow path: allocates).
 * A single-track payload yields one track with id 0.
 */
export function listTracks(payload: Buffer, kind: 'video' | 'audio'): MediaTrack[] {
  const isVideo = kind === 'video';
  const info = isVideo ? parseVideoTag(payload) : parseAudioTag(payload);
  const fourcc = isVideo ? (info as VideoTagInfo).codecId : (info as AudioTagInfo).fourCc;
  if (!info.multitrack)
    return [{ trackId: 0, fourCc: fourcc, offset: info.dataOffset, length: payload.length - info.dataOffset }];
  // Walk from the start of the first track entry.
  let o = 1;
  let packetType = payload[0]! & 0x0f;
  const modEx = isVideo ? VideoPacketType.MOD_EX : AudioPacketType.MOD_EX;
  if (packetType === modEx) {
    const packed = skipModEx(payload, o, modEx);
    o = packed >>> 4;
    packetType = packed & 0x0f;
  }
  const mt = payload[o]! >>> 4;
  o += 1;
  let shared = 0;
  if (mt !== AvMultitrackType.MANY_TRACKS_MANY_CODECS) {
    shared = payload.readUInt32BE(o);
    o += 4;
  }
  const tracks: MediaTrack[] = [];
  while (o < payload.length) {
    let cc = shared;
    if (mt === AvMultitrackType.MANY_TRACKS_MANY_CODECS) {
      if (o + 4 > payload.length) break;
      cc = payload.readUInt32BE(o);
      o += 4;
    }
    if (o >= payload.length) break;
    const trackId = payload[o]!;
    o += 1;
    if (mt === AvMultitrackType.ONE_TRACK) {
      tracks.push({ trackId, fourCc: cc, offset: o, length: payload.length - o });
      break;
    }
    if (o + 3 > payload.length) break;
    const size = (payload[o]! << 16) | (payload[o + 1]! << 8) | payload[o + 2]!;
    o += 3;
    if (o + size > payload.length) {
      throw new ProtocolError(
        'RTMP_ERR_TAG_TRUNCATED',
        `track ${trackId} of ${size} bytes at offset ${o} overruns the payload`,
      );
    }
    tracks.push({ trackId, fourCc: cc, offset: o, length: size });
    o += size;
  }
  return tracks;
}
