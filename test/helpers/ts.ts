import type { FlvTag } from '../../src/media/flv-file.js';
import { TsDemuxer, type TsDemuxerOptions } from '../../src/media/ts-demuxer.js';
import { TsMuxer } from '../../src/media/ts-muxer.js';
import { MSG_AUDIO, MSG_VIDEO } from '../../src/protocol/constants.js';
import type { RtmpError } from '../../src/protocol/errors.js';

/**
 * Muxes FLV tags into one MPEG-TS stream, PAT/PMT first and again before every keyframe
 * (where an HLS segmenter would cut).
 */
export function muxTags(tags: readonly FlvTag[], muxer = new TsMuxer()): Buffer {
  const out: Buffer[] = [];
  let tablesWritten = false;
  for (const t of tags) {
    const header = t.typeId === MSG_VIDEO ? isSequenceHeader(t.payload) : t.payload[1] === 0;
    const key = t.typeId === MSG_VIDEO && (t.payload[0]! & 0x70) === 0x10 && !header;
    if (key || (!tablesWritten && !header)) {
      out.push(Buffer.from(muxer.tables()));
      tablesWritten = true;
    }
    const packets =
      t.typeId === MSG_VIDEO
        ? muxer.videoMessage(t.timestamp, t.payload)
        : t.typeId === MSG_AUDIO
          ? muxer.audioMessage(t.timestamp, t.payload)
          : null;
    if (packets !== null && packets.length > 0) out.push(Buffer.from(packets));
  }
  return Buffer.concat(out);
}

function isSequenceHeader(p: Buffer): boolean {
  return (p[0]! & 0x80) !== 0 ? (p[0]! & 0x0f) === 0 : p[1] === 0;
}

export interface DemuxedUnit {
  pts: number;
  dts: number;
  keyframe: boolean;
  esBytes: number;
  seq: number | null;
  intendedUs: number | null;
  prefix: Buffer;
}

/** Demuxes `bytes` pushed in the pieces given by `cuts`, then flushes. */
export function demux(bytes: Buffer, cuts: number[] = [], options: TsDemuxerOptions = {}) {
  const units: DemuxedUnit[] = [];
  const audio: { pts: number; frames: number }[] = [];
  const errors: RtmpError[] = [];
  const demuxer = new TsDemuxer(
    {
      onVideo: (u) =>
        units.push({
          pts: u.pts90k,
          dts: u.dts90k,
          keyframe: u.keyframe,
          esBytes: u.esBytes,
          seq: u.mark?.seq ?? null,
          intendedUs: u.mark?.intendedUs ?? null,
          prefix: Buffer.from(u.prefix),
        }),
      onAudio: (pts, frames) => audio.push({ pts, frames }),
      onError: (e) => errors.push(e),
    },
    options,
  );
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    demuxer.push(bytes.subarray(at, cut));
    at = cut;
  }
  demuxer.flush();
  return { units, audio, errors, demuxer };
}
