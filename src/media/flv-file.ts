import { MSG_AUDIO, MSG_DATA_AMF0, MSG_VIDEO } from '../protocol/constants.js';
import { ProtocolError } from '../protocol/errors.js';

/** One FLV tag: an RTMP message body with its type and timestamp. */
export interface FlvTag {
  typeId: number;
  /** Milliseconds (24 bits plus the extension byte). */
  timestamp: number;
  /** View of the file buffer. */
  payload: Buffer;
}

export interface FlvFile {
  hasAudio: boolean;
  hasVideo: boolean;
  tags: FlvTag[];
}

const FLV_SIGNATURE = 0x464c56; // "FLV"

/**
 * Parses a whole FLV file held in memory. Tag payloads are views of `data`. Tags of types
 * other than audio, video and script data are skipped; a truncated last tag is dropped (as
 * players do with a file still being written).
 */
export function parseFlv(data: Buffer): FlvFile {
  if (data.length < 13 || data.readUIntBE(0, 3) !== FLV_SIGNATURE) {
    throw new ProtocolError('RTMP_ERR_TAG_TRUNCATED', 'not an FLV file (no "FLV" signature)', { offset: 0 });
  }
  const flags = data[4]!;
  const headerSize = data.readUInt32BE(5);
  if (headerSize < 9 || headerSize > data.length) {
    throw new ProtocolError('RTMP_ERR_TAG_TRUNCATED', `FLV header size ${headerSize}`, { offset: 5 });
  }
  const tags: FlvTag[] = [];
  let o = headerSize + 4; // PreviousTagSize0
  while (o + 11 <= data.length) {
    const typeId = data[o]! & 0x1f;
    const size = data.readUIntBE(o + 1, 3);
    const timestamp = (data.readUIntBE(o + 4, 3) | (data[o + 7]! << 24)) >>> 0;
    const start = o + 11;
    if (start + size > data.length) break;
    if (typeId === MSG_AUDIO || typeId === MSG_VIDEO || typeId === MSG_DATA_AMF0) {
      tags.push({ typeId, timestamp, payload: data.subarray(start, start + size) });
    }
    o = start + size + 4;
  }
  return { hasAudio: (flags & 4) !== 0, hasVideo: (flags & 1) !== 0, tags };
}

/** Writes tags as an FLV file (for captures and tests). */
export function writeFlv(tags: readonly FlvTag[], hasAudio = true, hasVideo = true): Buffer {
  let size = 13;
  for (const t of tags) size += 15 + t.payload.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUIntBE(FLV_SIGNATURE, 0, 3);
  out[3] = 1;
  out[4] = (hasAudio ? 4 : 0) | (hasVideo ? 1 : 0);
  out.writeUInt32BE(9, 5);
  out.writeUInt32BE(0, 9);
  let o = 13;
  for (const t of tags) {
    const ts = t.timestamp >>> 0;
    out[o] = t.typeId;
    out.writeUIntBE(t.payload.length, o + 1, 3);
    out.writeUIntBE(ts & 0xffffff, o + 4, 3);
    out[o + 7] = ts >>> 24;
    out.writeUIntBE(0, o + 8, 3);
    t.payload.copy(out, o + 11);
    o += 11 + t.payload.length;
    out.writeUInt32BE(11 + t.payload.length, o);
    o += 4;
  }
  return out;
}
