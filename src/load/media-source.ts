import { FlvFileSource } from '../media/flv-source.js';
import type { MediaSource } from '../media/source.js';
import { SyntheticSource } from '../media/synthetic.js';
import type { Scenario } from '../results/scenario.js';

/** What a scenario's publishers send: the synthetic source, or an FLV file looped. */
export function makeSource(media: Scenario['media'], epoch = 0): MediaSource {
  const source =
    media.source === 'synthetic'
      ? new SyntheticSource({
          videoBitrate: media.videoBitrate,
          audioBitrate: media.audioBitrate,
          fps: media.fps,
          gopSeconds: media.gopMs / 1000,
          codec: media.codec,
        })
      : new FlvFileSource(media.source);
  source.epoch = epoch;
  return source;
}
