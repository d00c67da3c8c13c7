import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MSG_AUDIO, MSG_VIDEO } from '../../src/protocol/constants.js';
import { writeFlv, type FlvTag } from '../../src/media/flv-file.js';
import { FlvFileSource } from '../../src/media/flv-source.js';
import { markNalSize } from '../../src/media/timing-mark.js';
import type { MediaSource } from '../../src/media/source.js';
import { SyntheticSource, type SyntheticOptions } from '../../src/media/synthetic.js';
import { run, testSourceArgs } from './tools.js';

/** Intended send time of frame 0 in the marked files below (µs; any value below 2^56 works). */
export const MARK_BASE_US = 5_000_000_000;

/**
 * Makes an H.264/AAC FLV clip with ffmpeg (libx264, AAC) in `dir`, once per name. Real
 * pictures and sound, so decoders can check what our muxers write.
 */
export async function makeClip(
  dir: string,
  name: string,
  opts: { seconds: number; fps?: number; gopSeconds?: number },
): Promise<string> {
  const path = join(dir, `${name}.flv`);
  if (existsSync(path)) return path;
  const r = await run('ffmpeg', [
    ...testSourceArgs({ seconds: opts.seconds, fps: opts.fps ?? 25, gopSeconds: opts.gopSeconds ?? 1 }),
    '-f',
    'flv',
    '-y',
    path,
  ]);
  if (r.code !== 0) throw new Error(`ffmpeg could not make ${path}: ${r.stderr}`);
  return path;
}

/**
 * The tags a publisher of `source` sends for `videoFrames` frames: sequence headers, then
 * video and audio in time order, each video frame marked (intended time MARK_BASE_US + its
 * due offset, sequence number = index, send time = intended time). Payloads are copies.
 */
function publishedTags(source: MediaSource, videoFrames: number): FlvTag[] {
  const tags: FlvTag[] = [];
  const vsh = source.videoSequenceHeader();
  const ash = source.audioSequenceHeader();
  if (vsh !== null) tags.push({ typeId: MSG_VIDEO, timestamp: 0, payload: Buffer.from(vsh) });
  if (ash !== null) tags.push({ typeId: MSG_AUDIO, timestamp: 0, payload: Buffer.from(ash) });
  let a = 0;
  for (let v = 0; v < videoFrames; v++) {
    const due = source.videoDueOffsetUs(v);
    while (source.hasAudio && source.audioDueOffsetUs(a) <= due) {
      const f = source.audioFrameAt(a++)!;
      tags.push({ typeId: MSG_AUDIO, timestamp: f.timestampMs, payload: Buffer.from(f.payload) });
    }
    const f = source.videoFrame(v, MARK_BASE_US + due);
    tags.push({ typeId: MSG_VIDEO, timestamp: f.timestampMs, payload: Buffer.from(f.payload) });
  }
  return tags;
}

/** A real clip with a timing mark in every video frame, as an FLV file (one loop of the clip). */
export function markedClip(clipPath: string): { flv: Buffer; tags: FlvTag[]; videoFrames: number } {
  const source = new FlvFileSource(clipPath);
  const tags = publishedTags(source, source.frameCount);
  return { flv: writeFlv(tags), tags, videoFrames: source.frameCount };
}

/**
 * The marked clip with some of its marks moved: in every other run of `block` video frames
 * (the 2nd, 4th...), each frame carries the mark of the frame `by` later (its own picture,
 * another frame's time and number). Whatever part of it a reader sees, the marks it reports
 * where it showed them do not all sit on the frames' timeline.
 */
export function shiftedMarksClip(clipPath: string, block: number, by: number): Buffer {
  const { tags } = markedClip(clipPath);
  const size = markNalSize('avc');
  // Video frames (not the sequence header): the mark is the first NAL unit after the 5-byte AVC header.
  const frames = tags.filter((t) => t.typeId === MSG_VIDEO && t.payload[1] === 1);
  const marks = frames.map((t) => Buffer.from(t.payload.subarray(5, 5 + size)));
  for (let v = 0; v + by < frames.length; v++)
    if (Math.floor(v / block) % 2 === 1) marks[v + by]!.copy(frames[v]!.payload, 5);
  return writeFlv(tags);
}

/** Synthetic media (filler frame bodies, valid headers) as FLV tags. */
export function syntheticTags(videoFrames: number, opts: Partial<SyntheticOptions> = {}): FlvTag[] {
  const source = new SyntheticSource({ videoBitrate: 300_000, fps: 25, gopSeconds: 1, audioBitrate: 64_000, ...opts });
  return publishedTags(source, videoFrames);
}
