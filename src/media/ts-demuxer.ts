import { LimitError, ProtocolError, type RtmpError, readerError } from '../protocol/errors.js';
import {
  PID_PAT,
  StreamType,
  TABLE_ID_PAT,
  TABLE_ID_PMT,
  TS_PACKET_SIZE,
  TS_SYNC_BYTE,
  crc32Mpeg,
  readTimestamp,
} from './mpegts.js';
import { findMarkAnnexB, type MarkCodec, type TimingMark } from './timing-mark.js';

/**
 * Reads an MPEG-TS byte stream (HLS segments) for what a viewer measures: the video PID's
 * access units (found through PAT and PMT), each with its PTS/DTS, whether it is a keyframe,
 * and its timing mark; audio is counted in ADTS frames.
 *
 * A state machine fed with reads through `push`; packets split across reads go through a
 * 188-byte carry. Of each video PES only the first `keepBytes` are copied (the PES header,
 * delimiter, parameter sets and the mark SEI lie there); the rest is counted and skipped. The
 * last access unit of a segment ends with the segment: call `flush()` after its last byte.
 * After an error the demuxer is dead: it reports once, and ignores later pushes.
 */

export interface TsVideoUnit {
  codec: MarkCodec;
  /** 90 kHz, 33 bits; -1 when the PES has none. DTS equals PTS when only PTS is sent. */
  pts90k: number;
  dts90k: number;
  keyframe: boolean;
  /** Elementary stream bytes of the access unit. */
  esBytes: number;
  /** The mark, or null (the object is reused: copy what you keep). */
  mark: TimingMark | null;
  /** The first bytes of the access unit (Annex B), a view valid only during `onVideo`. */
  prefix: Buffer;
}

export interface TsDemuxSink {
  onVideo(unit: TsVideoUnit): void;
  /** An audio PES: its PTS, how many ADTS frames it held, and its elementary stream bytes. */
  onAudio?(pts90k: number, frames: number, esBytes: number): void;
  onError(error: RtmpError): void;
}

export interface TsDemuxerOptions {
  /** Bytes of each video PES kept to find the mark and the frame type. */
  keepBytes?: number;
}

export interface TsDemuxStats {
  bytesReceived: number;
  packets: number;
  videoUnits: number;
  audioFrames: number;
  /** Packets whose continuity counter skipped (lost or reordered packets). */
  continuityErrors: number;
  /** Packets with transport_error_indicator set (skipped). */
  transportErrors: number;
}

const DEFAULT_TS_KEEP_BYTES = 4096;
const MAX_SECTION_BYTES = 1024;
const PES_FIXED_HEADER = 9;
const AVC_NAL_IDR = 5;
/** HEVC IRAP NAL unit types: BLA, IDR, CRA. */
const HEVC_IRAP_FIRST = 16;
const HEVC_IRAP_LAST = 23;
const START_CODE = Buffer.from([0, 0, 1]);

const EMPTY = Buffer.alloc(0);

export class TsDemuxer {
  private readonly sink: TsDemuxSink;
  private readonly keepBytes: number;
  private dead = false;

  private readonly carry = Buffer.allocUnsafe(TS_PACKET_SIZE);
  private carried = 0;
  private bytesBefore = 0;
  /** Stream offset of the packet being read, and where it starts in its buffer. */
  private packetAt = 0;
  private packetStart = 0;

  private pmtPid = -1;
  private videoPid = -1;
  private audioPid = -1;
  private codec: MarkCodec = 'avc';
  private readonly section = Buffer.allocUnsafe(MAX_SECTION_BYTES);
  private sectionPid = -1;
  private sectionLength = 0;
  private sectionFill = 0;
  private readonly lastCc = new Int8Array(8192).fill(-1);

  /** Video PES being reassembled (its first `keepBytes`). */
  private readonly pes: Buffer;
  private pesFill = 0;
  private pesBytes = 0;
  private pesOpen = false;
  private pesRandomAccess = false;

  /** Audio: ADTS walking state within the current PES. */
  private audioPts = -1;
  private audioFrames = 0;
  private audioBytes = 0;
  private adtsSkip = 0;
  private readonly adtsHeader = Buffer.allocUnsafe(6);
  private adtsHeaderFill = 0;
  private adtsLost = false;
  private audioOpen = false;

  private readonly unit: TsVideoUnit = {
    codec: 'avc',
    pts90k: -1,
    dts90k: -1,
    keyframe: false,
    esBytes: 0,
    mark: null,
    prefix: EMPTY,
  };
  private readonly mark: TimingMark = { intendedUs: 0, sentUs: 0, seq: 0, epoch: 0 };
  private readonly counters: TsDemuxStats = {
    bytesReceived: 0,
    packets: 0,
    videoUnits: 0,
    audioFrames: 0,
    continuityErrors: 0,
    transportErrors: 0,
  };

  constructor(sink: TsDemuxSink, options: TsDemuxerOptions = {}) {
    this.sink = sink;
    this.keepBytes = options.keepBytes ?? DEFAULT_TS_KEEP_BYTES;
    this.pes = Buffer.allocUnsafe(this.keepBytes);
  }

  get failed(): boolean {
    return this.dead;
  }

  /** The video stream's codec from the PMT, or null before one was seen. */
  get videoCodec(): MarkCodec | null {
    return this.videoPid < 0 ? null : this.codec;
  }

  stats(): TsDemuxStats {
    return { ...this.counters };
  }

  /** Feeds bytes of the stream. Returns false once the demuxer has failed (reported once). */
  push(chunk: Buffer): boolean {
    if (this.dead) return false;
    this.bytesBefore = this.counters.bytesReceived;
    this.counters.bytesReceived += chunk.length;
    try {
      let o = 0;
      if (this.carried > 0) {
        const n = Math.min(TS_PACKET_SIZE - this.carried, chunk.length);
        chunk.copy(this.carry, this.carried, 0, n);
        this.carried += n;
        o = n;
        if (this.carried < TS_PACKET_SIZE) return true;
        this.carried = 0;
        this.packetAt = this.bytesBefore + n - TS_PACKET_SIZE;
        this.packet(this.carry, 0);
      }
      while (o + TS_PACKET_SIZE <= chunk.length) {
        this.packetAt = this.bytesBefore + o;
        this.packet(chunk, o);
        o += TS_PACKET_SIZE;
      }
      if (o < chunk.length) {
        chunk.copy(this.carry, 0, o);
        this.carried = chunk.length - o;
      }
    } catch (err) {
      this.fail(err);
      return false;
    }
    return true;
  }

  /**
   * The end of a segment: delivers the access unit and audio PES still open, and forgets
   * continuity counters (the next segment need not follow this one). Returns false once failed.
   */
  flush(): boolean {
    if (this.dead) return false;
    try {
      if (this.carried > 0) {
        throw new ProtocolError('RTMP_ERR_TS_SYNC', `the segment ends ${this.carried} bytes into a packet`, {
          offset: this.counters.bytesReceived,
        });
      }
      this.endVideoPes();
      this.endAudioPes();
      this.lastCc.fill(-1);
    } catch (err) {
      this.fail(err);
      return false;
    }
    return true;
  }

  private packet(buf: Buffer, o: number): void {
    this.packetStart = o;
    if (buf[o] !== TS_SYNC_BYTE) {
      throw new ProtocolError(
        'RTMP_ERR_TS_SYNC',
        `byte 0x${buf[o]!.toString(16)} where a packet should start`,
        this.where(o),
      );
    }
    this.counters.packets++;
    const b1 = buf[o + 1]!;
    if (b1 & 0x80) {
      this.counters.transportErrors++;
      return;
    }
    const pusi = (b1 & 0x40) !== 0;
    const pid = ((b1 & 0x1f) << 8) | buf[o + 2]!;
    const b3 = buf[o + 3]!;
    const afc = (b3 >>> 4) & 0x03;
    const cc = b3 & 0x0f;
    let p = o + 4;
    let randomAccess = false;
    let discontinuity = false;
    if (afc & 0x02) {
      const afLen = buf[p]!;
      if (afLen > 183)
        throw new ProtocolError('RTMP_ERR_TS_MALFORMED', `adaptation field of ${afLen} bytes`, this.where(o));
      if (afLen > 0) {
        discontinuity = (buf[p + 1]! & 0x80) !== 0;
        randomAccess = (buf[p + 1]! & 0x40) !== 0;
      }
      p += 1 + afLen;
    }
    if ((afc & 0x01) === 0) return;
    if (pid !== this.videoPid && pid !== this.audioPid && pid !== PID_PAT && pid !== this.pmtPid) return;
    const end = o + TS_PACKET_SIZE;
    const last = this.lastCc[pid]!;
    if (last >= 0 && !discontinuity) {
      if (cc === last) return; // a duplicate packet
      if (cc !== ((last + 1) & 0x0f)) this.counters.continuityErrors++;
    }
    this.lastCc[pid] = cc;
    if (pid === this.videoPid) {
      this.videoPayload(buf, p, end, pusi, randomAccess);
    } else if (pid === this.audioPid) {
      this.audioPayload(buf, p, end, pusi);
    } else {
      this.sectionPayload(pid, buf, p, end, pusi);
    }
  }

  private sectionPayload(pid: number, buf: Buffer, p: number, end: number, pusi: boolean): void {
    if (pusi) {
      const pointer = buf[p]!;
      p += 1 + pointer;
      if (p >= end)
        throw new ProtocolError(
          'RTMP_ERR_TS_MALFORMED',
          `pointer field ${pointer} points past the packet`,
          this.where(p),
        );
      this.sectionPid = pid;
      this.sectionFill = 0;
      this.sectionLength = 0;
    } else if (this.sectionPid !== pid || this.sectionFill === 0) {
      return;
    }
    const n = Math.min(end - p, MAX_SECTION_BYTES - this.sectionFill);
    buf.copy(this.section, this.sectionFill, p, p + n);
    this.sectionFill += n;
    if (this.sectionLength === 0 && this.sectionFill >= 3) {
      if (this.section[0] === 0xff) {
        this.sectionPid = -1; // stuffing after the section
        return;
      }
      this.sectionLength = 3 + (((this.section[1]! & 0x0f) << 8) | this.section[2]!);
      if (this.sectionLength > MAX_SECTION_BYTES) {
        throw new LimitError(
          'RTMP_ERR_MEDIA_LIMIT',
          `PSI section of ${this.sectionLength} bytes; the limit is ${MAX_SECTION_BYTES}`,
          this.where(p),
        );
      }
    }
    if (this.sectionLength > 0 && this.sectionFill >= this.sectionLength) {
      this.sectionPid = -1;
      this.parseSection(pid, this.section, this.sectionLength);
    }
  }

  private parseSection(pid: number, s: Buffer, length: number): void {
    if (length < 12) throw new ProtocolError('RTMP_ERR_TS_MALFORMED', `PSI section of ${length} bytes on PID ${pid}`);
    if (crc32Mpeg(s, 0, length) !== 0)
      throw new ProtocolError('RTMP_ERR_TS_MALFORMED', `PSI section on PID ${pid} fails its CRC`);
    const table = s[0]!;
    const body = length - 4;
    if (pid === PID_PAT && table === TABLE_ID_PAT) {
      for (let i = 8; i + 4 <= body; i += 4) {
        const program = s.readUInt16BE(i);
        if (program !== 0) {
          this.pmtPid = s.readUInt16BE(i + 2) & 0x1fff;
          break;
        }
      }
    } else if (pid === this.pmtPid && table === TABLE_ID_PMT) {
      const programInfo = s.readUInt16BE(10) & 0x0fff;
      let videoPid = -1;
      let audioPid = -1;
      for (let i = 12 + programInfo; i + 5 <= body; ) {
        const type = s[i]!;
        const esPid = s.readUInt16BE(i + 1) & 0x1fff;
        const info = s.readUInt16BE(i + 3) & 0x0fff;
        if (videoPid < 0 && (type === StreamType.AVC || type === StreamType.HEVC)) {
          videoPid = esPid;
          this.codec = type === StreamType.AVC ? 'avc' : 'hevc';
        } else if (audioPid < 0 && type === StreamType.AAC_ADTS) {
          audioPid = esPid;
        }
        i += 5 + info;
      }
      if (videoPid !== this.videoPid) this.endVideoPes();
      this.videoPid = videoPid;
      this.audioPid = audioPid;
    }
  }

  private videoPayload(buf: Buffer, p: number, end: number, pusi: boolean, randomAccess: boolean): void {
    if (pusi) {
      this.endVideoPes();
      this.pesOpen = true;
      this.pesFill = 0;
      this.pesBytes = 0;
      this.pesRandomAccess = randomAccess;
    } else if (!this.pesOpen) {
      return; // the middle of a PES whose start we did not see
    }
    const n = end - p;
    this.pesBytes += n;
    const room = this.keepBytes - this.pesFill;
    if (room > 0) {
      const k = Math.min(n, room);
      buf.copy(this.pes, this.pesFill, p, p + k);
      this.pesFill += k;
    }
  }

  private endVideoPes(): void {
    if (!this.pesOpen) return;
    this.pesOpen = false;
    const h = this.pes;
    const fill = this.pesFill;
    if (fill < PES_FIXED_HEADER || h[0] !== 0 || h[1] !== 0 || h[2] !== 1) {
      throw new ProtocolError('RTMP_ERR_TS_MALFORMED', `video PES does not start with a start code (${fill} bytes)`);
    }
    const flags = h[7]!;
    const esStart = PES_FIXED_HEADER + h[8]!;
    if (esStart > fill)
      throw new ProtocolError('RTMP_ERR_TS_MALFORMED', `PES header of ${esStart} bytes in ${fill} kept`);
    const u = this.unit;
    u.codec = this.codec;
    u.pts90k = (flags & 0x80) !== 0 ? readTimestamp(h, 9) : -1;
    u.dts90k = (flags & 0xc0) === 0xc0 ? readTimestamp(h, 14) : u.pts90k;
    u.esBytes = this.pesBytes - esStart;
    u.prefix = h.subarray(esStart, fill);
    u.keyframe = this.pesRandomAccess || this.firstSliceIsKey(h, esStart, fill);
    u.mark = findMarkAnnexB(h, esStart, fill, this.codec, this.mark) ? this.mark : null;
    this.counters.videoUnits++;
    this.sink.onVideo(u);
    u.prefix = EMPTY;
  }

  /** Whether the first coded slice in the kept bytes is an IDR (AVC) or IRAP (HEVC) picture. */
  private firstSliceIsKey(buf: Buffer, start: number, end: number): boolean {
    let i = start;
    for (let n = 0; n < 32; n++) {
      const sc = buf.indexOf(START_CODE, i);
      if (sc < 0 || sc + 3 >= end) return false;
      const b0 = buf[sc + 3]!;
      if (this.codec === 'avc') {
        const t = b0 & 0x1f;
        if (t >= 1 && t <= 5) return t === AVC_NAL_IDR;
      } else {
        const t = (b0 >>> 1) & 0x3f;
        if (t < 32) return t >= HEVC_IRAP_FIRST && t <= HEVC_IRAP_LAST;
      }
      i = sc + 4;
    }
    return false;
  }

  private audioPayload(buf: Buffer, p: number, end: number, pusi: boolean): void {
    if (pusi) {
      this.endAudioPes();
      // The PES header is expected inside this packet (it always is in practice).
      if (end - p < PES_FIXED_HEADER || buf[p] !== 0 || buf[p + 1] !== 0 || buf[p + 2] !== 1) {
        throw new ProtocolError('RTMP_ERR_TS_MALFORMED', 'audio PES does not start with a start code', this.where(p));
      }
      const flags = buf[p + 7]!;
      const es = p + PES_FIXED_HEADER + buf[p + 8]!;
      if (es > end) return;
      this.audioPts = (flags & 0x80) !== 0 ? readTimestamp(buf, p + 9) : -1;
      this.audioOpen = true;
      this.audioFrames = 0;
      this.audioBytes = 0;
      this.adtsSkip = 0;
      this.adtsHeaderFill = 0;
      this.adtsLost = false;
      p = es;
    } else if (!this.audioOpen) {
      return;
    }
    this.audioBytes += end - p;
    this.walkAdts(buf, p, end);
  }

  /** Counts ADTS frames by their lengths; a lost sync ends counting for this PES. */
  private walkAdts(buf: Buffer, p: number, end: number): void {
    while (p < end && !this.adtsLost) {
      if (this.adtsSkip > 0) {
        const n = Math.min(this.adtsSkip, end - p);
        this.adtsSkip -= n;
        p += n;
        continue;
      }
      const h = this.adtsHeader;
      const n = Math.min(6 - this.adtsHeaderFill, end - p);
      buf.copy(h, this.adtsHeaderFill, p, p + n);
      this.adtsHeaderFill += n;
      p += n;
      if (this.adtsHeaderFill < 6) return;
      this.adtsHeaderFill = 0;
      if (h[0] !== 0xff || (h[1]! & 0xf0) !== 0xf0) {
        this.adtsLost = true;
        return;
      }
      const frameLength = ((h[3]! & 0x03) << 11) | (h[4]! << 3) | (h[5]! >>> 5);
      if (frameLength < 7) {
        this.adtsLost = true;
        return;
      }
      this.audioFrames++;
      this.adtsSkip = frameLength - 6;
    }
  }

  private endAudioPes(): void {
    if (!this.audioOpen) return;
    this.audioOpen = false;
    this.counters.audioFrames += this.audioFrames;
    this.sink.onAudio?.(this.audioPts, this.audioFrames, this.audioBytes);
  }

  /** Stream offset of position `at` of the packet being read. */
  private where(at: number): { offset: number } {
    return { offset: this.packetAt + (at - this.packetStart) };
  }

  private fail(err: unknown): void {
    this.dead = true;
    this.sink.onError(readerError(err, 'handler'));
  }
}
