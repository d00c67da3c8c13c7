import { MSG_AUDIO, MSG_DATA_AMF0, MSG_VIDEO } from '../protocol/constants.js';
import { LimitError, ProtocolError, type RtmpError, readerError } from '../protocol/errors.js';

/**
 * Reads an FLV byte stream as HTTP-FLV and WebSocket-FLV servers send it (the FLV file format
 * without an end): a 9-byte header, then tags each followed by their PreviousTagSize.
 *
 * A state machine fed with reads through `push`, in the style of the RTMP chunk reader:
 * - a tag that arrives whole inside one pushed buffer is handed out as a view (no copy);
 * - a tag split across reads is copied once, into a buffer the reader owns and reuses;
 * - with `skimMedia`, only the first bytes of audio/video tags are kept (viewers that read the
 *   tag header and the timing mark): the rest is skipped without copying;
 * - the tag size is checked against `maxTagBytes` before any memory is committed;
 * - after an error the reader is dead: it reports once, and ignores later pushes.
 */

export interface FlvStreamTag {
  /** 8 audio, 9 video, 18 script data. */
  typeId: number;
  /** Milliseconds (24 bits plus the extension byte). */
  timestampMs: number;
  /** Size of the tag's data as sent (the payload may hold only its first bytes when skimming). */
  dataBytes: number;
  /**
   * The tag's data, or its first `skimMedia` bytes. A view valid only during `onTag`: of a
   * pushed buffer, or of the reader's own reassembly buffer, which the next tag reuses.
   */
  payload: Buffer;
}

export interface FlvStreamSink {
  /** The FLV header: whether it announces audio and video. */
  onHeader?(hasAudio: boolean, hasVideo: boolean): void;
  /** A whole tag (the object is reused for every tag: copy what you keep). */
  onTag(tag: FlvStreamTag): void;
  /** Called once; the reader ignores every later push. */
  onError(error: RtmpError): void;
}

export interface FlvStreamReaderOptions {
  /** Largest tag data accepted; a tag header above it fails before memory is committed. */
  maxTagBytes?: number;
  /** Keep only the first N bytes of audio and video tags (0 keeps everything). */
  skimMedia?: number;
}

export interface FlvStreamStats {
  bytesReceived: number;
  tags: number;
  /** Tags of a type other than audio, video and script data (skipped). */
  unknownTags: number;
  /** PreviousTagSize fields that do not match the tag before them (not fatal: some servers write 0). */
  previousSizeMismatches: number;
  /** Bytes copied to reassemble split tags. */
  bytesCopied: number;
}

const DEFAULT_MAX_FLV_TAG_BYTES = 8 * 1024 * 1024;
const FLV_HEADER_SIZE = 9;
const FLV_TAG_HEADER_SIZE = 11;
const PREVIOUS_TAG_SIZE_BYTES = 4;
/** "FLV" */
const FLV_SIGNATURE = [0x46, 0x4c, 0x56];

const FlvState = {
  HEADER: 0,
  HEADER_REST: 1,
  PREVIOUS_TAG_SIZE: 2,
  TAG_HEADER: 3,
  TAG_DATA: 4,
  DEAD: 5,
} as const;
type FlvState = (typeof FlvState)[keyof typeof FlvState];
const STATE_NAMES = ['header', 'header-rest', 'previous-tag-size', 'tag-header', 'tag-data', 'dead'];

const EMPTY = Buffer.alloc(0);
const CARRY_CAPACITY = 16;

export class FlvStreamReader {
  private readonly sink: FlvStreamSink;
  private readonly maxTagBytes: number;
  private readonly skimMedia: number;

  private state: FlvState = FlvState.HEADER;
  private buf: Buffer = EMPTY;
  private pos = 0;
  private end = 0;
  private bytesBefore = 0;

  /** Fixed-size headers that straddle two reads. */
  private readonly carry = Buffer.allocUnsafe(CARRY_CAPACITY);
  private carried = 0;
  private takeOffset = 0;

  /** Header bytes after the first 9 (DataOffset above 9), skipped. */
  private headerRest = 0;
  /** The tag being read. */
  private readonly tag: FlvStreamTag = { typeId: 0, timestampMs: 0, dataBytes: 0, payload: EMPTY };
  private known = false;
  /** Bytes of the tag's data kept (all, or the skim prefix). */
  private keep = 0;
  /** Bytes of the tag's data read so far. */
  private received = 0;
  /** Reassembly buffer for tags split across reads (grown to the largest kept size seen). */
  private assembly: Buffer = EMPTY;
  private lastTagSize = 0;

  private readonly counters: FlvStreamStats = {
    bytesReceived: 0,
    tags: 0,
    unknownTags: 0,
    previousSizeMismatches: 0,
    bytesCopied: 0,
  };

  constructor(sink: FlvStreamSink, options: FlvStreamReaderOptions = {}) {
    this.sink = sink;
    this.maxTagBytes = options.maxTagBytes ?? DEFAULT_MAX_FLV_TAG_BYTES;
    this.skimMedia = options.skimMedia ?? 0;
  }

  get dead(): boolean {
    return this.state === FlvState.DEAD;
  }

  stats(): FlvStreamStats {
    return { ...this.counters };
  }

  /** Feeds bytes of the stream. Returns false once the reader has failed (reported once). */
  push(chunk: Buffer): boolean {
    if (this.state === FlvState.DEAD) return false;
    this.bytesBefore = this.counters.bytesReceived;
    this.counters.bytesReceived += chunk.length;
    this.buf = chunk;
    this.pos = 0;
    this.end = chunk.length;
    try {
      this.run();
    } catch (err) {
      this.fail(err);
      return false;
    } finally {
      this.buf = EMPTY;
    }
    return true;
  }

  /** Drops the reassembly buffer; the reader is dead afterwards. */
  destroy(): void {
    this.assembly = EMPTY;
    this.state = FlvState.DEAD;
  }

  private run(): void {
    for (;;) {
      switch (this.state) {
        case FlvState.HEADER:
          if (!this.readHeader()) return;
          break;
        case FlvState.HEADER_REST:
          if (!this.skipHeaderRest()) return;
          break;
        case FlvState.PREVIOUS_TAG_SIZE:
          if (!this.readPreviousTagSize()) return;
          break;
        case FlvState.TAG_HEADER:
          if (!this.readTagHeader()) return;
          break;
        case FlvState.TAG_DATA:
          if (!this.readTagData()) return;
          break;
        default:
          return;
      }
    }
  }

  private readHeader(): boolean {
    const src = this.take(FLV_HEADER_SIZE);
    if (src === null) return false;
    const o = this.takeOffset;
    if (src[o] !== FLV_SIGNATURE[0] || src[o + 1] !== FLV_SIGNATURE[1] || src[o + 2] !== FLV_SIGNATURE[2]) {
      throw new ProtocolError(
        'RTMP_ERR_FLV_HEADER',
        `the stream starts with ${src.subarray(o, o + 3).toString('hex')}, not "FLV"`,
        this.where(),
      );
    }
    const flags = src[o + 4]!;
    const dataOffset = src.readUInt32BE(o + 5);
    if (dataOffset < FLV_HEADER_SIZE || dataOffset > 1024) {
      throw new ProtocolError('RTMP_ERR_FLV_HEADER', `header size ${dataOffset} (expected 9)`, this.where());
    }
    this.headerRest = dataOffset - FLV_HEADER_SIZE;
    this.sink.onHeader?.((flags & 4) !== 0, (flags & 1) !== 0);
    this.state = FlvState.HEADER_REST;
    return true;
  }

  private skipHeaderRest(): boolean {
    const n = Math.min(this.headerRest, this.end - this.pos);
    this.pos += n;
    this.headerRest -= n;
    if (this.headerRest > 0) return false;
    this.lastTagSize = 0;
    this.state = FlvState.PREVIOUS_TAG_SIZE;
    return true;
  }

  private readPreviousTagSize(): boolean {
    const src = this.take(PREVIOUS_TAG_SIZE_BYTES);
    if (src === null) return false;
    const size = src.readUInt32BE(this.takeOffset);
    if (size !== this.lastTagSize) this.counters.previousSizeMismatches++;
    this.state = FlvState.TAG_HEADER;
    return true;
  }

  private readTagHeader(): boolean {
    const src = this.take(FLV_TAG_HEADER_SIZE);
    if (src === null) return false;
    const o = this.takeOffset;
    const b0 = src[o]!;
    if ((b0 & 0x20) !== 0) {
      throw new ProtocolError(
        'RTMP_ERR_FLV_TAG',
        `encrypted tag (filter bit set, type byte 0x${b0.toString(16)})`,
        this.where(),
      );
    }
    const typeId = b0 & 0x1f;
    const size = (src[o + 1]! << 16) | (src[o + 2]! << 8) | src[o + 3]!;
    if (size > this.maxTagBytes) {
      throw new LimitError(
        'RTMP_ERR_MESSAGE_TOO_LARGE',
        `tag of ${size} bytes; the limit is ${this.maxTagBytes}`,
        this.where(),
      );
    }
    const tag = this.tag;
    tag.typeId = typeId;
    tag.timestampMs = ((src[o + 7]! << 24) | (src[o + 4]! << 16) | (src[o + 5]! << 8) | src[o + 6]!) >>> 0;
    tag.dataBytes = size;
    this.known = typeId === MSG_AUDIO || typeId === MSG_VIDEO || typeId === MSG_DATA_AMF0;
    if (!this.known) this.counters.unknownTags++;
    const skim = this.skimMedia > 0 && size > this.skimMedia && (typeId === MSG_AUDIO || typeId === MSG_VIDEO);
    this.keep = this.known ? (skim ? this.skimMedia : size) : 0;
    this.received = 0;
    this.lastTagSize = FLV_TAG_HEADER_SIZE + size;
    this.state = FlvState.TAG_DATA;
    return true;
  }

  private readTagData(): boolean {
    const tag = this.tag;
    const size = tag.dataBytes;
    const avail = this.end - this.pos;
    if (this.received === 0 && avail >= this.keep) {
      // The kept bytes are all inside this read: a view, and skip whatever follows.
      tag.payload = this.buf.subarray(this.pos, this.pos + this.keep);
      const skip = Math.min(size, avail);
      this.pos += skip;
      this.received = skip;
      if (this.known) this.deliver();
      if (this.received < size) return false;
      this.state = FlvState.PREVIOUS_TAG_SIZE;
      return true;
    }
    if (avail === 0) return false;
    if (this.received < this.keep) {
      // Split across reads: copy the kept bytes once, into the reader's buffer.
      if (this.received === 0 && this.assembly.length < this.keep)
        this.assembly = Buffer.allocUnsafe(Math.max(this.keep, this.assembly.length * 2));
      const n = Math.min(this.keep - this.received, avail);
      this.assembly.set(this.buf.subarray(this.pos, this.pos + n), this.received);
      this.counters.bytesCopied += n;
      this.pos += n;
      this.received += n;
      if (this.received === this.keep) {
        tag.payload = this.assembly.subarray(0, this.keep);
        if (this.known) this.deliver();
      }
    }
    const skip = Math.min(size - this.received, this.end - this.pos);
    this.pos += skip;
    this.received += skip;
    if (this.received < size) return false;
    this.state = FlvState.PREVIOUS_TAG_SIZE;
    return true;
  }

  private deliver(): void {
    this.counters.tags++;
    this.sink.onTag(this.tag);
    this.tag.payload = EMPTY;
  }

  /**
   * Returns a buffer holding the next `n` bytes (n ≤ 16) at `this.takeOffset` and consumes
   * them, or null when fewer are available (those then wait in the carry).
   */
  private take(n: number): Buffer | null {
    if (this.carried === 0 && this.end - this.pos >= n) {
      this.takeOffset = this.pos;
      this.pos += n;
      return this.buf;
    }
    const move = Math.min(n - this.carried, this.end - this.pos);
    this.buf.copy(this.carry, this.carried, this.pos, this.pos + move);
    this.pos += move;
    this.carried += move;
    if (this.carried < n) return null;
    this.carried = 0;
    this.takeOffset = 0;
    return this.carry;
  }

  private where(): { state: string; offset: number } {
    return { state: STATE_NAMES[this.state]!, offset: this.bytesBefore + this.pos };
  }

  private fail(err: unknown): void {
    this.state = FlvState.DEAD;
    this.assembly = EMPTY;
    this.sink.onError(readerError(err, 'tag handler'));
  }
}
