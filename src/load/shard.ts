import { BufferPool } from '../buffers/buffer-pool.js';
import { ClientError, type StatusEvent } from '../client/connection.js';
import { Player, type VideoObservation } from '../client/player.js';
import { Publisher } from '../client/publisher.js';
import { parseRtmpUrl, type RtmpUrl } from '../client/url.js';
import { FlvFileSource } from '../media/flv-source.js';
import type { MediaSource } from '../media/source.js';
import { SyntheticSource } from '../media/synthetic.js';
import { monotonicUs } from '../media/timing-mark.js';
import { Recorder, type EncodedHistograms } from '../metrics/histograms.js';
import { DueHeap } from './due-heap.js';
import type { Scenario } from './scenario.js';

/** One player the shard runs: which stream, and when it is connected. */
export interface PlayerPlan {
  stream: number;
  slow: boolean;
  /** [startMs, stopMs] windows from the run start; stopMs null is "until the end". */
  windows: [number, number | null][];
}

/** A worker's whole share of a run. */
export interface ShardTask {
  shard: number;
  shards: number;
  url: string;
  insecure: boolean;
  streamNames: string[];
  /** Streams this shard publishes (indexes into streamNames). */
  publish: number[];
  players: PlayerPlan[];
  /** This shard's share of the churn rate. */
  churnJoinsPerSecond: number;
  churnMeanSessionMs: number;
  media: Scenario['media'];
  slowReadKbps: number;
  durationMs: number;
  warmupMs: number;
  stallThresholdMs: number;
  /** Run start on the monotonic µs clock (the same in every thread). */
  startAtUs: number;
  tickMs: number;
}

export interface SessionCounts {
  planned: number;
  connected: number;
  failed: number;
}

export interface ShardCounters {
  publishers: SessionCounts;
  players: SessionCounts;
  /** Bytes on the wire: publishers' sockets written, players' sockets read (headers included). */
  bytesSent: number;
  bytesReceived: number;
  /** Audio/video payload bytes players received. */
  mediaBytesReceived: number;
  /** Bytes the other way: what players wrote (commands, acks) and publishers read (replies). */
  playerBytesSent: number;
  publisherBytesReceived: number;
  framesSent: number;
  framesReceived: number;
  audioFramesReceived: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  stalls: number;
  /** Frames lost and stalls of slow viewers (kept apart: losing frames is what they are for). */
  slowLost: number;
  slowStalls: number;
  /** End-of-publication notices players saw (a publisher that stopped). */
  publisherStops: number;
  /** Video frames that carried a timing mark. */
  markedFrames: number;
  /** Time players spent connected and playing, summed over players (the unit of server cost). */
  playerSeconds: number;
}

export interface ShardTick {
  shard: number;
  /** Seconds since the run start (end of the interval). */
  tSec: number;
  publishersUp: number;
  playersUp: number;
  counters: ShardCounters;
  failures: Record<string, number>;
  intervals: EncodedHistograms;
}

export interface ShardResult {
  shard: number;
  histograms: EncodedHistograms;
  counters: ShardCounters;
  failures: Record<string, number>;
}

export function newCounters(): ShardCounters {
  const s = (): SessionCounts => ({ planned: 0, connected: 0, failed: 0 });
  return {
    publishers: s(),
    players: s(),
    bytesSent: 0,
    bytesReceived: 0,
    mediaBytesReceived: 0,
    playerBytesSent: 0,
    publisherBytesReceived: 0,
    framesSent: 0,
    framesReceived: 0,
    audioFramesReceived: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    stalls: 0,
    slowLost: 0,
    slowStalls: 0,
    publisherStops: 0,
    markedFrames: 0,
    playerSeconds: 0,
  };
}

export function makeSource(media: Scenario['media']): MediaSource {
  if (media.source === 'synthetic') {
    return new SyntheticSource({ videoBitrate: media.videoBitrate, audioBitrate: media.audioBitrate, fps: media.fps, gopSeconds: media.gopMs / 1000, codec: media.codec });
  }
  return new FlvFileSource(media.source);
}

/** Publishers send frames due within this much of now: the timer's resolution is 1 ms. */
const PACING_LOOKAHEAD_US = 1000;

/** Time players get to receive frames in flight, and the server to take the publishers' goodbyes. */
const DRAIN_MS = 300;

const sleepUntilUs = (us: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, (us - monotonicUs()) / 1000)));

/** Reads a slow player's socket through a token bucket, so the server's backpressure is exercised. */
class SlowReaders {
  private readonly buckets = new Map<Player, { tokens: number; paused: boolean }>();
  private timer: NodeJS.Timeout | null = null;
  private readonly bytesPerTick: number;
  private static readonly TICK_MS = 50;

  constructor(kbps: number) {
    this.bytesPerTick = (kbps * 1000) / 8 / (1000 / SlowReaders.TICK_MS);
  }

  add(p: Player): void {
    const b = { tokens: this.bytesPerTick, paused: false };
    this.buckets.set(p, b);
    p.conn.onRead = (n) => {
      b.tokens -= n;
      if (b.tokens < 0 && !b.paused) {
        b.paused = true;
        p.conn.socket.pause();
      }
    };
    this.timer ??= setInterval(() => this.refill(), SlowReaders.TICK_MS);
  }

  remove(p: Player): void {
    this.buckets.delete(p);
  }

  private refill(): void {
    for (const [p, b] of this.buckets) {
      b.tokens = Math.min(b.tokens + this.bytesPerTick, this.bytesPerTick * 5);
      if (b.paused && b.tokens > 0) {
        b.paused = false;
        p.conn.socket.resume();
      }
    }
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }
}

/**
 * Runs one worker's share of a run: its publishers (paced by one timer), its players (opened
 * and closed on their schedule, plus churn), recording every measurement; ticks report
 * progress each `tickMs`; the result carries the cumulative histograms.
 */
export async function runShard(task: ShardTask, onTick: (t: ShardTick) => void, stopped?: Promise<number>): Promise<ShardResult> {
  const url: RtmpUrl = parseRtmpUrl(task.url);
  const rec = new Recorder();
  const counters = newCounters();
  const failures: Record<string, number> = {};
  const fail = (what: string, reason: string) => {
    const key = `${what}: ${reason}`;
    failures[key] = (failures[key] ?? 0) + 1;
  };
  const start = task.startAtUs;
  // One read buffer for every player socket of this thread: reads are handled one at a time.
  const sharedReadBuffer = Buffer.allocUnsafe(64 * 1024);
  // Wire buffers of published frames, reused once the socket has written them.
  const framePool = new BufferPool({ maxHeldBytes: 32 * 1024 * 1024 });
  let endUs = start + task.durationMs * 1000;
  const warmupEndUs = start + task.warmupMs * 1000;
  const measuring = () => monotonicUs() >= warmupEndUs;
  const record = (metric: Parameters<Recorder['record']>[0], us: number) => {
    if (measuring()) rec.record(metric, us);
  };
  const publishers: Publisher[] = [];
  const players = new Set<Player>();
  const slow = new SlowReaders(task.slowReadKbps);
  const timers: NodeJS.Timeout[] = [];
  let ended = false;
  const closedPlayerCounters: Player['counters'][] = [];
  const slowCounters = new WeakSet<Player['counters']>();
  /** When each open player started playing; time played by closed ones (player-seconds). */
  const upSince = new Map<Player, number>();
  let closedPlayerUs = 0;
  /** Wire bytes (chunk headers included) of players that have closed. */
  let closedPlayerBytesRead = 0;
  let closedPlayerBytesWritten = 0;

  await sleepUntilUs(start);

  // Publishers: open, then start all schedules at once.
  const streamCodec = task.media.source === 'synthetic' ? task.media.codec : null;
  let sourceCodec: 'avc' | 'hevc' = streamCodec ?? 'avc';
  await Promise.all(
    task.publish.map(async (s) => {
      counters.publishers.planned++;
      try {
        const source = makeSource(task.media);
        sourceCodec = source.codec;
        const p = await Publisher.open({ url, streamName: task.streamNames[s]!, source, insecure: task.insecure, chunkSize: task.media.chunkSize, framePool });
        // Deviation from the schedule, early (within the lookahead) or late.
        p.onPacing = (intended, sent) => record('pacing', Math.abs(sent - intended));
        p.conn.onClose = (reason) => {
          if (!ended && reason !== 'local') fail('publisher dropped', reason.split(':')[0]!);
        };
        record('connect', p.conn.timings.tcpConnectUs);
        record('handshake', p.conn.timings.handshakeUs);
        counters.publishers.connected++;
        publishers.push(p);
      } catch (e) {
        counters.publishers.failed++;
        fail('publisher', e instanceof ClientError ? e.reason : (e as Error).message);
      }
    }),
  );
  // Independent encoders do not share keyframe instants: spread the publishers' schedules
  // over one GOP, so keyframes (about ten P-frames each) do not all leave at once.
  const pubStart = monotonicUs();
  publishers.forEach((p, k) => p.start(pubStart + ((k * task.media.gopMs) / Math.max(1, publishers.length)) * 1000));
  // One timer drives every publisher: a heap by next due time; frames due within the
  // timer's resolution (1 ms) go now rather than a millisecond late.
  let pacer: NodeJS.Timeout | null = null;
  const heap = new DueHeap<Publisher>();
  for (const p of publishers) heap.push(p);
  const pace = () => {
    const horizon = monotonicUs() + PACING_LOOKAHEAD_US;
    const again: Publisher[] = [];
    for (let p = heap.popDue(horizon); p !== undefined; p = heap.popDue(horizon)) {
      p.pump(horizon);
      if (!p.closed) again.push(p);
    }
    for (const p of again) heap.push(p);
    if (ended || heap.size === 0) return;
    const waitMs = Math.min(50, Math.max(0, (heap.nextUs - PACING_LOOKAHEAD_US - monotonicUs()) / 1000));
    pacer = setTimeout(pace, waitMs);
  };
  if (publishers.length > 0) pace();

  // Players.
  const openPlayer = async (streamIndex: number, isSlow: boolean, stopAtUs: number | null) => {
    counters.players.planned++;
    const started = monotonicUs();
    let lastArrivalUs = 0;
    let minOffsetUs = Infinity;
    // Frames can arrive with Play.Start, before open() resolves: keep the first arrivals until
    // the time play was sent is known.
    let playSentUs = 0;
    let firstFrameAt = 0;
    let firstKeyframeAt = 0;
    const firstFrames = () => {
      if (playSentUs === 0) return;
      if (firstFrameAt > 0) {
        record('firstFrame', firstFrameAt - playSentUs);
        firstFrameAt = -1;
      }
      if (firstKeyframeAt > 0) {
        record('firstKeyframe', firstKeyframeAt - playSentUs);
        firstKeyframeAt = -1;
      }
    };
    const onVideo = (v: VideoObservation) => {
      if (firstFrameAt === 0) firstFrameAt = v.arrivalUs;
      if (firstKeyframeAt === 0 && v.keyframe) firstKeyframeAt = v.arrivalUs;
      firstFrames();
      if (v.mark !== null) {
        counters.markedFrames++;
        // Frames sent before this player connected (the GOP cache) arrive late by design:
        // they are counted, and time to first frame covers them, but latency is of live frames.
        if (v.mark.intendedUs >= started) record(isSlow ? 'slowEndToEnd' : 'endToEnd', v.arrivalUs - v.mark.intendedUs);
      } else {
        // No marks (a stream someone else publishes): each frame's arrival against its RTMP
        // timestamp, relative to the fastest frame so far.
        const offset = v.arrivalUs - v.timestampMs * 1000;
        if (offset < minOffsetUs) minOffsetUs = offset;
        record(isSlow ? 'slowEndToEnd' : 'endToEnd', offset - minOffsetUs);
      }
      if (lastArrivalUs !== 0) {
        const gap = v.arrivalUs - lastArrivalUs;
        if (isSlow) {
          if (gap > task.stallThresholdMs * 1000 && measuring()) counters.slowStalls++;
        } else {
          record('gap', gap);
          if (gap > task.stallThresholdMs * 1000 && measuring()) counters.stalls++;
        }
      }
      lastArrivalUs = v.arrivalUs;
    };
    const onStatus = (s: StatusEvent) => {
      if (ended || monotonicUs() >= endUs) return; // the run's own publishers stopping at the end
      if (s.code === 'NetStream.Play.UnpublishNotify' || s.code === 'NetStream.Play.Stop') counters.publisherStops++;
    };
    let player: Player;
    try {
      player = await Player.open({ url, streamName: task.streamNames[streamIndex]!, insecure: task.insecure, codec: sourceCodec, onVideo, onStatus, sharedReadBuffer });
    } catch (e) {
      counters.players.failed++;
      fail('player', e instanceof ClientError ? e.reason : (e as Error).message);
      return;
    }
    if (ended) {
      player.close();
      return;
    }
    counters.players.connected++;
    players.add(player);
    upSince.set(player, monotonicUs());
    const t = player.conn.timings;
    record('connect', t.tcpConnectUs);
    record('handshake', t.handshakeUs);
    record('playStart', player.playStartUs - started);
    playSentUs = player.playSentUs;
    firstFrames();
    if (isSlow) {
      slow.add(player);
      slowCounters.add(player.counters);
    }
    player.conn.onClose = (reason) => {
      if (players.delete(player)) {
        closedPlayerUs += monotonicUs() - (upSince.get(player) ?? monotonicUs());
        upSince.delete(player);
        closedPlayerCounters.push(player.counters);
        closedPlayerBytesRead += player.conn.socket.bytesRead;
        closedPlayerBytesWritten += player.conn.socket.bytesWritten;
      }
      slow.remove(player);
      if (!ended && reason !== 'local') fail('player dropped', reason.split(':')[0]!);
    };
    if (stopAtUs !== null) {
      const t2 = setTimeout(() => player.close(), Math.max(0, (stopAtUs - monotonicUs()) / 1000));
      timers.push(t2);
    }
  };

  for (const plan of task.players) {
    for (const [a, b] of plan.windows) {
      const at = start + a * 1000;
      const stopAt = b === null ? null : start + b * 1000;
      if (at >= endUs) continue;
      timers.push(setTimeout(() => void openPlayer(plan.stream, plan.slow, stopAt), Math.max(0, (at - monotonicUs()) / 1000)));
    }
  }

  // Churn: Poisson joins, exponential stays.
  if (task.churnJoinsPerSecond > 0) {
    let churnStream = task.shard;
    const scheduleJoin = () => {
      const waitMs = (-Math.log(1 - Math.random()) / task.churnJoinsPerSecond) * 1000;
      timers.push(
        setTimeout(() => {
          if (ended) return;
          const stayMs = -Math.log(1 - Math.random()) * task.churnMeanSessionMs;
          void openPlayer(churnStream++ % task.streamNames.length, false, monotonicUs() + stayMs * 1000);
          scheduleJoin();
        }, waitMs),
      );
    };
    scheduleJoin();
  }

  // Progress ticks.
  const snapshot = (): ShardCounters => {
    const c: ShardCounters = { ...counters, publishers: { ...counters.publishers }, players: { ...counters.players } };
    for (const p of publishers) {
      c.bytesSent += p.conn.socket.bytesWritten;
      c.publisherBytesReceived += p.conn.socket.bytesRead;
      c.framesSent += p.counters.videoFrames;
    }
    const now = monotonicUs();
    let us = closedPlayerUs;
    for (const since of upSince.values()) us += now - since;
    c.playerSeconds = Math.round(us / 1000) / 1000;
    c.bytesReceived = closedPlayerBytesRead;
    c.playerBytesSent = closedPlayerBytesWritten;
    for (const p of players) {
      c.bytesReceived += p.conn.socket.bytesRead;
      c.playerBytesSent += p.conn.socket.bytesWritten;
    }
    for (const pc of [...[...players].map((p) => p.counters), ...closedPlayerCounters]) {
      c.mediaBytesReceived += pc.mediaBytes;
      c.framesReceived += pc.videoFrames;
      c.audioFramesReceived += pc.audioFrames;
      if (slowCounters.has(pc)) c.slowLost += pc.lost;
      else c.lost += pc.lost;
      c.duplicated += pc.duplicated;
      c.outOfOrder += pc.outOfOrder;
    }
    return c;
  };
  const tick = setInterval(() => {
    onTick({
      shard: task.shard,
      tSec: (monotonicUs() - start) / 1e6,
      publishersUp: publishers.filter((p) => !p.closed).length,
      playersUp: players.size,
      counters: snapshot(),
      failures: { ...failures },
      intervals: rec.takeInterval(),
    });
  }, task.tickMs);

  // An early stop (a capacity search that broke) names a common end time so every worker's
  // publishers and players end together.
  const stopAtUs = await Promise.race([sleepUntilUs(endUs).then(() => null), stopped ?? new Promise<never>(() => {})]);
  if (stopAtUs !== null && stopAtUs < endUs) {
    endUs = stopAtUs;
    await sleepUntilUs(endUs);
  }
  const endedAtUs = endUs;
  // End: no new frames; let players take the frames in flight; then close everything and
  // count bytes once every socket is done.
  if (pacer !== null) clearTimeout(pacer);
  for (const t of timers) {
    clearTimeout(t);
    clearInterval(t);
  }
  slow.stop();
  for (const p of players) p.conn.socket.resume();
  await new Promise((r) => setTimeout(r, DRAIN_MS));
  ended = true;
  clearInterval(tick);
  for (const p of publishers) p.stop();
  await new Promise((r) => setTimeout(r, DRAIN_MS));
  for (const p of [...players]) p.close();
  await new Promise((r) => setTimeout(r, 50));
  const final = snapshot();
  // The last interval, so the time series covers the whole run.
  onTick({ shard: task.shard, tSec: (endedAtUs - start) / 1e6, publishersUp: 0, playersUp: 0, counters: final, failures: { ...failures }, intervals: rec.takeInterval() });
  return { shard: task.shard, histograms: rec.encodeTotal(), counters: final, failures };
}
