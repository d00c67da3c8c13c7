import type { BufferAllocator } from '../../protocol/allocator.js';

/**
 * The bytes HTTP-FLV and WebSocket-FLV viewers get: an FLV file header, then one FLV tag per
 * RTMP message (11-byte tag header, the message body unchanged, PreviousTagSize). Over
 * WebSocket each of those is one binary message; a server's frames are not masked, so the
 * framed bytes are the same for every viewer and are encoded once, like the tag.
 */

/** The two forms an FLV stream takes: the bare byte stream of an HTTP body, or WebSocket messages. */
export type FlvForm = 'http-flv' | 'ws-flv';

const FLV_TAG_HEADER_BYTES = 11;
const FLV_PREVIOUS_TAG_SIZE_BYTES = 4;
const FLV_FILE_HEADER = [0x46, 0x4c, 0x56, 1, 0, 0, 0, 0, 9, 0, 0, 0, 0]; // "FLV", v1, flags, header size 9, PreviousTagSize0
const FLV_FLAG_AUDIO = 4;
const FLV_FLAG_VIDEO = 1;

const WS_FIN = 0x80;
const WS_OPCODE_BINARY = 0x2;
const WS_OPCODE_CLOSE = 0x8;
/** WebSocket close code 1000 (normal closure) and 1001 (going away). */
export const WS_CLOSE_NORMAL = 1000;
export const WS_CLOSE_GOING_AWAY = 1001;

/** Bytes of the header of an unmasked WebSocket frame carrying `n` bytes. */
export function wsHeaderBytes(n: number): number {
  return n < 126 ? 2 : n < 0x10000 ? 4 : 10;
}

/** Writes an unmasked WebSocket frame header for `n` payload bytes at `o`; returns the offset after it. */
function writeWsHeader(out: Buffer, o: number, n: number, opcode = WS_OPCODE_BINARY): number {
  out[o] = WS_FIN | opcode;
  if (n < 126) {
    out[o + 1] = n;
    return o + 2;
  }
  if (n < 0x10000) {
    out[o + 1] = 126;
    out.writeUInt16BE(n, o + 2);
    return o + 4;
  }
  out[o + 1] = 127;
  out.writeUInt32BE(Math.floor(n / 2 ** 32), o + 2);
  out.writeUInt32BE(n >>> 0, o + 6);
  return o + 10;
}

/** Bytes `encodeFlvTag` writes for a body of `payloadBytes`. */
function flvTagWireBytes(payloadBytes: number, form: FlvForm): number {
  const tag = FLV_TAG_HEADER_BYTES + payloadBytes + FLV_PREVIOUS_TAG_SIZE_BYTES;
  return form === 'ws-flv' ? wsHeaderBytes(tag) + tag : tag;
}

/**
 * One message as an FLV tag in a buffer from `allocator` (every byte written): the body is
 * copied once; over WebSocket the tag is framed as one binary message.
 */
export function encodeFlvTag(
  typeId: number,
  timestampMs: number,
  payload: Buffer,
  form: FlvForm,
  allocator: BufferAllocator,
): Buffer {
  const tagBytes = FLV_TAG_HEADER_BYTES + payload.length;
  const out = allocator.acquire(flvTagWireBytes(payload.length, form));
  let o = form === 'ws-flv' ? writeWsHeader(out, 0, tagBytes + FLV_PREVIOUS_TAG_SIZE_BYTES) : 0;
  const ts = timestampMs >>> 0;
  out[o] = typeId;
  out[o + 1] = payload.length >>> 16;
  out[o + 2] = (payload.length >>> 8) & 0xff;
  out[o + 3] = payload.length & 0xff;
  out[o + 4] = (ts >>> 16) & 0xff;
  out[o + 5] = (ts >>> 8) & 0xff;
  out[o + 6] = ts & 0xff;
  out[o + 7] = ts >>> 24; // TimestampExtended: the upper 8 bits
  out[o + 8] = 0; // StreamID, always 0
  out[o + 9] = 0;
  out[o + 10] = 0;
  o += FLV_TAG_HEADER_BYTES;
  o += payload.copy(out, o);
  out.writeUInt32BE(tagBytes, o);
  return out;
}

/** The FLV file header in each form, by flags (built once). */
const FILE_HEADERS: Record<FlvForm, Buffer[]> = {
  'http-flv': [0, 1, 2, 3].map((f) => fileHeader(f, 'http-flv')),
  'ws-flv': [0, 1, 2, 3].map((f) => fileHeader(f, 'ws-flv')),
};

function fileHeader(bits: number, form: FlvForm): Buffer {
  const header = Buffer.from(FLV_FILE_HEADER);
  header[4] = (bits & 1 ? FLV_FLAG_AUDIO : 0) | (bits & 2 ? FLV_FLAG_VIDEO : 0);
  if (form === 'http-flv') return header;
  const out = Buffer.allocUnsafe(wsHeaderBytes(header.length) + header.length);
  header.copy(out, writeWsHeader(out, 0, header.length));
  return out;
}

/**
 * The FLV file header a viewer starts with; the flags say which tracks the stream has (both
 * when neither is known yet). A shared constant: never written to.
 */
export function flvFileHeader(form: FlvForm, hasAudio: boolean, hasVideo: boolean): Buffer {
  const both = !hasAudio && !hasVideo;
  return FILE_HEADERS[form][(hasAudio || both ? 1 : 0) | (hasVideo || both ? 2 : 0)]!;
}

/** A WebSocket close frame with `code` (built once per code). */
const CLOSE_FRAMES = new Map<number, Buffer>();
export function wsCloseFrame(code: number): Buffer {
  let f = CLOSE_FRAMES.get(code);
  if (f === undefined) {
    f = Buffer.allocUnsafe(4);
    writeWsHeader(f, 0, 2, WS_OPCODE_CLOSE);
    f.writeUInt16BE(code, 2);
    CLOSE_FRAMES.set(code, f);
  }
  return f;
}
