/**
 * Short sessions, one after another, as soaks and reliability runs need them: viewers that
 * connect, play a few frames and leave; publishers that publish a GOP and unpublish. Each
 * cycle is a real session through our client (handshake, connect, createStream, play or
 * publish); `concurrency` cycles run at once. Source addresses can be spread over 127.0.0.x
 * (`localAddresses`), so a hundred thousand cycles do not run out of ephemeral ports while
 * closed connections wait in TIME_WAIT.
 */
import { Player } from '../../src/client/player.js';
import { Publisher } from '../../src/client/publisher.js';
import type { RtmpUrl } from '../../src/client/url.js';
import { SyntheticSource } from '../../src/media/synthetic.js';
import { monotonicUs } from '../../src/media/timing-mark.js';

export interface CycleCounts {
  /** Cycles that ended (whatever happened in them). */
  ended: number;
  /** Cycles whose session could not be set up (connect, play or publish refused or failed). */
  failed: number;
  /** Viewer cycles that got no video frame within the timeout. */
  noFrame: number;
  /** Failures by message, the first 80 characters (a few kinds, not one entry per cycle). */
  errors: Record<string, number>;
}

interface CycleLoop {
  cycles: number;
  concurrency: number;
  /** Checked before each cycle: stop early (a run bounded by time). */
  shouldStop?: () => boolean;
  /** After each cycle, with the counts so far. */
  onCycle?: (counts: CycleCounts) => void;
  /** Source addresses, used in turn (default: the system's choice). */
  localAddresses?: readonly string[];
}

export interface ViewerCycleOptions extends CycleLoop {
  url: RtmpUrl;
  streamName: string;
  /** Video frames to receive before leaving (default 1; 0 leaves at Play.Start). */
  frames?: number;
  /** Every Nth cycle leaves with a TCP reset instead of a close (0: never; default 0). */
  resetEvery?: number;
  /** Deadline for the frames, ms (default 5000). */
  timeoutMs?: number;
}

export interface PublisherCycleOptions extends CycleLoop {
  url: RtmpUrl;
  /** The stream name of cycle i, run by worker `worker` (0..concurrency-1): a new name each time, or the same again. */
  streamName: (i: number, worker: number) => string;
  /** Seconds of media each publisher sends, at once (default 1: a GOP of the synthetic source). */
  mediaSeconds?: number;
  /** Every Nth cycle drops its connection without unpublishing (0: never; default 0). */
  dropEvery?: number;
}

function newCycleCounts(): CycleCounts {
  return { ended: 0, failed: 0, noFrame: 0, errors: {} };
}

function countError(counts: CycleCounts, e: unknown): void {
  const key = (e instanceof Error ? e.message : String(e)).slice(0, 80);
  counts.errors[key] = (counts.errors[key] ?? 0) + 1;
  counts.failed++;
}

async function runLoop(
  loop: CycleLoop,
  cycle: (i: number, localAddress: string | undefined, counts: CycleCounts, worker: number) => Promise<void>,
): Promise<CycleCounts> {
  const counts = newCycleCounts();
  let next = 0;
  const addresses = loop.localAddresses ?? [];
  const worker = async (w: number) => {
    while (next < loop.cycles && loop.shouldStop?.() !== true) {
      const i = next++;
      try {
        await cycle(i, addresses.length === 0 ? undefined : addresses[i % addresses.length], counts, w);
      } catch (e) {
        countError(counts, e);
      }
      counts.ended++;
      loop.onCycle?.(counts);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, loop.concurrency) }, (_, w) => worker(w)));
  return counts;
}

/** Viewers that connect, play `frames` video frames and leave, `cycles` times. */
export function viewerCycles(opts: ViewerCycleOptions): Promise<CycleCounts> {
  const frames = opts.frames ?? 1;
  const timeoutMs = opts.timeoutMs ?? 5000;
  return runLoop(opts, async (i, localAddress, counts) => {
    let seen = 0;
    let enough!: () => void;
    const gotFrames = new Promise<void>((r) => (enough = r));
    const player = await Player.open({
      url: opts.url,
      streamName: opts.streamName,
      timeoutMs,
      ...(localAddress !== undefined ? { localAddress } : {}),
      onVideo: () => {
        if (++seen >= frames) enough();
      },
    });
    try {
      if (frames > 0) {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs)));
        const timedOut = await Promise.race([gotFrames.then(() => false), late]);
        clearTimeout(timer);
        if (timedOut) counts.noFrame++;
      }
    } finally {
      if (opts.resetEvery !== undefined && opts.resetEvery > 0 && i % opts.resetEvery === 0)
        player.conn.socket.resetAndDestroy();
      else player.close();
    }
  });
}

/** Publishers that publish `mediaSeconds` of synthetic media at once and unpublish, `cycles` times. */
export function publisherCycles(opts: PublisherCycleOptions): Promise<CycleCounts> {
  const seconds = opts.mediaSeconds ?? 1;
  return runLoop(opts, async (i, localAddress, _counts, worker) => {
    const source = new SyntheticSource({ videoBitrate: 600_000, fps: 30, gopSeconds: 1, audioBitrate: 64_000 });
    const publisher = await Publisher.open({
      url: opts.url,
      streamName: opts.streamName(i, worker),
      source,
      ...(localAddress !== undefined ? { localAddress } : {}),
    });
    const startUs = monotonicUs();
    publisher.start(startUs);
    publisher.pump(startUs + seconds * 1e6 - 1);
    if (opts.dropEvery !== undefined && opts.dropEvery > 0 && i % opts.dropEvery === 0) publisher.conn.socket.destroy();
    else publisher.stop();
  });
}

/** 127.0.0.1 .. 127.0.0.N: loopback source addresses (Linux routes all of 127/8 to lo). */
export function loopbackAddresses(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`);
}
