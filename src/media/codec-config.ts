import { ProtocolError } from '../protocol/errors.js';
import type { MarkCodec } from './timing-mark.js';

/**
 * Decoder configuration records as FLV/RTMP sequence headers and MP4 sample entries carry them:
 * AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1), HEVCDecoderConfigurationRecord
 * (14496-15 8.3.3.1) and the AAC AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1). Only what a
 * remuxer needs: NAL length size, parameter sets, and the AAC fields of an ADTS header.
 */

export interface VideoConfig {
  codec: MarkCodec;
  /** Bytes of each NAL unit's length prefix in samples (1, 2 or 4). */
  nalLengthSize: number;
  /**
   * Parameter set NAL units in decoding order (AVC: SPS then PPS; HEVC: VPS, SPS, PPS), each
   * a copy that outlives the record it came from.
   */
  parameterSets: Buffer[];
}

/** Parses an AVCDecoderConfigurationRecord. */
export function parseAvcConfig(record: Buffer): VideoConfig {
  if (record.length < 7 || record[0] !== 1) {
    throw new ProtocolError(
      'RTMP_ERR_CODEC_CONFIG',
      `AVC configuration of ${record.length} bytes, version ${record[0] ?? 'none'}`,
      { offset: 0 },
    );
  }
  const nalLengthSize = (record[4]! & 0x03) + 1;
  if (nalLengthSize === 3)
    throw new ProtocolError('RTMP_ERR_CODEC_CONFIG', 'AVC NAL length size of 3 bytes', { offset: 4 });
  const parameterSets: Buffer[] = [];
  let o = 5;
  const spsCount = record[o++]! & 0x1f;
  o = readSets(record, o, spsCount, parameterSets);
  if (o >= record.length)
    throw new ProtocolError('RTMP_ERR_CODEC_CONFIG', 'AVC configuration ends before its PPS count', { offset: o });
  const ppsCount = record[o++]!;
  readSets(record, o, ppsCount, parameterSets);
  return { codec: 'avc', nalLengthSize, parameterSets };
}

/** Parses an HEVCDecoderConfigurationRecord; parameter sets come out as VPS, SPS, PPS (then SEI). */
export function parseHevcConfig(record: Buffer): VideoConfig {
  const HEADER = 23;
  if (record.length < HEADER || record[0] !== 1) {
    throw new ProtocolError(
      'RTMP_ERR_CODEC_CONFIG',
      `HEVC configuration of ${record.length} bytes, version ${record[0] ?? 'none'}`,
      { offset: 0 },
    );
  }
  const nalLengthSize = (record[21]! & 0x03) + 1;
  if (nalLengthSize === 3)
    throw new ProtocolError('RTMP_ERR_CODEC_CONFIG', 'HEVC NAL length size of 3 bytes', { offset: 21 });
  const arrays = record[22]!;
  const byType = new Map<number, Buffer[]>();
  let o = HEADER;
  for (let a = 0; a < arrays; a++) {
    if (o + 3 > record.length)
      throw new ProtocolError('RTMP_ERR_CODEC_CONFIG', `HEVC configuration ends inside array ${a}`, { offset: o });
    const type = record[o]! & 0x3f;
    const count = record.readUInt16BE(o + 1);
    const sets: Buffer[] = byType.get(type) ?? [];
    o = readSets(record, o + 3, count, sets);
    byType.set(type, sets);
  }
  const parameterSets: Buffer[] = [];
  for (const type of [32, 33, 34, 39]) parameterSets.push(...(byType.get(type) ?? []));
  return { codec: 'hevc', nalLengthSize, parameterSets };
}

function readSets(record: Buffer, o: number, count: number, out: Buffer[]): number {
  for (let i = 0; i < count; i++) {
    if (o + 2 > record.length)
      throw new ProtocolError('RTMP_ERR_CODEC_CONFIG', `configuration ends before parameter set ${i}`, { offset: o });
    const len = record.readUInt16BE(o);
    o += 2;
    if (o + len > record.length)
      throw new ProtocolError('RTMP_ERR_CODEC_CONFIG', `parameter set ${i} of ${len} bytes runs past the record`, {
        offset: o,
      });
    out.push(Buffer.from(record.subarray(o, o + len)));
    o += len;
  }
  return o;
}

export interface AacConfig {
  /** MPEG-4 audio object type (2 = AAC-LC). */
  objectType: number;
  sampleRateIndex: number;
  sampleRate: number;
  channelConfig: number;
}

const AAC_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** Parses an AudioSpecificConfig (the first fields; explicit frequencies are mapped to an index). */
export function parseAacConfig(asc: Buffer): AacConfig {
  if (asc.length < 2)
    throw new ProtocolError('RTMP_ERR_CODEC_CONFIG', `AudioSpecificConfig of ${asc.length} bytes`, { offset: 0 });
  let objectType = asc[0]! >>> 3;
  let bit = 5;
  const bits = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++, bit++) {
      const byte = asc[bit >>> 3];
      if (byte === undefined)
        throw new ProtocolError('RTMP_ERR_CODEC_CONFIG', 'AudioSpecificConfig is truncated', { offset: bit >>> 3 });
      v = (v << 1) | ((byte >>> (7 - (bit & 7))) & 1);
    }
    return v >>> 0;
  };
  if (objectType === 31) objectType = 32 + bits(6);
  let sampleRateIndex = bits(4);
  let sampleRate = AAC_SAMPLE_RATES[sampleRateIndex] ?? 0;
  if (sampleRateIndex === 15) {
    sampleRate = bits(24);
    const nearest = AAC_SAMPLE_RATES.findIndex((r) => r <= sampleRate);
    sampleRateIndex = nearest < 0 ? AAC_SAMPLE_RATES.length - 1 : nearest;
  }
  if (sampleRate === 0)
    throw new ProtocolError('RTMP_ERR_CODEC_CONFIG', `AAC sampling frequency index ${sampleRateIndex}`, { offset: 0 });
  const channelConfig = bits(4);
  return { objectType, sampleRateIndex, sampleRate, channelConfig };
}

export const ADTS_HEADER_SIZE = 7;

/**
 * Writes a 7-byte ADTS header (no CRC) for one raw AAC frame of `frameBytes` bytes at `offset`.
 * ADTS can only signal object types 1-4; others (HE-AAC signalled explicitly) are written as
 * AAC-LC, which is what their core decodes as.
 */
export function writeAdtsHeader(out: Buffer, offset: number, config: AacConfig, frameBytes: number): void {
  const length = frameBytes + ADTS_HEADER_SIZE;
  const profile = (config.objectType >= 1 && config.objectType <= 4 ? config.objectType : 2) - 1;
  out[offset] = 0xff;
  out[offset + 1] = 0xf1; // MPEG-4, layer 0, no CRC
  out[offset + 2] = (profile << 6) | (config.sampleRateIndex << 2) | ((config.channelConfig >>> 2) & 0x01);
  out[offset + 3] = ((config.channelConfig & 0x03) << 6) | ((length >>> 11) & 0x03);
  out[offset + 4] = (length >>> 3) & 0xff;
  out[offset + 5] = ((length & 0x07) << 5) | 0x1f; // buffer fullness 0x7ff: variable rate
  out[offset + 6] = 0xfc; // fullness low bits, one raw data block
}
