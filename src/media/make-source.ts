import { FlvFileSource } from './flv-source.js';
import type { MediaSource } from './source.js';
import { SyntheticSource } from './synthetic.js';

/** What a publisher sends: the synthetic source, or an FLV file looped. */
export interface MediaSettings {
  source: string;
  codec: 'avc' | 'hevc';
  videoBitrate: number;
  audioBitrate: number;
  fps: number;
  gopMs: number;
}

export function makeSource(media: MediaSettings): MediaSource {
  if (media.source === 'synthetic') {
    return new SyntheticSource({ videoBitrate: media.videoBitrate, audioBitrate: media.audioBitrate, fps: media.fps, gopSeconds: media.gopMs / 1000, codec: media.codec });
  }
  return new FlvFileSource(media.source);
}
