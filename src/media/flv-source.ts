import { readFileSync } from 'node:fs';
import { isAmfObject, type AmfObject } from '../protocol/amf-types.js';
import { parseData } from '../protocol/commands.js';
import { MSG_AUDIO, MSG_DATA_AMF0, MSG_VIDEO } from '../protocol/constants.js';
import { UsageError } from '../input/usage-error.js';
import {
  classifyAudio,
  classifyVideo,
  newAudioTagInfo,
  newVideoTagInfo,
  VideoCodecId,
  VideoFourCc,
} from '../protocol/media-tags.js';
import { parseFlv, type FlvTag } from './flv-file.js';
import type { MediaFrame, MediaSource } from './source.js';
import { markNalSize, writeMark, type MarkCodec } from './timing-mark.js';

interface SourceFrame {
  /** ms from the first frame of the file. */
  offsetMs: number;
  payload: Buffer;
  keyframe: boolean;
  /** Where codec data starts (the mark goes there), or -1 when no mark can be placed. */
  dataOffset: number;
}

/**
 * Real media from an FLV file, looped with timestamps continued (each loop starts where the
 * last ended, one frame interval later). Every H.264/HEVC video frame gets a timing mark
 * inserted before its first NAL unit; other codecs are sent without marks.
 */
export class FlvFileSource implements MediaSource {
  readonly codec: MarkCodec;
  readonly hasAudio: boolean;
  private readonly meta: AmfObject;
  private readonly videoHeader: Buffer | null;
  private readonly audioHeader: Buffer | null;
  private readonly video: SourceFrame[];
  private readonly audio: SourceFrame[];
  /** Length of one loop in ms. */
  readonly loopMs: number;
  /**
   * The largest composition time offset of its video frames, ms: above 0 the clip reorders frames
   * (B-frames), and a frame is shown up to this long after its decode time.
   */
  readonly maxCompositionMs: number;
  private readonly markSize: number;

  epoch = 0;

  constructor(path: string) {
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (e) {
      throw new UsageError(`cannot read the FLV source ${path}: ${(e as Error).message}`);
    }
    let tags: FlvTag[];
    try {
      tags = parseFlv(data).tags;
    } catch (e) {
      throw new UsageError(`${path} is not an FLV file: ${(e as Error).message}`);
    }
    const vinfo = newVideoTagInfo();
    const ainfo = newAudioTagInfo();
    let meta: AmfObject = {};
    let videoHeader: Buffer | null = null;
    let audioHeader: Buffer | null = null;
    let codec: MarkCodec | null = null;
    const video: { ts: number; payload: Buffer; keyframe: boolean; dataOffset: number }[] = [];
    const audio: { ts: number; payload: Buffer }[] = [];
    let maxCompositionMs = 0;
    for (const t of tags) {
      if (t.typeId === MSG_DATA_AMF0) {
        try {
          const d = parseData(t.payload);
          const obj = d.name === 'onMetaData' ? d.values[0] : undefined;
          if (isAmfObject(obj)) meta = obj;
        } catch {
          // Unreadable script data: keep going without it.
        }
      } else if (t.typeId === MSG_VIDEO) {
        if (!classifyVideo(t.payload, vinfo)) continue;
        if (vinfo.sequenceHeader) {
          videoHeader ??= t.payload;
          const id = vinfo.codecId;
          codec =
            id === VideoCodecId.AVC || id === VideoFourCc.AVC
              ? 'avc'
              : id === VideoCodecId.HEVC_LEGACY || id === VideoFourCc.HEVC
                ? 'hevc'
                : null;
        } else if (!vinfo.sequenceEnd && !vinfo.command) {
          const markable =
            (vinfo.codec === 'avc' || vinfo.codec === 'hevc') && vinfo.dataOffset + 4 <= t.payload.length;
          maxCompositionMs = Math.max(maxCompositionMs, Math.abs(vinfo.compositionTimeMs));
          video.push({
            ts: t.timestamp,
            payload: t.payload,
            keyframe: vinfo.keyframe,
            dataOffset: markable ? vinfo.dataOffset : -1,
          });
        }
      } else if (t.typeId === MSG_AUDIO) {
        if (!classifyAudio(t.payload, ainfo)) continue;
        if (ainfo.sequenceHeader) audioHeader ??= t.payload;
        else if (t.payload.length > 0) audio.push({ ts: t.timestamp, payload: t.payload });
      }
    }
    if (video.length < 2)
      throw new UsageError(`${path} has ${video.length} video frames; at least 2 are needed to loop it`);
    const first = Math.min(video[0]!.ts, audio[0]?.ts ?? Infinity);
    const lastVideo = video[video.length - 1]!.ts;
    const frameMs = (lastVideo - video[0]!.ts) / (video.length - 1);
    this.loopMs = Math.max(1, lastVideo - first + frameMs);
    this.maxCompositionMs = maxCompositionMs;
    this.codec = codec ?? 'avc';
    this.markSize = markNalSize(this.codec);
    this.meta = meta;
    this.videoHeader = videoHeader;
    this.audioHeader = audioHeader;
    this.hasAudio = audio.length > 0;
    this.video = video.map((v) => ({
      offsetMs: v.ts - first,
      payload: v.payload,
      keyframe: v.keyframe,
      dataOffset: codec === null ? -1 : v.dataOffset,
    }));
    this.audio = audio.map((a) => ({ offsetMs: a.ts - first, payload: a.payload, keyframe: false, dataOffset: -1 }));
  }

  /** Video frames per loop. */
  get frameCount(): number {
    return this.video.length;
  }

  metadata(): AmfObject {
    return { ...this.meta, encoder: 'rtmpbench (looped FLV file)' };
  }

  videoSequenceHeader(): Buffer | null {
    return this.videoHeader;
  }

  audioSequenceHeader(): Buffer | null {
    return this.audioHeader;
  }

  videoDueOffsetUs(index: number): number {
    const n = this.video.length;
    return (Math.floor(index / n) * this.loopMs + this.video[index % n]!.offsetMs) * 1000;
  }

  audioDueOffsetUs(index: number): number {
    const n = this.audio.length;
    if (n === 0) return Infinity;
    return (Math.floor(index / n) * this.loopMs + this.audio[index % n]!.offsetMs) * 1000;
  }

  videoFrame(index: number, intendedUs: number): MediaFrame {
    const f = this.video[index % this.video.length]!;
    const timestampMs = Math.round(this.videoDueOffsetUs(index) / 1000);
    if (f.dataOffset < 0)
      return { typeId: MSG_VIDEO, timestampMs, payload: f.payload, keyframe: f.keyframe, markOffset: -1 };
    const payload = Buffer.allocUnsafe(f.payload.length + this.markSize);
    f.payload.copy(payload, 0, 0, f.dataOffset);
    writeMark(payload, f.dataOffset, this.codec, intendedUs, index, this.epoch);
    f.payload.copy(payload, f.dataOffset + this.markSize, f.dataOffset);
    return { typeId: MSG_VIDEO, timestampMs, payload, keyframe: f.keyframe, markOffset: f.dataOffset };
  }

  audioFrameAt(index: number): MediaFrame | null {
    const n = this.audio.length;
    if (n === 0) return null;
    const f = this.audio[index % n]!;
    return {
      typeId: MSG_AUDIO,
      timestampMs: Math.round(this.audioDueOffsetUs(index) / 1000),
      payload: f.payload,
      keyframe: false,
      markOffset: -1,
    };
  }
}
