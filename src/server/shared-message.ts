import type { BufferAllocator } from '../protocol/allocator.js';
import { classifyAudio, classifyVideo, newAudioTagInfo, newVideoTagInfo } from '../protocol/media-tags.js';

/** What a message is, for the GOP cache and the drop policies. */
export const MessageClass = {
  /** Protocol control, commands, status: never dropped. */
  CONTROL: 0,
  /** Metadata and sequence headers: never dropped (decoders need them). */
  CONFIG: 1,
  AUDIO: 2,
  DATA: 3,
  VIDEO_KEY: 4,
  VIDEO_INTER: 5,
  VIDEO_DISPOSABLE: 6,
} as const;
export type MessageClass = (typeof MessageClass)[keyof typeof MessageClass];

export function isVideoFrame(cls: MessageClass): boolean {
  return cls >= MessageClass.VIDEO_KEY;
}

const videoInfo = newVideoTagInfo();
const audioInfo = newAudioTagInfo();

/**
 * A video message's class: sequence headers are config, commands and end-of-sequence data; an unknown
 * tag is an inter frame.
 */
export function videoClass(payload: Buffer): MessageClass {
  if (!classifyVideo(payload, videoInfo)) return MessageClass.VIDEO_INTER;
  if (videoInfo.sequenceHeader) return MessageClass.CONFIG;
  if (videoInfo.keyframe) return MessageClass.VIDEO_KEY;
  if (videoInfo.disposable) return MessageClass.VIDEO_DISPOSABLE;
  if (videoInfo.command || videoInfo.sequenceEnd) return MessageClass.DATA;
  return MessageClass.VIDEO_INTER;
}

/** An audio message's class: its sequence header is config. */
export function audioClass(payload: Buffer): MessageClass {
  return classifyAudio(payload, audioInfo) && audioInfo.sequenceHeader ? MessageClass.CONFIG : MessageClass.AUDIO;
}

/**
 * One message in wire form (chunk headers and payload, contiguous), shared by every player
 * it is queued for. Reference counted: each holder (the dispatcher, the GOP cache, each
 * player's queue until the socket has written it) takes a reference and gives it back; the
 * last release returns the buffer to its pool.
 */
export class SharedMessage {
  readonly wire: Buffer;
  readonly cls: MessageClass;
  readonly timestamp: number;
  private refs = 1;
  private readonly allocator: BufferAllocator | null;

  constructor(wire: Buffer, cls: MessageClass, timestamp: number, allocator: BufferAllocator | null) {
    this.wire = wire;
    this.cls = cls;
    this.timestamp = timestamp;
    this.allocator = allocator;
  }

  get byteLength(): number {
    return this.wire.length;
  }

  get released(): boolean {
    return this.refs === 0;
  }

  retain(): this {
    if (this.refs === 0) throw new Error('SharedMessage: retained after its last release');
    this.refs++;
    return this;
  }

  release(): void {
    if (this.refs === 0) throw new Error('SharedMessage: released more often than retained');
    if (--this.refs === 0 && this.allocator !== null) this.allocator.release(this.wire);
  }
}

/**
 * The config messages a stream holder keeps that are present, in the order a joiner needs them:
 * metadata, then the video and audio sequence headers.
 */
export function configMessageList(
  metadata: SharedMessage | null,
  videoConfig: SharedMessage | null,
  audioConfig: SharedMessage | null,
): SharedMessage[] {
  const out: SharedMessage[] = [];
  if (metadata !== null) out.push(metadata);
  if (videoConfig !== null) out.push(videoConfig);
  if (audioConfig !== null) out.push(audioConfig);
  return out;
}
