import { EXTENDED_TIMESTAMP_MARK, MAX_CSID, MAX_MESSAGE_LENGTH_FIELD } from '../../../protocol/constants.js';
import type { OutgoingMessage } from '../../../protocol/message.js';

/**
 * Chunks as a probe needs to send them: any chunk stream id (1-, 2- or 3-byte basic headers),
 * any first-header format, any chunk size up to 0x7fffffff (one chunk per message), with or
 * without the extended timestamp repeated on type-3 chunks. The codec's own writer only
 * produces the well-formed subset; this one produces what encoders in the wild send, one
 * buffer per chunk so that chunks of several messages can be interleaved.
 */

export interface RawChunkOptions {
  /** Payload bytes per chunk (the chunk size announced to the server). */
  chunkSize: number;
  /** Format of the first chunk's header (default 0). */
  fmt?: 0 | 1 | 2 | 3;
  /**
   * The timestamp field: absolute for fmt 0 (default: the message's timestamp modulo 2^32),
   * a delta for fmt 1 and 2, and for fmt 3 the delta it repeats (used only to decide whether
   * an extended field follows).
   */
  field?: number;
  /** Repeat the extended timestamp on type-3 chunks (the spec's rule; default true). */
  extendedOnType3?: boolean;
}

const TWO_POW_32 = 2 ** 32;

export function basicHeader(fmt: number, csid: number): Buffer {
  if (!Number.isInteger(csid) || csid < 2 || csid > MAX_CSID)
    throw new RangeError(`chunk stream id ${csid} is outside 2..${MAX_CSID}`);
  if (csid < 64) return Buffer.from([(fmt << 6) | csid]);
  if (csid < 320) return Buffer.from([fmt << 6, csid - 64]);
  return Buffer.from([(fmt << 6) | 1, (csid - 64) & 0xff, (csid - 64) >>> 8]);
}

function u24(value: number): Buffer {
  return Buffer.from([(value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
}

function u32be(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
}

/** The first chunk's header: basic header, message header of format `fmt`, extended field. */
function chunkHeader(msg: OutgoingMessage, fmt: 0 | 1 | 2 | 3, field: number, extendedOnType3 = true): Buffer {
  const extended = field >= EXTENDED_TIMESTAMP_MARK;
  const parts = [basicHeader(fmt, msg.csid)];
  if (fmt <= 2) parts.push(u24(extended ? EXTENDED_TIMESTAMP_MARK : field));
  if (fmt <= 1) parts.push(u24(msg.payload.length), Buffer.from([msg.typeId]));
  if (fmt === 0) {
    const sid = Buffer.allocUnsafe(4);
    sid.writeUInt32LE(msg.streamId >>> 0, 0);
    parts.push(sid);
  }
  if (extended && (fmt !== 3 || extendedOnType3)) parts.push(u32be(field));
  return Buffer.concat(parts);
}

/** A message as chunks: each element is one chunk (header and its payload piece). */
export function chunkMessage(msg: OutgoingMessage, opts: RawChunkOptions): Buffer[] {
  const length = msg.payload.length;
  if (length > MAX_MESSAGE_LENGTH_FIELD)
    throw new RangeError(`a message of ${length} bytes does not fit the 24-bit length field`);
  const fmt = opts.fmt ?? 0;
  const field = opts.field ?? Math.floor(msg.timestamp) % TWO_POW_32;
  const repeat = opts.extendedOnType3 ?? true;
  const extended = field >= EXTENDED_TIMESTAMP_MARK;
  const size = Math.max(1, opts.chunkSize);
  const chunks: Buffer[] = [];
  const continuation = Buffer.concat([basicHeader(3, msg.csid), ...(extended && repeat ? [u32be(field)] : [])]);
  let p = 0;
  do {
    const n = Math.min(size, length - p);
    const header = p === 0 ? chunkHeader(msg, fmt, field, repeat) : continuation;
    chunks.push(Buffer.concat([header, msg.payload.subarray(p, p + n)]));
    p += n;
  } while (p < length);
  return chunks;
}

/** The chunks of several messages, taken in turn (a chunk of each, then the next of each...). */
export function interleave(chunkLists: readonly Buffer[][]): Buffer[] {
  const out: Buffer[] = [];
  const longest = Math.max(0, ...chunkLists.map((l) => l.length));
  for (let i = 0; i < longest; i++) for (const l of chunkLists) if (i < l.length) out.push(l[i]!);
  return out;
}

/**
 * The first chunk's header of a message of `length` bytes (fmt 0, timestamp 0), without any of
 * its payload: what a peer sends to make a server expect `length` bytes on chunk stream `csid`.
 */
export function declaredHeader(csid: number, typeId: number, length: number, streamId = 0): Buffer {
  if (length > MAX_MESSAGE_LENGTH_FIELD) throw new RangeError(`${length} does not fit the 24-bit length field`);
  const sid = Buffer.allocUnsafe(4);
  sid.writeUInt32LE(streamId >>> 0, 0);
  return Buffer.concat([basicHeader(0, csid), u24(0), u24(length), Buffer.from([typeId]), sid]);
}
