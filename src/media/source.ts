import type { AmfObject } from '../protocol/amf-types.js';
import type { MarkCodec } from './timing-mark.js';

export interface MediaFrame {
  typeId: number;
  /** RTMP timestamp in ms from the start of the stream. */
  timestampMs: number;
  payload: Buffer;
  keyframe: boolean;
  /** Offset of the timing mark NAL in `payload`, or -1 (audio). */
  markOffset: number;
}

/**
 * What a publisher sends: metadata, sequence headers, and frames by index. Frame `i` of a
 * kind is due `videoDueOffsetUs(i)` (or `audioDueOffsetUs(i)`) after the stream starts.
 * Implementations: the synthetic source and the FLV file source.
 */
export interface MediaSource {
  readonly codec: MarkCodec;
  readonly hasAudio: boolean;
  /** The publication this source feeds (0 the first): its marks carry it. */
  epoch: number;
  metadata(): AmfObject;
  videoSequenceHeader(): Buffer | null;
  audioSequenceHeader(): Buffer | null;
  /**
   * Video frame `index`, with its timing mark (intended time, sequence number) written. The
   * caller may stamp the send time into it; the buffer stays valid only until the next
   * `videoFrame` call (sources reuse it), so it is encoded or copied at once.
   */
  videoFrame(index: number, intendedUs: number): MediaFrame;
  /** Audio frame `index`, or null if there is no audio. The payload must not be modified. */
  audioFrameAt(index: number): MediaFrame | null;
  videoDueOffsetUs(index: number): number;
  audioDueOffsetUs(index: number): number;
}
