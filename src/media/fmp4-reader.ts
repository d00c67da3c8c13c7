import { LimitError, ProtocolError, type RtmpError, readerError } from '../protocol/errors.js';
import { parseMp4Init, walkBoxes, type Mp4Init, type Mp4Track } from './mp4-init.js';
import { findMarkLengthPrefixed, type TimingMark } from './timing-mark.js';

/**
 * Reads fragmented MP4 media segments (CMAF, HLS `-hls_segment_type fmp4`) into samples:
 * `moof` boxes (tfhd, tfdt, trun) are read whole, `mdat` is streamed through: of each video
 * sample only the first `keepBytes` are copied, to find its timing mark among the
 * length-prefixed NAL units; the rest is skipped. A `moov` in the stream (a single-file
 * fragmented MP4) sets the tracks as an init segment would.
 *
 * A state machine fed with reads through `push`; after an error it is dead (reports once).
 */

export interface Mp4Sample {
  track: Mp4Track;
  /** Byte offset of the sample's data from the start of the segment (or single file). */
  offset: number;
  /** In the track's timescale (baseMediaDecodeTime plus the durations before it). */
  decodeTime: number;
  compositionOffset: number;
  duration: number;
  size: number;
  keyframe: boolean;
  /** Video samples: the mark, or null (the object is reused: copy what you keep). */
  mark: TimingMark | null;
}

export interface Mp4SegmentSink {
  onSample(sample: Mp4Sample): void;
  onError(error: RtmpError): void;
}

export interface Mp4SegmentReaderOptions {
  /** Bytes of each video sample kept to find the mark. */
  keepBytes?: number;
  /** Largest `moof` (or `moov`) read whole. */
  maxBoxBytes?: number;
}

export interface Mp4SegmentStats {
  bytesReceived: number;
  fragments: number;
  samples: number;
  /** Samples a `trun` listed whose bytes no `mdat` held. */
  missingSamples: number;
}

const ReaderState = { BOX_HEADER: 0, BOX_LARGE_SIZE: 1, WHOLE_BOX: 2, MDAT: 3, SKIP: 4, DEAD: 5 } as const;
type ReaderState = (typeof ReaderState)[keyof typeof ReaderState];

const DEFAULT_MP4_KEEP_BYTES = 1024;
const DEFAULT_MAX_BOX_BYTES = 4 * 1024 * 1024;

const TFHD_BASE_DATA_OFFSET = 0x000001;
const TFHD_SAMPLE_DESCRIPTION_INDEX = 0x000002;
const TFHD_DEFAULT_DURATION = 0x000008;
const TFHD_DEFAULT_SIZE = 0x000010;
const TFHD_DEFAULT_FLAGS = 0x000020;
const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;
const TRUN_DATA_OFFSET = 0x000001;
const TRUN_FIRST_SAMPLE_FLAGS = 0x000004;
const TRUN_DURATION = 0x000100;
const TRUN_SIZE = 0x000200;
const TRUN_FLAGS = 0x000400;
const TRUN_CTO = 0x000800;
/** sample_is_non_sync_sample in sample flags. */
const SAMPLE_NON_SYNC = 0x00010000;

const EMPTY = Buffer.alloc(0);
const NO_TRACK: Mp4Track = {
  trackId: 0,
  handler: '',
  timescale: 1,
  sampleEntry: '',
  videoConfig: null,
  defaultSampleDuration: 0,
  defaultSampleSize: 0,
  defaultSampleFlags: 0,
};

/** Samples of the last `moof`, in parallel arrays reused from fragment to fragment. */
class SampleTable {
  count = 0;
  offsets: number[] = [];
  sizes: number[] = [];
  tracks: Mp4Track[] = [];
  decodeTimes: number[] = [];
  durations: number[] = [];
  ctos: number[] = [];
  keys: boolean[] = [];

  add(
    offset: number,
    size: number,
    track: Mp4Track,
    decodeTime: number,
    duration: number,
    cto: number,
    key: boolean,
  ): void {
    const i = this.count++;
    this.offsets[i] = offset;
    this.sizes[i] = size;
    this.tracks[i] = track;
    this.decodeTimes[i] = decodeTime;
    this.durations[i] = duration;
    this.ctos[i] = cto;
    this.keys[i] = key;
  }
}

export class Mp4SegmentReader {
  private readonly sink: Mp4SegmentSink;
  private readonly keepBytes: number;
  private readonly maxBoxBytes: number;
  private init: Mp4Init | null;
  private state: ReaderState = ReaderState.BOX_HEADER;

  /** Absolute stream offset of `buf[0]`. */
  private base = 0;
  private buf: Buffer = EMPTY;
  private pos = 0;

  private readonly header = Buffer.allocUnsafe(16);
  private headerFill = 0;
  private boxType = '';
  private boxStart = 0;
  /** Absolute end of the current box (Infinity for a box that runs to the end). */
  private boxEnd = 0;
  private whole: Buffer = EMPTY;
  private wholeFill = 0;

  private readonly table = new SampleTable();
  private next = 0;
  private readonly prefix: Buffer;
  /** The sample whose first bytes `prefix` holds. */
  private prefixFor = -1;
  private readonly sample: Mp4Sample = {
    track: NO_TRACK,
    offset: 0,
    decodeTime: 0,
    compositionOffset: 0,
    duration: 0,
    size: 0,
    keyframe: false,
    mark: null,
  };
  private readonly mark: TimingMark = { intendedUs: 0, sentUs: 0, seq: 0, epoch: 0 };
  private readonly counters: Mp4SegmentStats = { bytesReceived: 0, fragments: 0, samples: 0, missingSamples: 0 };

  constructor(sink: Mp4SegmentSink, init: Mp4Init | null, options: Mp4SegmentReaderOptions = {}) {
    this.sink = sink;
    this.init = init;
    this.keepBytes = options.keepBytes ?? DEFAULT_MP4_KEEP_BYTES;
    this.maxBoxBytes = options.maxBoxBytes ?? DEFAULT_MAX_BOX_BYTES;
    this.prefix = Buffer.allocUnsafe(this.keepBytes);
  }

  get failed(): boolean {
    return this.state === ReaderState.DEAD;
  }

  /** The tracks in use (from the constructor, `setInit`, or a `moov` read from the stream). */
  get tracks(): Mp4Init | null {
    return this.init;
  }

  stats(): Mp4SegmentStats {
    return { ...this.counters };
  }

  /** A new init segment (EXT-X-MAP changed). */
  setInit(init: Mp4Init): void {
    this.init = init;
  }

  /** Starts a new segment: stream offsets count from its first byte again. */
  reset(): void {
    if (this.state === ReaderState.DEAD) return;
    this.state = ReaderState.BOX_HEADER;
    this.base = 0;
    this.headerFill = 0;
    this.table.count = 0;
    this.next = 0;
    this.whole = EMPTY;
  }

  /**
   * The end of a segment: the stream must end between boxes. Samples listed but never seen
   * are counted as missing. Returns false once failed.
   */
  end(): boolean {
    if (this.state === ReaderState.DEAD) return false;
    const toEnd = this.state === ReaderState.MDAT && this.boxEnd === Infinity;
    const open = !toEnd && (this.state !== ReaderState.BOX_HEADER || this.headerFill > 0);
    this.counters.missingSamples += this.table.count - this.next;
    this.table.count = 0;
    this.next = 0;
    if (open) {
      this.fail(
        new ProtocolError('RTMP_ERR_MP4_MALFORMED', `the segment ends inside box ${this.boxType || '(header)'}`, {
          offset: this.base,
        }),
      );
      return false;
    }
    this.reset();
    return true;
  }

  push(chunk: Buffer): boolean {
    if (this.state === ReaderState.DEAD) return false;
    this.counters.bytesReceived += chunk.length;
    this.buf = chunk;
    this.pos = 0;
    try {
      this.run();
    } catch (err) {
      this.fail(err);
      return false;
    } finally {
      this.base += chunk.length;
      this.buf = EMPTY;
    }
    return true;
  }

  private run(): void {
    for (;;) {
      switch (this.state) {
        case ReaderState.BOX_HEADER:
          if (!this.readBoxHeader()) return;
          break;
        case ReaderState.BOX_LARGE_SIZE:
          if (!this.readLargeSize()) return;
          break;
        case ReaderState.WHOLE_BOX:
          if (!this.readWholeBox()) return;
          break;
        case ReaderState.MDAT:
          if (!this.readMdat()) return;
          break;
        case ReaderState.SKIP:
          if (!this.skip()) return;
          break;
        default:
          return;
      }
    }
  }

  private at(): number {
    return this.base + this.pos;
  }

  private fill(n: number): boolean {
    const k = Math.min(n - this.headerFill, this.buf.length - this.pos);
    this.buf.copy(this.header, this.headerFill, this.pos, this.pos + k);
    this.headerFill += k;
    this.pos += k;
    return this.headerFill === n;
  }

  private readBoxHeader(): boolean {
    if (this.headerFill === 0) this.boxStart = this.at();
    if (!this.fill(8)) return false;
    const size = this.header.readUInt32BE(0);
    this.boxType = this.header.toString('latin1', 4, 8);
    if (size === 1) {
      this.state = ReaderState.BOX_LARGE_SIZE;
      return true;
    }
    this.headerFill = 0;
    if (size !== 0 && size < 8)
      throw new ProtocolError('RTMP_ERR_MP4_MALFORMED', `box ${this.boxType} of ${size} bytes`, {
        offset: this.boxStart,
      });
    this.beginBox(size === 0 ? Infinity : this.boxStart + size);
    return true;
  }

  private readLargeSize(): boolean {
    if (!this.fill(16)) return false;
    this.headerFill = 0;
    const size = Number(this.header.readBigUInt64BE(8));
    if (size < 16)
      throw new ProtocolError('RTMP_ERR_MP4_MALFORMED', `box ${this.boxType} of ${size} bytes`, {
        offset: this.boxStart,
      });
    this.beginBox(this.boxStart + size);
    return true;
  }

  private beginBox(end: number): void {
    this.boxEnd = end;
    const type = this.boxType;
    if (type === 'moof' || type === 'moov') {
      const size = end - this.boxStart;
      if (size > this.maxBoxBytes) {
        throw new LimitError('RTMP_ERR_MEDIA_LIMIT', `${type} of ${size} bytes; the limit is ${this.maxBoxBytes}`, {
          offset: this.boxStart,
        });
      }
      // Read whole (copied: it may span reads). The header is written back so offsets hold.
      this.whole = Buffer.allocUnsafe(size);
      const headerBytes = this.at() - this.boxStart;
      this.whole.writeUInt32BE(size, 0);
      this.whole.write(type, 4, 'latin1');
      if (headerBytes === 16) {
        this.whole.writeUInt32BE(1, 0);
        this.whole.writeBigUInt64BE(BigInt(size), 8);
      }
      this.wholeFill = headerBytes === 16 ? 16 : 8;
      this.state = ReaderState.WHOLE_BOX;
    } else if (type === 'mdat') {
      this.state = ReaderState.MDAT;
    } else {
      this.state = ReaderState.SKIP;
    }
  }

  private readWholeBox(): boolean {
    const n = Math.min(this.whole.length - this.wholeFill, this.buf.length - this.pos);
    this.buf.copy(this.whole, this.wholeFill, this.pos, this.pos + n);
    this.wholeFill += n;
    this.pos += n;
    if (this.wholeFill < this.whole.length) return false;
    const box = this.whole;
    this.whole = EMPTY;
    if (this.boxType === 'moov') this.init = parseMp4Init(box);
    else this.parseMoof(box, this.boxStart);
    this.state = ReaderState.BOX_HEADER;
    return true;
  }

  private skip(): boolean {
    const n = Math.min(this.boxEnd - this.at(), this.buf.length - this.pos);
    this.pos += n;
    if (this.at() < this.boxEnd) return false;
    this.state = ReaderState.BOX_HEADER;
    return true;
  }

  /** Samples whose bytes are in this mdat: copy each video sample's first bytes, then deliver it. */
  private readMdat(): boolean {
    const t = this.table;
    while (this.pos < this.buf.length && this.at() < this.boxEnd) {
      if (this.next >= t.count) {
        this.pos += Math.min(this.boxEnd - this.at(), this.buf.length - this.pos);
        break;
      }
      const i = this.next;
      const start = t.offsets[i]!;
      const at = this.at();
      if (at < start) {
        // Bytes before the next sample (or between samples).
        this.pos += Math.min(start - at, this.boxEnd - at, this.buf.length - this.pos);
        continue;
      }
      const video = t.tracks[i]!.videoConfig !== null;
      const keep = video ? Math.min(this.keepBytes, t.sizes[i]!) : 0;
      const into = at - start;
      if (into === 0) this.prefixFor = i;
      if (into < keep && this.prefixFor === i) {
        const n = Math.min(keep - into, this.buf.length - this.pos);
        this.buf.copy(this.prefix, into, this.pos, this.pos + n);
        this.pos += n;
        if (into + n < keep) continue;
      }
      // A sample whose first bytes were not seen here (offsets before this mdat) has no mark.
      this.deliver(i, this.prefixFor === i ? keep : 0);
      this.next++;
    }
    if (this.at() < this.boxEnd) return false;
    this.state = ReaderState.BOX_HEADER;
    return true;
  }

  private deliver(i: number, keep: number): void {
    const t = this.table;
    const s = this.sample;
    const track = t.tracks[i]!;
    s.track = track;
    s.offset = t.offsets[i]!;
    s.decodeTime = t.decodeTimes[i]!;
    s.compositionOffset = t.ctos[i]!;
    s.duration = t.durations[i]!;
    s.size = t.sizes[i]!;
    s.keyframe = t.keys[i]!;
    const config = track.videoConfig;
    s.mark =
      config !== null &&
      keep > 0 &&
      findMarkLengthPrefixed(this.prefix, 0, keep, config.nalLengthSize, config.codec, this.mark)
        ? this.mark
        : null;
    this.counters.samples++;
    this.sink.onSample(s);
  }

  private parseMoof(box: Buffer, moofStart: number): void {
    const init = this.init;
    if (init === null)
      throw new ProtocolError('RTMP_ERR_MP4_UNSUPPORTED', 'a media segment before any init segment (moov)');
    // Samples of the previous fragment not yet delivered are missing.
    this.counters.missingSamples += this.table.count - this.next;
    this.table.count = 0;
    this.next = 0;
    this.prefixFor = -1;
    this.counters.fragments++;
    let dataEnd = moofStart; // where the previous track fragment's data ended
    walkBoxes(box, 8, box.length, (type, _s, body, end) => {
      if (type !== 'traf') return;
      dataEnd = this.parseTraf(box, body, end, moofStart, dataEnd, init);
    });
    // Deliver in byte order, as mdat streams in.
    this.sortTable();
  }

  private parseTraf(
    box: Buffer,
    start: number,
    end: number,
    moofStart: number,
    previousDataEnd: number,
    init: Mp4Init,
  ): number {
    let track: Mp4Track | undefined;
    let base = moofStart;
    let defaultDuration = 0;
    let defaultSize = 0;
    let defaultFlags = 0;
    let decodeTime = 0;
    let dataEnd = previousDataEnd;
    const truns: [number, number][] = [];
    walkBoxes(box, start, end, (type, _s, body, e) => {
      if (type === 'tfhd') {
        if (body + 8 > e) throw new ProtocolError('RTMP_ERR_MP4_MALFORMED', 'tfhd is truncated', { offset: body });
        const flags = box.readUInt32BE(body) & 0xffffff;
        const id = box.readUInt32BE(body + 4);
        track = init.tracks.find((t) => t.trackId === id);
        if (track === undefined)
          throw new ProtocolError('RTMP_ERR_MP4_MALFORMED', `tfhd names track ${id}, which the init segment lacks`, {
            offset: body,
          });
        defaultDuration = track.defaultSampleDuration;
        defaultSize = track.defaultSampleSize;
        defaultFlags = track.defaultSampleFlags;
        let o = body + 8;
        if (flags & TFHD_BASE_DATA_OFFSET) {
          base = Number(box.readBigUInt64BE(o));
          o += 8;
        } else {
          base = flags & TFHD_DEFAULT_BASE_IS_MOOF ? moofStart : previousDataEnd;
        }
        if (flags & TFHD_SAMPLE_DESCRIPTION_INDEX) o += 4;
        if (flags & TFHD_DEFAULT_DURATION) {
          defaultDuration = box.readUInt32BE(o);
          o += 4;
        }
        if (flags & TFHD_DEFAULT_SIZE) {
          defaultSize = box.readUInt32BE(o);
          o += 4;
        }
        if (flags & TFHD_DEFAULT_FLAGS) defaultFlags = box.readUInt32BE(o);
      } else if (type === 'tfdt') {
        decodeTime = box[body] === 1 ? Number(box.readBigUInt64BE(body + 4)) : box.readUInt32BE(body + 4);
      } else if (type === 'trun') {
        truns.push([body, e]);
      }
    });
    if (track === undefined) throw new ProtocolError('RTMP_ERR_MP4_MALFORMED', 'traf without tfhd', { offset: start });
    let dataAt = base;
    for (const [body, e] of truns) {
      const version = box[body]!;
      const flags = box.readUInt32BE(body) & 0xffffff;
      const count = box.readUInt32BE(body + 4);
      let o = body + 8;
      if (flags & TRUN_DATA_OFFSET) {
        dataAt = base + box.readInt32BE(o);
        o += 4;
      }
      let firstFlags = -1;
      if (flags & TRUN_FIRST_SAMPLE_FLAGS) {
        firstFlags = box.readUInt32BE(o);
        o += 4;
      }
      const perSample =
        (flags & TRUN_DURATION ? 4 : 0) +
        (flags & TRUN_SIZE ? 4 : 0) +
        (flags & TRUN_FLAGS ? 4 : 0) +
        (flags & TRUN_CTO ? 4 : 0);
      if (o + count * perSample > e)
        throw new ProtocolError('RTMP_ERR_MP4_MALFORMED', `trun of ${count} samples is truncated`, { offset: body });
      const video = track.handler === 'vide';
      for (let i = 0; i < count; i++) {
        let duration = defaultDuration;
        let size = defaultSize;
        let sflags = i === 0 && firstFlags >= 0 ? firstFlags : defaultFlags;
        let cto = 0;
        if (flags & TRUN_DURATION) {
          duration = box.readUInt32BE(o);
          o += 4;
        }
        if (flags & TRUN_SIZE) {
          size = box.readUInt32BE(o);
          o += 4;
        }
        if (flags & TRUN_FLAGS) {
          const f = box.readUInt32BE(o);
          o += 4;
          if (!(i === 0 && firstFlags >= 0)) sflags = f;
        }
        if (flags & TRUN_CTO) {
          cto = version === 0 ? box.readUInt32BE(o) : box.readInt32BE(o);
          o += 4;
        }
        this.table.add(dataAt, size, track, decodeTime, duration, cto, !video || (sflags & SAMPLE_NON_SYNC) === 0);
        dataAt += size;
        decodeTime += duration;
      }
      dataEnd = dataAt;
    }
    return dataEnd;
  }

  /** Orders the table by byte offset (fragments list tracks one after the other). */
  private sortTable(): void {
    const t = this.table;
    let sorted = true;
    for (let i = 1; i < t.count && sorted; i++) if (t.offsets[i]! < t.offsets[i - 1]!) sorted = false;
    if (sorted) return;
    const order = Array.from({ length: t.count }, (_, i) => i).sort((a, b) => t.offsets[a]! - t.offsets[b]!);
    const copy = (a: unknown[]) => order.map((i) => a[i]);
    t.offsets = copy(t.offsets) as number[];
    t.sizes = copy(t.sizes) as number[];
    t.tracks = copy(t.tracks) as Mp4Track[];
    t.decodeTimes = copy(t.decodeTimes) as number[];
    t.durations = copy(t.durations) as number[];
    t.ctos = copy(t.ctos) as number[];
    t.keys = copy(t.keys) as boolean[];
  }

  private fail(err: unknown): void {
    this.state = ReaderState.DEAD;
    this.whole = EMPTY;
    this.sink.onError(readerError(err, 'sample handler'));
  }
}

/** Reads a whole media segment held in memory (tests, tools): its samples, copied. */
export function readMp4Segment(
  segment: Buffer,
  init: Mp4Init | null,
): { samples: (Omit<Mp4Sample, 'mark'> & { mark: TimingMark | null })[]; init: Mp4Init | null } {
  const samples: (Omit<Mp4Sample, 'mark'> & { mark: TimingMark | null })[] = [];
  let error: RtmpError | null = null;
  const reader = new Mp4SegmentReader(
    {
      onSample: (s) => samples.push({ ...s, mark: s.mark === null ? null : { ...s.mark } }),
      onError: (e) => (error = e),
    },
    init,
  );
  reader.push(segment);
  reader.end();
  if (error !== null) throw error;
  return { samples, init: reader.tracks };
}
