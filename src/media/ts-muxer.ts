import { ProtocolError } from '../protocol/errors.js';
import {
  classifyAudio,
  classifyVideo,
  newAudioTagInfo,
  newVideoTagInfo,
  type AudioTagInfo,
  type VideoTagInfo,
} from '../protocol/media-tags.js';
import {
  ADTS_HEADER_SIZE,
  parseAacConfig,
  parseAvcConfig,
  parseHevcConfig,
  writeAdtsHeader,
  type AacConfig,
  type VideoConfig,
} from './codec-config.js';
import {
  PID_PAT,
  STREAM_ID_AUDIO,
  STREAM_ID_VIDEO,
  StreamType,
  TABLE_ID_PAT,
  TABLE_ID_PMT,
  TS_HEADER_SIZE,
  TS_PACKET_SIZE,
  TS_PAYLOAD_SIZE,
  TS_SYNC_BYTE,
  crc32Mpeg,
  msTo90k,
  writeTimestamp,
} from './mpegts.js';

/**
 * Muxes RTMP/FLV audio and video messages into MPEG-TS packets, as HLS segments carry them:
 * PAT/PMT, one PES per access unit or AAC frame, PTS/DTS from the timestamp and composition
 * time, a PCR on every video PES, continuity counters per PID.
 *
 * Video (AVC, or HEVC as Enhanced RTMP or the legacy codec id 12) goes from length-prefixed NAL
 * units to Annex B: an access unit delimiter first, the parameter sets of the last sequence
 * header before each keyframe (unless the frame carries its own), then the frame's NAL units
 * unchanged (a timing mark SEI stays first after them). AAC frames get an ADTS header.
 *
 * Output is a view of the muxer's own buffer, valid until the next call: the caller copies it
 * into its segment. Each frame's bytes are copied once, from the message into the packets.
 */

export interface TsMuxerOptions {
  videoPid?: number;
  audioPid?: number;
  pmtPid?: number;
  programNumber?: number;
}

export interface TsMuxerStats {
  videoFrames: number;
  audioFrames: number;
  packets: number;
  /** Messages that carry no picture or sound we can mux (commands, other codecs, multitrack). */
  skipped: number;
}

const EMPTY = Buffer.alloc(0);
const START_CODE = Buffer.from([0, 0, 0, 1]);
const AVC_AUD = Buffer.from([0x09, 0xf0]); // primary_pic_type 7: any slice type
const HEVC_AUD = Buffer.from([35 << 1, 0x01, 0x50]); // pic_type 2: any slice type
const AVC_NAL_AUD = 9;
const AVC_NAL_SPS = 7;
const HEVC_NAL_AUD = 35;
const HEVC_NAL_SPS = 33;
/** Adaptation field with a PCR: length, flags, 6 PCR bytes. */
const AF_PCR_BYTES = 8;
const PES_HEADER_PTS_ONLY = 14;
const PES_HEADER_PTS_DTS = 19;
const MAX_ADTS_FRAME_BYTES = 8191;

export class TsMuxer {
  readonly videoPid: number;
  readonly audioPid: number;
  readonly pmtPid: number;
  private readonly programNumber: number;
  private video: VideoConfig | null = null;
  private aac: AacConfig | null = null;
  private pmtVersion = 0;
  private readonly cc = new Map<number, number>();
  private readonly vinfo: VideoTagInfo = newVideoTagInfo();
  private readonly ainfo: AudioTagInfo = newAudioTagInfo();

  /** The output staging buffer, grown to the largest frame seen. */
  private out: Buffer = Buffer.allocUnsafe(64 * 1024);
  /** Pieces of the PES being written (gathered while the NAL units are walked). */
  private pieceBufs: Buffer[] = [];
  private pieceStarts: number[] = [];
  private pieceEnds: number[] = [];
  private pieces = 0;
  private readonly pesHeader = Buffer.allocUnsafe(PES_HEADER_PTS_DTS);
  private readonly adts = Buffer.allocUnsafe(ADTS_HEADER_SIZE);

  private readonly counters: TsMuxerStats = { videoFrames: 0, audioFrames: 0, packets: 0, skipped: 0 };

  constructor(options: TsMuxerOptions = {}) {
    this.videoPid = options.videoPid ?? 0x100;
    this.audioPid = options.audioPid ?? 0x101;
    this.pmtPid = options.pmtPid ?? 0x1000;
    this.programNumber = options.programNumber ?? 1;
  }

  stats(): TsMuxerStats {
    return { ...this.counters };
  }

  get videoCodec(): 'avc' | 'hevc' | null {
    return this.video?.codec ?? null;
  }

  get hasAudio(): boolean {
    return this.aac !== null;
  }

  /** PAT and PMT (two packets), for the start of every segment. A view valid until the next call. */
  tables(): Buffer {
    const out = this.ensure(2 * TS_PACKET_SIZE);
    this.writePat(out, 0);
    this.writePmt(out, TS_PACKET_SIZE);
    this.counters.packets += 2;
    return out.subarray(0, 2 * TS_PACKET_SIZE);
  }

  /**
   * A video message (FLV tag body) as TS packets: empty for sequence headers (taken in) and for
   * messages that carry no picture. A view valid until the next call. Throws a ProtocolError
   * for a malformed frame or configuration record.
   */
  videoMessage(timestampMs: number, payload: Buffer): Buffer {
    const info = this.vinfo;
    if (
      !classifyVideo(payload, info) ||
      info.command ||
      info.sequenceEnd ||
      (info.codec !== 'avc' && info.codec !== 'hevc')
    ) {
      this.counters.skipped++;
      return EMPTY;
    }
    if (info.multitrack && info.multitrackType !== 0) {
      this.counters.skipped++;
      return EMPTY;
    }
    const body = payload.subarray(info.dataOffset);
    if (info.sequenceHeader) {
      const config = info.codec === 'avc' ? parseAvcConfig(body) : parseHevcConfig(body);
      if (this.video === null || this.video.codec !== config.codec) this.pmtVersion = (this.pmtVersion + 1) & 0x1f;
      this.video = config;
      return EMPTY;
    }
    const config = this.video;
    if (config === null || config.codec !== info.codec) {
      this.counters.skipped++;
      return EMPTY;
    }
    this.gatherAccessUnit(body, config, info.keyframe);
    const dts = msTo90k(timestampMs);
    const pts = msTo90k(timestampMs + info.compositionTimeMs);
    const headerBytes = this.writePesHeader(STREAM_ID_VIDEO, pts, dts, this.gatheredBytes(), true);
    this.prependPiece(this.pesHeader, 0, headerBytes);
    this.counters.videoFrames++;
    return this.packetize(this.videoPid, dts, info.keyframe);
  }

  /** An audio message (FLV tag body) as TS packets: AAC only; empty for sequence headers. */
  audioMessage(timestampMs: number, payload: Buffer): Buffer {
    const info = this.ainfo;
    if (
      !classifyAudio(payload, info) ||
      info.codec !== 'aac' ||
      info.sequenceEnd ||
      info.multitrack ||
      payload.length <= info.dataOffset
    ) {
      this.counters.skipped++;
      return EMPTY;
    }
    if (info.sequenceHeader) {
      if (this.aac === null) this.pmtVersion = (this.pmtVersion + 1) & 0x1f;
      this.aac = parseAacConfig(payload.subarray(info.dataOffset));
      return EMPTY;
    }
    if (this.aac === null) {
      this.counters.skipped++;
      return EMPTY;
    }
    const raw = payload.length - info.dataOffset;
    if (raw + ADTS_HEADER_SIZE > MAX_ADTS_FRAME_BYTES) {
      this.counters.skipped++; // ADTS cannot carry a frame this long (13-bit length)
      return EMPTY;
    }
    writeAdtsHeader(this.adts, 0, this.aac, raw);
    this.pieces = 0;
    const pts = msTo90k(timestampMs);
    const headerBytes = this.writePesHeader(STREAM_ID_AUDIO, pts, pts, ADTS_HEADER_SIZE + raw, false);
    this.addPiece(this.pesHeader, 0, headerBytes);
    this.addPiece(this.adts, 0, ADTS_HEADER_SIZE);
    this.addPiece(payload, info.dataOffset, payload.length);
    this.counters.audioFrames++;
    return this.packetize(this.audioPid, this.video === null ? pts : -1, false);
  }

  /** Walks the frame's NAL units into pieces: AUD, parameter sets on keyframes, the units. */
  private gatherAccessUnit(body: Buffer, config: VideoConfig, keyframe: boolean): void {
    const avc = config.codec === 'avc';
    const size = config.nalLengthSize;
    this.pieces = 0;
    this.addPiece(START_CODE, 0, 4);
    const aud = avc ? AVC_AUD : HEVC_AUD;
    this.addPiece(aud, 0, aud.length);
    const afterAud = this.pieces;
    let hasSps = false;
    let o = 0;
    while (o < body.length) {
      if (o + size > body.length) {
        throw new ProtocolError(
          'RTMP_ERR_NAL_MALFORMED',
          `${body.length - o} bytes left for a ${size}-byte NAL length`,
          { offset: o },
        );
      }
      let len = 0;
      for (let k = 0; k < size; k++) len = len * 256 + body[o + k]!;
      const nal = o + size;
      if (nal + len > body.length) {
        throw new ProtocolError(
          'RTMP_ERR_NAL_MALFORMED',
          `NAL unit of ${len} bytes at ${nal} in a frame of ${body.length}`,
          { offset: o },
        );
      }
      o = nal + len;
      if (len === 0) continue;
      const type = avc ? body[nal]! & 0x1f : (body[nal]! >>> 1) & 0x3f;
      if (type === (avc ? AVC_NAL_AUD : HEVC_NAL_AUD)) continue;
      if (type === (avc ? AVC_NAL_SPS : HEVC_NAL_SPS)) hasSps = true;
      this.addPiece(START_CODE, 0, 4);
      this.addPiece(body, nal, nal + len);
    }
    if (keyframe && !hasSps && config.parameterSets.length > 0) {
      // Parameter sets go right after the delimiter: move the frame's units back.
      const extra = config.parameterSets.length * 2;
      const n = this.pieces;
      for (let i = 0; i < extra; i++) this.addPiece(EMPTY, 0, 0);
      for (let i = n - 1; i >= afterAud; i--)
        this.setPiece(i + extra, this.pieceBufs[i]!, this.pieceStarts[i]!, this.pieceEnds[i]!);
      let p = afterAud;
      for (const ps of config.parameterSets) {
        this.setPiece(p++, START_CODE, 0, 4);
        this.setPiece(p++, ps, 0, ps.length);
      }
    }
  }

  /** Writes a PES header into `pesHeader`; returns its size. */
  private writePesHeader(streamId: number, pts: number, dts: number, esBytes: number, video: boolean): number {
    const h = this.pesHeader;
    const withDts = pts !== dts;
    const headerBytes = withDts ? PES_HEADER_PTS_DTS : PES_HEADER_PTS_ONLY;
    const pesLength = headerBytes - 6 + esBytes;
    h[0] = 0;
    h[1] = 0;
    h[2] = 1;
    h[3] = streamId;
    // Video PES may leave the length unset (0) when it does not fit in 16 bits (audio always fits).
    h.writeUInt16BE(pesLength > 0xffff ? 0 : pesLength, 4);
    h[6] = video ? 0x84 : 0x80; // '10', data_alignment_indicator for video
    h[7] = withDts ? 0xc0 : 0x80;
    h[8] = headerBytes - 9;
    writeTimestamp(h, 9, withDts ? 0b0011 : 0b0010, pts);
    if (withDts) writeTimestamp(h, 14, 0b0001, dts);
    return headerBytes;
  }

  /** Splits the gathered pieces into TS packets of `pid`; `pcr90k` ≥ 0 puts a PCR in the first. */
  private packetize(pid: number, pcr90k: number, randomAccess: boolean): Buffer {
    const total = this.gatheredBytes();
    const firstAf = pcr90k >= 0 ? AF_PCR_BYTES : randomAccess ? 2 : 0;
    const packets = Math.ceil((total + firstAf) / TS_PAYLOAD_SIZE) + 1;
    const out = this.ensure(packets * TS_PACKET_SIZE);
    let o = 0;
    let left = total;
    let piece = 0;
    let pieceAt = this.pieceStarts[0] ?? 0;
    let first = true;
    while (left > 0) {
      let af = first ? firstAf : 0;
      let room = TS_PAYLOAD_SIZE - af;
      const stuffing = left < room ? room - left : 0;
      if (stuffing > 0) {
        af += stuffing;
        room -= stuffing;
      }
      const cc = this.nextCc(pid);
      out[o] = TS_SYNC_BYTE;
      out[o + 1] = (first ? 0x40 : 0) | ((pid >>> 8) & 0x1f);
      out[o + 2] = pid & 0xff;
      out[o + 3] = (af > 0 ? 0x30 : 0x10) | cc;
      let w = o + TS_HEADER_SIZE;
      if (af > 0) {
        out[w] = af - 1;
        if (af > 1) {
          let flags = 0;
          const withPcr = first && pcr90k >= 0;
          if (first && randomAccess) flags |= 0x40;
          if (withPcr) flags |= 0x10;
          out[w + 1] = flags;
          let s = w + 2;
          if (withPcr) {
            writePcr(out, s, pcr90k);
            s += 6;
          }
          out.fill(0xff, s, w + af);
        }
        w += af;
      }
      // Copy `room` bytes of the gathered pieces.
      let need = room;
      while (need > 0) {
        const end = this.pieceEnds[piece]!;
        const n = Math.min(need, end - pieceAt);
        if (n > 0) {
          out.set(this.pieceBufs[piece]!.subarray(pieceAt, pieceAt + n), w);
          w += n;
          pieceAt += n;
          need -= n;
        }
        if (pieceAt >= end) {
          piece++;
          pieceAt = this.pieceStarts[piece] ?? 0;
        }
      }
      left -= room;
      o += TS_PACKET_SIZE;
      first = false;
      this.counters.packets++;
    }
    this.releasePieces();
    return out.subarray(0, o);
  }

  private writePat(out: Buffer, o: number): void {
    const s = this.psiStart(out, o, PID_PAT);
    let w = s;
    out[w++] = TABLE_ID_PAT;
    const sectionLength = 5 + 4 + 4; // header after length, one program, CRC
    out[w++] = 0xb0 | (sectionLength >>> 8);
    out[w++] = sectionLength & 0xff;
    out.writeUInt16BE(1, w); // transport_stream_id
    w += 2;
    out[w++] = 0xc1; // version 0, current
    out[w++] = 0;
    out[w++] = 0;
    out.writeUInt16BE(this.programNumber, w);
    w += 2;
    out.writeUInt16BE(0xe000 | this.pmtPid, w);
    w += 2;
    out.writeUInt32BE(crc32Mpeg(out, s, w), w);
    w += 4;
    out.fill(0xff, w, o + TS_PACKET_SIZE);
  }

  private writePmt(out: Buffer, o: number): void {
    const s = this.psiStart(out, o, this.pmtPid);
    const streams: [number, number][] = [];
    if (this.video !== null)
      streams.push([this.video.codec === 'avc' ? StreamType.AVC : StreamType.HEVC, this.videoPid]);
    if (this.aac !== null) streams.push([StreamType.AAC_ADTS, this.audioPid]);
    const pcrPid = this.video !== null || this.aac === null ? this.videoPid : this.audioPid;
    let w = s;
    out[w++] = TABLE_ID_PMT;
    const sectionLength = 9 + streams.length * 5 + 4;
    out[w++] = 0xb0 | (sectionLength >>> 8);
    out[w++] = sectionLength & 0xff;
    out.writeUInt16BE(this.programNumber, w);
    w += 2;
    out[w++] = 0xc1 | (this.pmtVersion << 1);
    out[w++] = 0;
    out[w++] = 0;
    out.writeUInt16BE(0xe000 | pcrPid, w);
    w += 2;
    out.writeUInt16BE(0xf000, w); // program_info_length 0
    w += 2;
    for (const [type, pid] of streams) {
      out[w++] = type;
      out.writeUInt16BE(0xe000 | pid, w);
      w += 2;
      out.writeUInt16BE(0xf000, w); // ES_info_length 0
      w += 2;
    }
    out.writeUInt32BE(crc32Mpeg(out, s, w), w);
    w += 4;
    out.fill(0xff, w, o + TS_PACKET_SIZE);
  }

  /** Packet header and pointer field of a PSI section; returns where the section starts. */
  private psiStart(out: Buffer, o: number, pid: number): number {
    out[o] = TS_SYNC_BYTE;
    out[o + 1] = 0x40 | ((pid >>> 8) & 0x1f);
    out[o + 2] = pid & 0xff;
    out[o + 3] = 0x10 | this.nextCc(pid);
    out[o + 4] = 0; // pointer_field
    return o + 5;
  }

  private nextCc(pid: number): number {
    const cc = this.cc.get(pid) ?? 0;
    this.cc.set(pid, (cc + 1) & 0x0f);
    return cc;
  }

  private ensure(bytes: number): Buffer {
    if (this.out.length < bytes) this.out = Buffer.allocUnsafe(Math.max(bytes, this.out.length * 2));
    return this.out;
  }

  private addPiece(buf: Buffer, start: number, end: number): void {
    this.setPiece(this.pieces++, buf, start, end);
  }

  private setPiece(i: number, buf: Buffer, start: number, end: number): void {
    this.pieceBufs[i] = buf;
    this.pieceStarts[i] = start;
    this.pieceEnds[i] = end;
  }

  private prependPiece(buf: Buffer, start: number, end: number): void {
    for (let i = this.pieces; i > 0; i--)
      this.setPiece(i, this.pieceBufs[i - 1]!, this.pieceStarts[i - 1]!, this.pieceEnds[i - 1]!);
    this.setPiece(0, buf, start, end);
    this.pieces++;
  }

  private gatheredBytes(): number {
    let n = 0;
    for (let i = 0; i < this.pieces; i++) n += this.pieceEnds[i]! - this.pieceStarts[i]!;
    return n;
  }

  /** Forgets the message buffers the pieces referred to (they belong to the caller). */
  private releasePieces(): void {
    for (let i = 0; i < this.pieces; i++) this.pieceBufs[i] = EMPTY;
    this.pieces = 0;
  }
}

/** Writes a 6-byte PCR (base in 90 kHz, extension 0). */
function writePcr(out: Buffer, o: number, base90k: number): void {
  const hi = Math.floor(base90k / 2); // top 32 of the 33 bits
  out.writeUInt32BE(hi >>> 0, o);
  out[o + 4] = ((base90k & 1) << 7) | 0x7e;
  out[o + 5] = 0;
}
