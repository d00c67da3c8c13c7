import { HEAP_ALLOCATOR, type BufferAllocator } from './allocator.js';
import {
  EXTENDED_TIMESTAMP_MARK,
  FMT_0,
  FMT_1,
  FMT_2,
  FMT_3,
  MAX_CSID,
  MAX_MESSAGE_LENGTH_FIELD,
  MAX_WRITE_CHUNK_SIZE,
  MIN_WRITE_CHUNK_SIZE,
} from './constants.js';
import { ArgumentError } from './errors.js';
import type { OutgoingMessage } from './message.js';

/**
 * A message cut into chunks: header bytes and payload views in wire order. It holds no
 * per-socket state, so the same object can be written, unchanged, to any number of sockets
 * ("encode once, write to every player"). Nothing in it may be mutated after encoding.
 */
export interface EncodedMessage {
  readonly buffers: readonly Buffer[];
  readonly byteLength: number;
  /** Bytes spent on chunk headers: the overhead of this chunk size. */
  readonly headerBytes: number;
  readonly chunkCount: number;
  /** One buffer holding every header of this message (the `buffers` entries view it). */
  readonly headerBuffer: Buffer;
}

const TWO_POW_32 = 2 ** 32;

function assertWriteChunkSize(chunkSize: number): void {
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_WRITE_CHUNK_SIZE || chunkSize > MAX_WRITE_CHUNK_SIZE) {
    throw new ArgumentError(
      'RTMP_ERR_INVALID_ARGUMENT',
      `chunk size must be an integer from ${MIN_WRITE_CHUNK_SIZE} to ${MAX_WRITE_CHUNK_SIZE}, got ${chunkSize}`,
    );
  }
}

function assertMessage(msg: OutgoingMessage): void {
  if (!Number.isInteger(msg.csid) || msg.csid < 2 || msg.csid > MAX_CSID) {
    throw new ArgumentError('RTMP_ERR_INVALID_ARGUMENT', `chunk stream id must be 2..${MAX_CSID}, got ${msg.csid}`);
  }
  if (msg.payload.length > MAX_MESSAGE_LENGTH_FIELD) {
    throw new ArgumentError(
      'RTMP_ERR_INVALID_ARGUMENT',
      `message of ${msg.payload.length} bytes exceeds the 24-bit length field`,
    );
  }
  if (!(msg.timestamp >= 0) || !Number.isSafeInteger(Math.floor(msg.timestamp))) {
    throw new ArgumentError(
      'RTMP_ERR_INVALID_ARGUMENT',
      `timestamp must be a non-negative number, got ${msg.timestamp}`,
    );
  }
}

function basicHeaderSize(csid: number): number {
  return csid < 64 ? 1 : csid < 320 ? 2 : 3;
}

function writeBasicHeader(out: Buffer, offset: number, fmt: number, csid: number): number {
  if (csid < 64) {
    out[offset] = (fmt << 6) | csid;
    return offset + 1;
  }
  if (csid < 320) {
    out[offset] = fmt << 6;
    out[offset + 1] = csid - 64;
    return offset + 2;
  }
  out[offset] = (fmt << 6) | 1;
  out[offset + 1] = (csid - 64) & 0xff;
  out[offset + 2] = (csid - 64) >>> 8;
  return offset + 3;
}

function writeUInt24(out: Buffer, offset: number, value: number): void {
  out[offset] = value >>> 16;
  out[offset + 1] = (value >>> 8) & 0xff;
  out[offset + 2] = value & 0xff;
}

/**
 * Writes the first chunk's header (basic header, message header of format `fmt`, extended
 * timestamp when `field` needs it) at `o`; returns the offset after it.
 */
function writeFirstHeader(out: Buffer, o: number, msg: OutgoingMessage, fmt: number, field: number): number {
  const extended = field >= EXTENDED_TIMESTAMP_MARK;
  o = writeBasicHeader(out, o, fmt, msg.csid);
  if (fmt <= FMT_2) {
    writeUInt24(out, o, extended ? EXTENDED_TIMESTAMP_MARK : field);
    o += 3;
  }
  if (fmt <= FMT_1) {
    writeUInt24(out, o, msg.payload.length);
    out[o + 3] = msg.typeId;
    o += 4;
  }
  if (fmt === FMT_0) {
    out.writeUInt32LE(msg.streamId >>> 0, o);
    o += 4;
  }
  if (extended) {
    out.writeUInt32BE(field, o);
    o += 4;
  }
  return o;
}

/**
 * Encodes one message: a first chunk with a header of format `fmt` whose timestamp field is
 * `field` (absolute for fmt 0, a delta otherwise), then fmt-3 continuation chunks that repeat
 * the extended timestamp when one is used (as the spec, ffmpeg and librtmp do).
 */
function encodeWithHeader(
  msg: OutgoingMessage,
  chunkSize: number,
  fmt: number,
  field: number,
  allocator: BufferAllocator,
): EncodedMessage {
  const payload = msg.payload;
  const length = payload.length;
  const basic = basicHeaderSize(msg.csid);
  const extended = field >= EXTENDED_TIMESTAMP_MARK;
  const extBytes = extended ? 4 : 0;
  const messageHeader = fmt === FMT_0 ? 11 : fmt === FMT_1 ? 7 : fmt === FMT_2 ? 3 : 0;
  const firstHeader = basic + messageHeader + extBytes;
  const contHeader = basic + extBytes;
  const chunkCount = length === 0 ? 1 : Math.ceil(length / chunkSize);
  const headerBytes = firstHeader + (chunkCount - 1) * contHeader;
  const headers = allocator.acquire(headerBytes);

  let h = writeFirstHeader(headers, 0, msg, fmt, field);

  const buffers: Buffer[] = new Array(chunkCount * 2);
  buffers[0] = headers.subarray(0, h);
  let p = 0;
  for (let i = 0; i < chunkCount; i++) {
    if (i > 0) {
      const start = h;
      h = writeBasicHeader(headers, h, FMT_3, msg.csid);
      if (extended) {
        headers.writeUInt32BE(field, h);
        h += 4;
      }
      buffers[i * 2] = headers.subarray(start, h);
    }
    const n = Math.min(chunkSize, length - p);
    buffers[i * 2 + 1] = payload.subarray(p, p + n);
    p += n;
  }
  return { buffers, byteLength: headerBytes + length, headerBytes, chunkCount, headerBuffer: headers };
}

/**
 * Encodes a message with a fmt-0 first chunk, so it stands alone: any receiver can start
 * reading at it. This is the form the server fans out to every player.
 */
export function encodeMessage(
  msg: OutgoingMessage,
  chunkSize: number,
  allocator: BufferAllocator = HEAP_ALLOCATOR,
): EncodedMessage {
  assertWriteChunkSize(chunkSize);
  assertMessage(msg);
  return encodeWithHeader(msg, chunkSize, FMT_0, Math.floor(msg.timestamp) % TWO_POW_32, allocator);
}

/** Bytes a message takes on the wire with a first header of format `fmt`. */
function wireSize(msg: OutgoingMessage, chunkSize: number, fmt: number, field: number): number {
  const length = msg.payload.length;
  const basic = basicHeaderSize(msg.csid);
  const extBytes = field >= EXTENDED_TIMESTAMP_MARK ? 4 : 0;
  const messageHeader = fmt === FMT_0 ? 11 : fmt === FMT_1 ? 7 : fmt === FMT_2 ? 3 : 0;
  const chunkCount = length === 0 ? 1 : Math.ceil(length / chunkSize);
  return basic + messageHeader + extBytes + (chunkCount - 1) * (basic + extBytes) + length;
}

/** Writes a message's chunks (headers and payload, interleaved) into `out` from offset 0. */
function writeChunks(out: Buffer, msg: OutgoingMessage, chunkSize: number, fmt: number, field: number): void {
  const payload = msg.payload;
  const length = payload.length;
  const extended = field >= EXTENDED_TIMESTAMP_MARK;
  let o = writeFirstHeader(out, 0, msg, fmt, field);
  const chunkCount = length === 0 ? 1 : Math.ceil(length / chunkSize);
  let p = 0;
  for (let i = 0; i < chunkCount; i++) {
    if (i > 0) {
      o = writeBasicHeader(out, o, FMT_3, msg.csid);
      if (extended) {
        out.writeUInt32BE(field, o);
        o += 4;
      }
    }
    const n = Math.min(chunkSize, length - p);
    out.set(new Uint8Array(payload.buffer, payload.byteOffset + p, n), o);
    o += n;
    p += n;
  }
}

/**
 * Encodes a message as `encodeMessage` does, straight into one contiguous buffer from the
 * allocator (headers and payload pieces interleaved): the payload is copied once, and every
 * socket then takes the message in a single write() instead of one per chunk.
 */
export function encodeMessageContiguous(
  msg: OutgoingMessage,
  chunkSize: number,
  allocator: BufferAllocator = HEAP_ALLOCATOR,
): Buffer {
  assertWriteChunkSize(chunkSize);
  assertMessage(msg);
  const field = Math.floor(msg.timestamp) % TWO_POW_32;
  const out = allocator.acquire(wireSize(msg, chunkSize, FMT_0, field));
  writeChunks(out, msg, chunkSize, FMT_0, field);
  return out;
}

/** Copies an encoded message into one contiguous buffer (for a single write, or tests). */
export function flattenEncoded(encoded: EncodedMessage, allocator: BufferAllocator = HEAP_ALLOCATOR): Buffer {
  const out = allocator.acquire(encoded.byteLength);
  let o = 0;
  for (const b of encoded.buffers) o += b.copy(out, o);
  return out;
}

interface LastHeader {
  streamId: number;
  typeId: number;
  length: number;
  timestamp: number;
  /** Delta of the last header, or -1 after a fmt-0 header (never followed by fmt 3). */
  delta: number;
}

export interface ChunkWriterOptions {
  chunkSize?: number;
  /**
   * Use fmt 1/2/3 headers for messages that follow one on the same chunk stream, as
   * publishing clients do. Off: every message starts with fmt 0 (fan-out form).
   */
  compressHeaders?: boolean;
  allocator?: BufferAllocator;
}

/**
 * Per-connection chunk writer: keeps the outgoing chunk size and, when header compression is
 * on, each chunk stream's last header. Not for fan-out (use `encodeMessage`).
 */
export class ChunkWriter {
  private size: number;
  private readonly compress: boolean;
  private readonly allocator: BufferAllocator;
  private readonly last = new Map<number, LastHeader>();

  constructor(options: ChunkWriterOptions = {}) {
    this.size = options.chunkSize ?? 128;
    assertWriteChunkSize(this.size);
    this.compress = options.compressHeaders ?? false;
    this.allocator = options.allocator ?? HEAP_ALLOCATOR;
  }

  get chunkSize(): number {
    return this.size;
  }

  /** Switches the outgoing chunk size. Send Set Chunk Size (encoded at the old size) first. */
  setChunkSize(chunkSize: number): void {
    assertWriteChunkSize(chunkSize);
    this.size = chunkSize;
  }

  encode(msg: OutgoingMessage): EncodedMessage {
    assertMessage(msg);
    this.chooseHeader(msg);
    return encodeWithHeader(msg, this.size, this.fmt, this.field, this.allocator);
  }

  /** Like `encode`, into one contiguous buffer from `allocator` (one copy, one write). */
  encodeFlat(msg: OutgoingMessage, allocator: BufferAllocator = this.allocator): Buffer {
    assertMessage(msg);
    this.chooseHeader(msg);
    const out = allocator.acquire(wireSize(msg, this.size, this.fmt, this.field));
    writeChunks(out, msg, this.size, this.fmt, this.field);
    return out;
  }

  private fmt = 0;
  private field = 0;

  /** Picks the first chunk's header format and timestamp field, and remembers this header. */
  private chooseHeader(msg: OutgoingMessage): void {
    const timestamp = Math.floor(msg.timestamp);
    this.fmt = FMT_0;
    this.field = timestamp % TWO_POW_32;
    if (!this.compress) return;
    const prev = this.last.get(msg.csid);
    const length = msg.payload.length;
    let delta = -1;
    if (prev !== undefined && prev.streamId === msg.streamId && timestamp >= prev.timestamp) {
      delta = timestamp - prev.timestamp;
      if (delta < TWO_POW_32) {
        this.field = delta;
        if (prev.typeId !== msg.typeId || prev.length !== length) this.fmt = FMT_1;
        else if (prev.delta !== delta) this.fmt = FMT_2;
        else this.fmt = FMT_3;
      } else {
        delta = -1;
      }
    }
    if (prev === undefined) {
      this.last.set(msg.csid, { streamId: msg.streamId, typeId: msg.typeId, length, timestamp, delta });
    } else {
      prev.streamId = msg.streamId;
      prev.typeId = msg.typeId;
      prev.length = length;
      prev.timestamp = timestamp;
      prev.delta = delta;
    }
  }

  /** Forgets header state (after the peer may have lost it, e.g. after Abort). */
  reset(): void {
    this.last.clear();
  }
}
