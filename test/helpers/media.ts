import { Player, type VideoObservation } from '../../src/client/player.js';
import { Publisher } from '../../src/client/publisher.js';
import type { RtmpUrl } from '../../src/client/url.js';
import { SyntheticSource, type SyntheticOptions } from '../../src/media/synthetic.js';
import { monotonicUs } from '../../src/media/timing-mark.js';

export interface RunningPublisher {
  publisher: Publisher;
  /** Stops pumping (and with `unpublish`, ends the publication and closes). */
  stop: (unpublish?: boolean) => void;
  /** Resolves when `seconds` of media have been sent. */
  done: Promise<void>;
}

/**
 * Publishes a synthetic stream, pumping every 5 ms, for `seconds` (then stops pumping): the
 * frames due before the end, so 1 s at 30 fps is exactly 30 frames.
 */
export async function publish(
  url: RtmpUrl,
  name: string,
  media: Partial<SyntheticOptions> & { seconds: number },
): Promise<RunningPublisher> {
  const source = new SyntheticSource({ videoBitrate: 600_000, fps: 30, gopSeconds: 1, ...media });
  const publisher = await Publisher.open({ url, streamName: name, source });
  const startUs = monotonicUs();
  publisher.start(startUs);
  const endUs = startUs + media.seconds * 1e6;
  let timer: NodeJS.Timeout | null = null;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const stop = (unpublish = false) => {
    if (timer !== null) clearInterval(timer);
    timer = null;
    finish();
    if (unpublish) publisher.stop();
  };
  timer = setInterval(() => {
    const now = monotonicUs();
    publisher.pump(Math.min(now, endUs - 1));
    if (now >= endUs) stop();
  }, 5);
  return { publisher, stop, done };
}

export interface CollectingPlayer {
  player: Player;
  frames: VideoObservation[];
  seqs: number[];
  statuses: string[];
}

/** Plays a stream and records every video frame (a copy of each mark's sequence number). */
export async function play(url: RtmpUrl, name: string): Promise<CollectingPlayer> {
  const frames: VideoObservation[] = [];
  const seqs: number[] = [];
  const statuses: string[] = [];
  const player = await Player.open({
    url,
    streamName: name,
    onVideo: (v) => {
      frames.push({ ...v, mark: v.mark ? { ...v.mark } : null });
      if (v.mark) seqs.push(v.mark.seq);
    },
    onStatus: (s) => statuses.push(s.code),
  });
  return { player, frames, seqs, statuses };
}
