import { EXTENDED_TIMESTAMP_MARK } from '../../protocol/constants.js';

/** One message read back from the stream's fan-out form. */
export interface WireMessage {
  typeId: number;
  timestamp: number;
  /** A view of the wire buffer when the message fits one chunk, else a copy. */
  payload: Buffer;
}

/**
 * Reads a message back from the form the stream fans out to RTMP players (one fmt-0 chunk, then
 * fmt-3 continuation chunks that repeat an extended timestamp, at the server's chunk size).
 * Outputs that start mid-stream use it for the metadata, sequence headers and GOP cache the
 * stream holds only in that form. Only our own encoder's output is read; a buffer that does not
 * match it throws a RangeError.
 */
export function readFanoutWire(wire: Buffer, chunkSize: number): WireMessage {
  const basic = basicHeaderBytes(wire[0]!);
  if (wire[0]! >>> 6 !== 0 || wire.length < basic + 11) throw new RangeError('not a fmt-0 message');
  let o = basic;
  const field = wire.readUIntBE(o, 3);
  const length = wire.readUIntBE(o + 3, 3);
  const typeId = wire[o + 6]!;
  o += 11;
  const extended = field === EXTENDED_TIMESTAMP_MARK;
  let timestamp = field;
  if (extended) {
    timestamp = wire.readUInt32BE(o);
    o += 4;
  }
  const first = Math.min(length, chunkSize);
  if (o + first > wire.length) throw new RangeError(`message of ${length} bytes in a wire buffer of ${wire.length}`);
  if (first === length) return { typeId, timestamp, payload: wire.subarray(o, o + length) };
  const payload = Buffer.allocUnsafe(length);
  let p = wire.copy(payload, 0, o, o + first);
  o += first;
  const continuation = basic + (extended ? 4 : 0);
  while (p < length) {
    o += continuation;
    const n = Math.min(chunkSize, length - p);
    if (o + n > wire.length) throw new RangeError(`message of ${length} bytes in a wire buffer of ${wire.length}`);
    p += wire.copy(payload, p, o, o + n);
    o += n;
  }
  return { typeId, timestamp, payload };
}

function basicHeaderBytes(b0: number): number {
  const low = b0 & 0x3f;
  return low === 0 ? 2 : low === 1 ? 3 : 1;
}
