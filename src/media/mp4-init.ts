import { ProtocolError } from '../protocol/errors.js';
import { parseAvcConfig, parseHevcConfig, type VideoConfig } from './codec-config.js';

/**
 * ISO BMFF boxes for fragmented MP4 (CMAF) as HLS serves it: the init segment's `moov` (track
 * ids, handler, timescale, sample entry and decoder configuration, `trex` defaults). Whole
 * buffers: init segments are small and read once.
 */

export interface Mp4Track {
  trackId: number;
  /** Handler type: 'vide', 'soun', ... */
  handler: string;
  timescale: number;
  /** Sample entry type: 'avc1', 'hvc1', 'mp4a', ... */
  sampleEntry: string;
  /** 'avc' and 'hevc' for video whose marks can be read; null otherwise. */
  videoConfig: VideoConfig | null;
  defaultSampleDuration: number;
  defaultSampleSize: number;
  defaultSampleFlags: number;
}

export interface Mp4Init {
  tracks: Mp4Track[];
}

export type BoxVisitor = (type: string, start: number, bodyStart: number, end: number) => void;

/** Visits the boxes of `buf[start, end)`; `end` of a box of size 0 is the end of the range. */
export function walkBoxes(buf: Buffer, start: number, end: number, visit: BoxVisitor): void {
  let o = start;
  while (o + 8 <= end) {
    let size = buf.readUInt32BE(o);
    const type = buf.toString('latin1', o + 4, o + 8);
    let body = o + 8;
    if (size === 1) {
      if (o + 16 > end)
        throw new ProtocolError('RTMP_ERR_MP4_MALFORMED', `box ${type} ends inside its 64-bit size`, { offset: o });
      size = Number(buf.readBigUInt64BE(o + 8));
      body = o + 16;
    } else if (size === 0) {
      size = end - o;
    }
    if (size < body - o || o + size > end) {
      throw new ProtocolError(
        'RTMP_ERR_MP4_MALFORMED',
        `box ${type} of ${size} bytes at ${o} overruns its parent (ends at ${end})`,
        { offset: o },
      );
    }
    visit(type, o, body, o + size);
    o += size;
  }
}

/** Offset of a FullBox's body after version and flags. */
const FULL_BOX = 4;
/** SampleEntry (8) + VisualSampleEntry fields (70) before child boxes. */
const VISUAL_SAMPLE_ENTRY = 78;
const AUDIO_SAMPLE_ENTRY = 28;

/** Parses an init segment (or any buffer holding a `moov`). */
export function parseMp4Init(buf: Buffer): Mp4Init {
  const tracks: Mp4Track[] = [];
  const trex = new Map<number, [number, number, number]>();
  let sawMoov = false;
  walkBoxes(buf, 0, buf.length, (type, _s, body, end) => {
    if (type !== 'moov') return;
    sawMoov = true;
    walkBoxes(buf, body, end, (t, _s2, b, e) => {
      if (t === 'trak') tracks.push(parseTrak(buf, b, e));
      else if (t === 'mvex') {
        walkBoxes(buf, b, e, (t3, _s3, b3, e3) => {
          if (t3 !== 'trex' || b3 + FULL_BOX + 20 > e3) return;
          const id = buf.readUInt32BE(b3 + FULL_BOX);
          trex.set(id, [
            buf.readUInt32BE(b3 + FULL_BOX + 8),
            buf.readUInt32BE(b3 + FULL_BOX + 12),
            buf.readUInt32BE(b3 + FULL_BOX + 16),
          ]);
        });
      }
    });
  });
  if (!sawMoov) throw new ProtocolError('RTMP_ERR_MP4_UNSUPPORTED', 'the init segment has no moov box');
  for (const t of tracks) {
    const d = trex.get(t.trackId);
    if (d !== undefined) [t.defaultSampleDuration, t.defaultSampleSize, t.defaultSampleFlags] = d;
  }
  return { tracks };
}

function parseTrak(buf: Buffer, start: number, end: number): Mp4Track {
  const track: Mp4Track = {
    trackId: 0,
    handler: '',
    timescale: 0,
    sampleEntry: '',
    videoConfig: null,
    defaultSampleDuration: 0,
    defaultSampleSize: 0,
    defaultSampleFlags: 0,
  };
  const need = (o: number, n: number, what: string) => {
    if (o + n > end) throw new ProtocolError('RTMP_ERR_MP4_MALFORMED', `${what} is truncated`, { offset: o });
  };
  const visit: BoxVisitor = (type, _s, body, e) => {
    switch (type) {
      case 'tkhd': {
        const v1 = buf[body] === 1;
        need(body, v1 ? 24 : 16, 'tkhd');
        track.trackId = buf.readUInt32BE(body + FULL_BOX + (v1 ? 16 : 8));
        break;
      }
      case 'mdhd': {
        const v1 = buf[body] === 1;
        need(body, v1 ? 24 : 16, 'mdhd');
        track.timescale = buf.readUInt32BE(body + FULL_BOX + (v1 ? 16 : 8));
        break;
      }
      case 'hdlr':
        need(body, 12, 'hdlr');
        track.handler = buf.toString('latin1', body + 8, body + 12);
        break;
      case 'mdia':
      case 'minf':
      case 'stbl':
        walkBoxes(buf, body, e, visit);
        break;
      case 'stsd':
        need(body, 8, 'stsd');
        walkBoxes(buf, body + 8, e, (entry, _s2, b2, e2) => {
          if (track.sampleEntry !== '') return; // the first description
          track.sampleEntry = entry;
          const skip = track.handler === 'soun' ? AUDIO_SAMPLE_ENTRY : VISUAL_SAMPLE_ENTRY;
          if (track.handler !== 'vide' || b2 + skip > e2) return;
          walkBoxes(buf, b2 + skip, e2, (cfg, _s3, b3, e3) => {
            if (cfg === 'avcC') track.videoConfig = parseAvcConfig(buf.subarray(b3, e3));
            else if (cfg === 'hvcC') track.videoConfig = parseHevcConfig(buf.subarray(b3, e3));
          });
        });
        break;
      default:
        break;
    }
  };
  walkBoxes(buf, start, end, visit);
  if (track.trackId === 0 || track.timescale === 0) {
    throw new ProtocolError(
      'RTMP_ERR_MP4_MALFORMED',
      `track without ${track.trackId === 0 ? 'tkhd track id' : 'mdhd timescale'}`,
      { offset: start },
    );
  }
  return track;
}
