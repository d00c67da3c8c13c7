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
 *   AVC:  06 | 05 | 37 | UUID(16) | intended(8) | sent(8) | epoch·2^24+seq(5) | 80
 *   HEVC: 4e 01 | 05 | 37 | UUID(16) | ...same...
 */

/** The mark's UUID (no zero bytes). */
export const MARK_UUID = Buffer.from('72746d7062656e63682d6d61726b2e31', 'hex'); // "rtmpbench-mark.1"

const TIME_BYTES = 8;
const SEQ_BYTES = 5;
/**
 * The sequence field holds the publication's epoch above 2^24 and the frame's number below
 * (155 hours of frames at 30 fps; 2048 publications of a stream): a republished stream starts
 * its numbers again in a new epoch, so its frames are neither duplicates nor out of order.
 */
const SEQ_SPAN = 2 ** 24;
export const MAX_EPOCH = 2 ** (7 * SEQ_BYTES - 24) - 1;
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
 * The thread's offset to the run's reference clock, µs (reference − this host's monotonic). A
 * run spread over hosts writes marks on the reference clock and reads them back onto the
 * reader's own: a publisher adds its host's offset when it writes a time, a viewer takes its
 * own away when it reads one, so a latency computed on the viewer's clock is corrected for the
 * two hosts' clocks by what was measured of them. 0 on one host (the marks are its own clock).
 */
let referenceOffsetUs = 0;

/** Sets this thread's offset to the run's reference clock (see above). */
export function setMarkClockOffset(offsetUs: number): void {
  referenceOffsetUs = Math.round(offsetUs);
}

/**
 * Writes a mark NAL unit (length-prefixed) at `offset` of `buf`, which has `markNalSize`
 * bytes there. The send time is written separately, at the last moment, by `stampSendTime`.
 */
export function writeMark(
  buf: Buffer,
  offset: number,
  codec: MarkCodec,
  intendedUs: number,
  seq: number,
  epoch = 0,
): void {
  const header = seiHeader(codec);
  const nalSize = markNalSize(codec) - 4;
  buf.writeUInt32BE(nalSize, offset);
  let o = offset + 4;
  for (const b of header) buf[o++] = b;
  buf[o++] = SEI_PAYLOAD_TYPE_USER_DATA_UNREGISTERED;
  buf[o++] = SEI_PAYLOAD_SIZE;
  MARK_UUID.copy(buf, o);
  o += MARK_UUID.length;
  write7(buf, o, intendedUs + referenceOffsetUs, TIME_BYTES);
  write7(buf, o + TIME_BYTES, intendedUs + referenceOffsetUs, TIME_BYTES);
  write7(buf, o + 2 * TIME_BYTES, (epoch % (MAX_EPOCH + 1)) * SEQ_SPAN + (seq % SEQ_SPAN), SEQ_BYTES);
  buf[o + DATA_BYTES] = RBSP_TRAILING;
}

/** Overwrites the send time of a mark written at `offset` (just before the bytes go out). */
export function stampSendTime(buf: Buffer, offset: number, codec: MarkCodec, sentUs: number): void {
  write7(buf, offset + uuidOffset(codec) + MARK_UUID.length + TIME_BYTES, sentUs + referenceOffsetUs, TIME_BYTES);
}

export interface TimingMark {
  intendedUs: number;
  sentUs: number;
  /** The frame's number in its publication, from 0. */
  seq: number;
  /** The publication of the stream (0 the first, 1 after a republish...). */
  epoch: number;
}

/** A mark to read into (readers fill it in place, allocating nothing). */
export function newTimingMark(): TimingMark {
  return { intendedUs: 0, sentUs: 0, seq: 0, epoch: 0 };
}

/** Reads the mark's fields after its UUID, at `d`. */
function readFields(buf: Buffer, d: number, out: TimingMark): void {
  out.intendedUs = read7(buf, d, TIME_BYTES) - referenceOffsetUs;
  out.sentUs = read7(buf, d + TIME_BYTES, TIME_BYTES) - referenceOffsetUs;
  const field = read7(buf, d + 2 * TIME_BYTES, SEQ_BYTES);
  out.epoch = Math.floor(field / SEQ_SPAN);
  out.seq = field % SEQ_SPAN;
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
  readFields(payload, u + MARK_UUID.length, out);
  return true;
}

/** The most NAL units looked at before a frame's first coded slice when searching for the mark. */
const MAX_NALS_BEFORE_MARK = 16;
const AVC_NAL_SEI = 6;
const HEVC_NAL_PREFIX_SEI = 39;
/** HEVC NAL unit types below this are coded slices (VCL). */
const HEVC_FIRST_NON_VCL = 32;
const START_CODE = Buffer.from([0, 0, 1]);

/**
 * Reads the mark from the NAL unit whose header byte is at `nal` (the unit ends at or after
 * `end`; bytes past `end` are not looked at). Returns false when the unit is not a mark.
 */
function readMarkNal(buf: Buffer, nal: number, end: number, codec: MarkCodec, out: TimingMark): boolean {
  const b0 = buf[nal]!;
  let p: number;
  if (codec === 'avc') {
    if ((b0 & 0x1f) !== AVC_NAL_SEI) return false;
    p = nal + 1;
  } else {
    if (((b0 >>> 1) & 0x3f) !== HEVC_NAL_PREFIX_SEI) return false;
    p = nal + 2;
  }
  if (p + 2 + SEI_PAYLOAD_SIZE > end) return false;
  if (buf[p] !== SEI_PAYLOAD_TYPE_USER_DATA_UNREGISTERED || buf[p + 1] !== SEI_PAYLOAD_SIZE) return false;
  const u = p + 2;
  for (let i = 0; i < MARK_UUID.length; i++) if (buf[u + i] !== MARK_UUID[i]) return false;
  readFields(buf, u + MARK_UUID.length, out);
  return true;
}

/** Whether the NAL unit with header byte `b0` is a coded slice (the mark precedes them). */
export function isCodedSliceNal(b0: number, codec: MarkCodec): boolean {
  if (codec === 'avc') {
    const t = b0 & 0x1f;
    return t >= 1 && t <= 5;
  }
  return ((b0 >>> 1) & 0x3f) < HEVC_FIRST_NON_VCL;
}

/**
 * Finds the mark in an Annex B access unit (`buf[start, end)`, NAL units behind 00 00 01 start
 * codes), as MPEG-TS carries video: after an access unit delimiter and parameter sets a remuxer
 * may have put first, and before the first coded slice. The mark has no zero bytes, so no
 * emulation prevention can have changed it. Fills `out`; allocates nothing.
 */
export function findMarkAnnexB(buf: Buffer, start: number, end: number, codec: MarkCodec, out: TimingMark): boolean {
  let i = start;
  for (let n = 0; n < MAX_NALS_BEFORE_MARK; n++) {
    const sc = buf.indexOf(START_CODE, i);
    if (sc < 0) return false;
    const nal = sc + 3;
    if (nal >= end) return false;
    if (readMarkNal(buf, nal, end, codec, out)) return true;
    if (isCodedSliceNal(buf[nal]!, codec)) return false;
    i = nal + 1;
  }
  return false;
}

/**
 * Finds the mark among length-prefixed NAL units (`buf[start, end)`, `lengthSize` of 1, 2 or 4
 * bytes, as FLV tags and MP4 samples carry video), before the first coded slice. `end` may cut
 * the last unit short (a kept prefix of a sample). Fills `out`; allocates nothing.
 */
export function findMarkLengthPrefixed(
  buf: Buffer,
  start: number,
  end: number,
  lengthSize: number,
  codec: MarkCodec,
  out: TimingMark,
): boolean {
  let o = start;
  for (let n = 0; n < MAX_NALS_BEFORE_MARK && o + lengthSize < end; n++) {
    let len = 0;
    for (let k = 0; k < lengthSize; k++) len = len * 256 + buf[o + k]!;
    const nal = o + lengthSize;
    o = nal + len;
    if (len === 0) continue;
    const nalEnd = Math.min(o, end);
    if (readMarkNal(buf, nal, nalEnd, codec, out)) return true;
    if (isCodedSliceNal(buf[nal]!, codec)) return false;
  }
  return false;
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
