/**
 * Timing marks: every video frame a publisher sends starts with an SEI
 * `user_data_unregistered` NAL unit holding when the frame was meant to be sent, when it was
 * sent (µs on the host's monotonic clock), and the stream's frame sequence number. Servers
 * relay payloads unchanged and decoders ignore unknown SEI, so marks survive any server and
 * players read them at a fixed offset, without scanning.
 *
 * Values are written 7 bits per byte with the top bit set, so the mark holds no zero bytes
 * (no emulation-prevention or start-code hazards if a server remuxes to Annex B).
 *
 * Layout of the mark NAL unit (after the 4-byte NAL length):
 *   AVC:  06 | 05 | 37 | UUID(16) | intended(8) | sent(8) | seq(5) | 80
 *   HEVC: 4e 01 | 05 | 37 | UUID(16) | ...same...
 */

/** The mark's UUID (no zero bytes). */
export const MARK_UUID = Buffer.from('72746d7062656e63682d6d61726b2e31', 'hex'); // "rtmpbench-mark.1"

const TIME_BYTES = 8;
const SEQ_BYTES = 5;
const DATA_BYTES = TIME_BYTES * 2 + SEQ_BYTES; // 21
const SEI_PAYLOAD_SIZE = MARK_UUID.length + DATA_BYTES; // 37
const SEI_PAYLOAD_TYPE_USER_DATA_UNREGISTERED = 5;
const RBSP_TRAILING = 0x80;

export type MarkCodec = 'avc' | 'hevc';

/** NAL header bytes of an SEI unit. */
function seiHeader(codec: MarkCodec): number[] {
  return codec === 'avc' ? [0x06] : [39 << 1, 0x01]; // HEVC PREFIX_SEI_NUT, layer 0, temporal id 1
}

/** Bytes of the mark NAL unit, 4-byte length prefix included. */
export function markNalSize(codec: MarkCodec): number {
  return 4 + seiHeader(codec).length + 2 + SEI_PAYLOAD_SIZE + 1;
}

/** Offset of the UUID from the start of the mark NAL unit (its length prefix). */
function uuidOffset(codec: MarkCodec): number {
  return 4 + seiHeader(codec).length + 2;
}

function write7(buf: Buffer, offset: number, value: number, bytes: number): void {
  // Big-endian groups of 7 bits; value < 2^(7*bytes) (56 bits for times: ~2284 years of µs).
  for (let i = bytes - 1; i >= 0; i--) {
    buf[offset + i] = 0x80 | (value % 128);
    value = Math.floor(value / 128);
  }
}

function read7(buf: Buffer, offset: number, bytes: number): number {
  let v = 0;
  for (let i = 0; i < bytes; i++) v = v * 128 + (buf[offset + i]! & 0x7f);
  return v;
}

/**
 * Writes a mark NAL unit (length-prefixed) at `offset` of `buf`, which has `markNalSize`
 * bytes there. The send time is written separately, at the last moment, by `stampSendTime`.
 */
export function writeMark(buf: Buffer, offset: number, codec: MarkCodec, intendedUs: number, seq: number): void {
  const header = seiHeader(codec);
  const nalSize = markNalSize(codec) - 4;
  buf.writeUInt32BE(nalSize, offset);
  let o = offset + 4;
  for (const b of header) buf[o++] = b;
  buf[o++] = SEI_PAYLOAD_TYPE_USER_DATA_UNREGISTERED;
  buf[o++] = SEI_PAYLOAD_SIZE;
  MARK_UUID.copy(buf, o);
  o += MARK_UUID.length;
  write7(buf, o, intendedUs, TIME_BYTES);
  write7(buf, o + TIME_BYTES, intendedUs, TIME_BYTES);
  write7(buf, o + 2 * TIME_BYTES, seq, SEQ_BYTES);
  buf[o + DATA_BYTES] = RBSP_TRAILING;
}

/** Overwrites the send time of a mark written at `offset` (just before the bytes go out). */
export function stampSendTime(buf: Buffer, offset: number, codec: MarkCodec, sentUs: number): void {
  write7(buf, offset + uuidOffset(codec) + MARK_UUID.length + TIME_BYTES, sentUs, TIME_BYTES);
}

export interface TimingMark {
  intendedUs: number;
  sentUs: number;
  seq: number;
}

/**
 * Reads the mark of a video payload whose codec data starts at `dataOffset` (from
 * `classifyVideo`), or returns false when there is none. Fills `out`; allocates nothing.
 */
export function readMark(payload: Buffer, dataOffset: number, codec: MarkCodec, out: TimingMark): boolean {
  const u = dataOffset + uuidOffset(codec);
  const end = u + MARK_UUID.length + DATA_BYTES;
  if (end > payload.length) return false;
  for (let i = 0; i < MARK_UUID.length; i++) if (payload[u + i] !== MARK_UUID[i]) return false;
  const d = u + MARK_UUID.length;
  out.intendedUs = read7(payload, d, TIME_BYTES);
  out.sentUs = read7(payload, d + TIME_BYTES, TIME_BYTES);
  out.seq = read7(payload, d + 2 * TIME_BYTES, SEQ_BYTES);
  return true;
}

/**
 * Offset from this thread's performance.now() (which starts at the thread's own time origin)
 * to the host's monotonic clock. Both read the same clock (libuv's uv_hrtime), so the offset
 * is fixed; it is averaged over a few reads to stay within a microsecond.
 */
const CLOCK_OFFSET_US = (() => {
  let sum = 0;
  const n = 8;
  for (let i = 0; i < n; i++) {
    const a = performance.now();
    const h = Number(process.hrtime.bigint() / 1000n);
    const b = performance.now();
    sum += h - ((a + b) / 2) * 1000;
  }
  return sum / n;
})();

/**
 * The host's monotonic clock in µs: the same clock in every thread and process of a host
 * (process.hrtime), read through performance.now(), which allocates nothing.
 */
export function monotonicUs(): number {
  return performance.now() * 1000 + CLOCK_OFFSET_US;
}
