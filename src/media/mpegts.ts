/**
 * MPEG-2 transport stream basics (ISO/IEC 13818-1) shared by the muxer and the demuxer:
 * packet constants, stream types, the PSI CRC and 33-bit timestamps.
 */

export const TS_PACKET_SIZE = 188;
export const TS_HEADER_SIZE = 4;
export const TS_SYNC_BYTE = 0x47;
export const TS_PAYLOAD_SIZE = TS_PACKET_SIZE - TS_HEADER_SIZE;

export const PID_PAT = 0x0000;

export const TABLE_ID_PAT = 0x00;
export const TABLE_ID_PMT = 0x02;

/** stream_type values of the PMT (13818-1 table 2-34 and its amendments). */
export const StreamType = {
  AAC_ADTS: 0x0f,
  AVC: 0x1b,
  HEVC: 0x24,
} as const;

/** PES stream_id values. */
export const STREAM_ID_VIDEO = 0xe0;
export const STREAM_ID_AUDIO = 0xc0;

export const PTS_MODULO = 2 ** 33;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32/MPEG-2 of `buf[start, end)`: polynomial 0x04C11DB7, initial 0xFFFFFFFF, not reflected. */
export function crc32Mpeg(buf: Buffer, start: number, end: number): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ buf[i]!) & 0xff]!) >>> 0;
  return crc >>> 0;
}

/** Writes a 5-byte PTS or DTS field with its 4-bit prefix (0b0011 PTS with DTS, 0b0010 PTS alone, 0b0001 DTS). */
export function writeTimestamp(out: Buffer, o: number, prefix: number, ts90: number): void {
  const hi = Math.floor(ts90 / 2 ** 30) & 0x07;
  const lo = ts90 % 2 ** 30;
  out[o] = (prefix << 4) | (hi << 1) | 1;
  out[o + 1] = (lo >>> 22) & 0xff;
  out[o + 2] = (((lo >>> 15) & 0x7f) << 1) | 1;
  out[o + 3] = (lo >>> 7) & 0xff;
  out[o + 4] = ((lo & 0x7f) << 1) | 1;
}

/** Reads a 5-byte PTS or DTS field (33 bits). */
export function readTimestamp(buf: Buffer, o: number): number {
  const hi = (buf[o]! >>> 1) & 0x07;
  const lo = ((buf[o + 1]! << 22) | ((buf[o + 2]! >>> 1) << 15) | (buf[o + 3]! << 7) | (buf[o + 4]! >>> 1)) >>> 0;
  return hi * 2 ** 30 + lo;
}

/** Milliseconds to a 33-bit 90 kHz timestamp. */
export function msTo90k(ms: number): number {
  const t = Math.round(ms * 90) % PTS_MODULO;
  return t < 0 ? t + PTS_MODULO : t;
}
