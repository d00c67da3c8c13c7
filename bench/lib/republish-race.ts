/**
 * Republish races: a publisher goes away (drops its connection, or unpublishes) and another
 * takes the same name at once, while viewers are joining just before, during and after. Each
 * viewer must get frames from the new publisher once it sends: a viewer left waiting on a
 * stream object the registry no longer knows, or never told the new publication started, is the
 * class of bug (SRS's source clean-up race) this looks for.
 *
 * A round: publisher A sends a GOP; viewers join at random moments in the first 30 ms; A goes
 * away at a random moment in the first 50 ms; B starts connecting up to 40 ms before that and
 * publishes the name (asking again every 10 ms while the server still holds A's publication,
 * as an encoder reconnecting does), then
 * sends in real time until every viewer has had a frame of B's (its timing mark was sent after
 * B started) or 3 s have passed. Rounds run `concurrency` at a time, on names of their own or on
 * a few names used round after round.
 */
import { Player } from '../../src/client/player.js';
import { Publisher } from '../../src/client/publisher.js';
import type { RtmpUrl } from '../../src/client/url.js';
import { SyntheticSource } from '../../src/media/synthetic.js';
import { monotonicUs } from '../../src/media/timing-mark.js';
import { seededRandom } from '../../src/metrics/robust-slope.js';

export interface RaceOptions {
  url: RtmpUrl;
  rounds: number;
  viewersPerRound?: number;
  concurrency?: number;
  seed?: number;
  /** How long a viewer may wait for the new publisher's first frame, ms (default 3000). */
  frameDeadlineMs?: number;
  onProgress?: (done: number) => void;
}

export interface RaceCounts {
  rounds: number;
  viewers: number;
  /** Viewers that got a frame of the new publisher. */
  served: number;
  /** Viewers that did not, within the deadline: what must be 0. */
  starved: number;
  /** Viewers whose play was refused or failed (none expected). */
  viewerErrors: number;
  /** Publish attempts of B refused while the server still held A's publication (then asked again). */
  republishRetries: number;
  /** Rounds in which B never got the name. */
  republishFailures: number;
  /** Rounds by how A went away. */
  dropped: number;
  unpublished: number;
  errors: Record<string, number>;
  /** The first few starved viewers: round, name, when they joined relative to A leaving, what they saw. */
  starvedDetails: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function newSource(): SyntheticSource {
  return new SyntheticSource({ videoBitrate: 300_000, fps: 30, gopSeconds: 1, audioBitrate: 0 });
}

async function publishWithRetry(url: RtmpUrl, name: string, counts: RaceCounts): Promise<Publisher | null> {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      return await Publisher.open({ url, streamName: name, source: newSource() });
    } catch (e) {
      const msg = (e as Error).message;
      if (!/already being published/.test(msg)) throw e;
      counts.republishRetries++;
      await sleep(10);
    }
  }
  return null;
}

async function round(opts: RaceOptions, r: number, worker: number, counts: RaceCounts): Promise<void> {
  const random = seededRandom((opts.seed ?? 1) * 1_000_003 + r);
  const url = opts.url;
  // Half the rounds on a name of their own, half on their worker's name, used round after round.
  const name = random() < 0.5 ? `race-${r}` : `race-again-${worker}`;
  const deadlineMs = opts.frameDeadlineMs ?? 3000;
  const a = await Publisher.open({ url, streamName: name, source: newSource() });
  const aStart = monotonicUs();
  a.start(aStart);
  a.pump(aStart + 1e6 - 1);
  let bStartUs = Infinity;
  const viewers = Array.from({ length: opts.viewersPerRound ?? 4 }, () => ({
    joinMs: random() * 30,
    served: false,
    frames: 0,
    player: null as Player | null,
    error: '',
  }));
  const leaveMs = random() * 50;
  const drop = random() < 0.5;
  const t0 = performance.now();
  const joined = viewers.map(async (v) => {
    await sleep(v.joinMs);
    try {
      v.player = await Player.open({
        url,
        streamName: name,
        onVideo: (o) => {
          v.frames++;
          if (o.mark !== null && o.mark.sentUs >= bStartUs) v.served = true;
        },
      });
    } catch (e) {
      v.error = (e as Error).message;
    }
  });
  // B starts connecting up to 40 ms before A goes away (connecting takes a few ms), so its
  // publish arrives before, at or after A's end.
  const bOpenMs = Math.max(0, leaveMs - random() * 40);
  const bOpened = sleep(bOpenMs).then(() => publishWithRetry(url, name, counts));
  bOpened.catch(() => {}); // awaited below; this only keeps an early failure from being unhandled
  let leftAt = 0;
  const left = sleep(leaveMs).then(() => {
    leftAt = performance.now() - t0;
    if (drop) {
      counts.dropped++;
      a.conn.socket.destroy();
    } else {
      counts.unpublished++;
      a.stop();
    }
  });
  let b: Publisher | null = null;
  try {
    await left;
    b = await bOpened;
    if (b === null) {
      counts.republishFailures++;
      return;
    }
    bStartUs = monotonicUs();
    b.start(bStartUs);
    await Promise.all(joined);
    const deadline = performance.now() + deadlineMs;
    while (performance.now() < deadline && viewers.some((v) => v.player !== null && !v.served && !v.player.closed)) {
      b.pump(monotonicUs());
      await sleep(10);
    }
    for (const v of viewers) {
      counts.viewers++;
      if (v.player === null) {
        counts.viewerErrors++;
        counts.errors[v.error.slice(0, 80)] = (counts.errors[v.error.slice(0, 80)] ?? 0) + 1;
      } else if (v.served) {
        counts.served++;
      } else {
        counts.starved++;
        if (counts.starvedDetails.length < 20) {
          counts.starvedDetails.push(
            `round ${r} (${name}): joined at ${v.joinMs.toFixed(1)} ms, A ${drop ? 'dropped' : 'unpublished'} at ${leftAt.toFixed(1)} ms; ${v.frames} frames, none of B's${v.player.closed ? ', connection closed' : ''}`,
          );
        }
      }
    }
  } finally {
    await Promise.all(joined);
    for (const v of viewers) v.player?.close();
    b?.stop();
    counts.rounds++;
  }
}

export async function republishRaces(opts: RaceOptions): Promise<RaceCounts> {
  const counts: RaceCounts = {
    rounds: 0,
    viewers: 0,
    served: 0,
    starved: 0,
    viewerErrors: 0,
    republishRetries: 0,
    republishFailures: 0,
    dropped: 0,
    unpublished: 0,
    errors: {},
    starvedDetails: [],
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: opts.concurrency ?? 4 }, async (_, worker) => {
      while (next < opts.rounds) {
        const r = next++;
        try {
          await round(opts, r, worker, counts);
        } catch (e) {
          const key = (e as Error).message.slice(0, 80);
          counts.errors[key] = (counts.errors[key] ?? 0) + 1;
        }
        opts.onProgress?.(counts.rounds);
      }
    }),
  );
  return counts;
}
