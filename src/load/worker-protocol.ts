import type { EncodedHistograms } from '../metrics/histograms.js';
import type { EventLoopSample } from '../metrics/event-loop.js';
import type { Counters } from '../results/counters.js';
import type { ProtocolKey, ViewerProtocol } from '../protocol/delivery.js';
import type { Scenario } from '../results/scenario.js';

/**
 * What the orchestrator and its shard workers say to each other: the task a worker runs (its
 * share of a run), the messages it sends while it runs (one tick per second of the run, then a
 * final one), the message it may receive (an early stop), and the result it returns. Messages
 * are a discriminated union, checked on receipt.
 */

/** One viewer the shard runs: which stream, which group (protocol and URL), and when it is connected. */
export interface PlayerPlan {
  stream: number;
  /** Index into the task's groups (0: the scenario's players). */
  group: number;
  slow: boolean;
  /** [startMs, stopMs] windows from the run start; stopMs null is "until the end". */
  windows: [number, number | null][];
}

/** What a worker takes of the scenario as resolved: these fields, with their names and meaning. */
const SCENARIO_PART = [
  'insecure',
  'streamNames',
  'media',
  'durationMs',
  'warmupMs',
  'stallThresholdMs',
  'restart',
] as const;
export type ShardScenario = Pick<Scenario, (typeof SCENARIO_PART)[number]>;

/** The worker's part of a scenario (a plain copy of its fields, for the task message). */
export function shardScenario(s: Scenario): ShardScenario {
  const part: Partial<Record<keyof ShardScenario, unknown>> = {};
  for (const k of SCENARIO_PART) if (s[k] !== undefined) part[k] = s[k];
  return part as ShardScenario;
}

/** A worker's whole share of a run. */
export interface ShardTask extends ShardScenario {
  shard: number;
  shards: number;
  url: string;
  /** Streams this shard publishes (indexes into streamNames). */
  publish: number[];
  players: PlayerPlan[];
  /** Viewer groups: how each plays, and its URL with only {stream} left to fill in. */
  groups: ViewerGroupTask[];
  /** This shard's share of the churn rate (churning viewers belong to the first group). */
  churn: Scenario['churn'];
  slowReadKbps: Scenario['players']['slowReadKbps'];
  /** A viewer with no video this long after play was sent is failed (`no-video`): the scenario's, or its default. */
  firstVideoWithinMs: number;
  /** Run start on the monotonic µs clock (the same in every thread). */
  startAtUs: number;
  tickMs: number;
  /** The host's offset to a distributed run's reference clock, µs (0 on one host): see ClockMessage. */
  clockOffsetUs: number;
  /** Source addresses sessions connect from, round-robin (the scenario's, expanded); absent: the host chooses. */
  sourceAddresses?: string[];
  /** Where in `sourceAddresses` this shard's first session starts, so the shards together deal them evenly. */
  sourceAddressOffset?: number;
}

export interface ViewerGroupTask {
  protocol: ViewerProtocol;
  /** URL with {stream} still to fill in; empty for RTMP viewers of the target's own app. */
  url: string;
  /** Its latencies are also recorded under this name (`NAME.endToEnd`...). */
  name?: string;
}

/** Video frames one publisher sent during one tick: what frame accounting needs. */
export interface SendLogChunk {
  stream: number;
  /** Publications of the stream by this run, from 0 (a republished stream starts a new epoch). */
  epoch: number;
  /** Sequence number of the first frame in `sentMs`. */
  firstSeq: number;
  /**
   * When each frame left as latency counts it (its intended send time, or its actual one when
   * earlier), ms since the run start.
   */
  sentMs: number[];
  /** Sequence numbers of the keyframes among them. */
  keyframes: number[];
}

/** A viewer that ended, with what frame accounting needs to say what it should have received. */
export interface ViewerRecord {
  stream: number;
  epoch: number;
  protocol: ProtocolKey;
  slow: boolean;
  /** Sequence number of the first marked frame received, or -1 when no marked video came. */
  firstSeq: number;
  lastSeq: number;
  /** When play was sent and when the viewer ended, ms since the run start. */
  playSentMs: number;
  leftMs: number;
  /** End-to-end latency of the last frame received (ms): frames sent within it before the end were still in flight. */
  lastLatencyMs: number;
  /** When its last video frame arrived, ms since the run start (-1 before any; HLS: when shown, unused). */
  lastFrameMs: number;
  /** Ended with the run, after the publishers stopped: every frame they sent was due. */
  atEnd: boolean;
  /**
   * Due until its last frame only (HLS): a frame is due once its segment is listed, and the
   * viewer fetches what is listed; the frames after its last one were in segments not yet out.
   */
  dueUntilLastFrame: boolean;
  /** The viewer was playing when this publication began: every frame of it was due, from 0. */
  followed: boolean;
}

export interface TickMessage {
  kind: 'tick';
  shard: number;
  /** The second of the run this tick measures (1 = the first second); the final tick follows the last. */
  sec: number;
  final: boolean;
  /** Length of the interval measured (1000 except, usually, for the final tick). */
  intervalMs: number;
  publishersUp: number;
  playersUp: number;
  /** Viewers up, by protocol (the protocols this worker has viewers of). */
  playersUpByProtocol: Partial<Record<ProtocolKey, number>>;
  /** Counted during the interval, for the run and for each viewer protocol. */
  counters: Counters;
  byProtocol: Partial<Record<ProtocolKey, Counters>>;
  failures: Record<string, number>;
  /** HTTP error answers viewers got, by "protocol status" (hls 404). */
  httpErrors: Record<string, number>;
  intervals: EncodedHistograms;
  eventLoop: EventLoopSample;
  sends: SendLogChunk[];
  viewersEnded: ViewerRecord[];
}

export type WorkerMessage = TickMessage;

/** The orchestrator ends the run early (a capacity search that broke): every worker stops at `atUs`. */
export interface StopMessage {
  kind: 'stop';
  atUs: number;
}

/**
 * The host's offset to a distributed run's reference clock, measured again (µs, reference −
 * this host's monotonic): marks are written and read on the reference clock (timing-mark.ts).
 */
export interface ClockMessage {
  kind: 'clock';
  offsetUs: number;
}

export type OrchestratorMessage = StopMessage | ClockMessage;

export interface ShardResult {
  shard: number;
  histograms: EncodedHistograms;
  counters: Counters;
  byProtocol: Partial<Record<ProtocolKey, Counters>>;
  failures: Record<string, number>;
  httpErrors: Record<string, number>;
  /** The worker's event loop over the whole run. */
  eventLoop: EventLoopSample;
  /** How late the worker began against the run's start, µs. */
  lateUs: number;
}

const isObject = (m: unknown): m is Record<string, unknown> => typeof m === 'object' && m !== null;

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return (
    isObject(m) &&
    m.kind === 'tick' &&
    typeof m.shard === 'number' &&
    typeof m.sec === 'number' &&
    isObject(m.counters) &&
    Array.isArray(m.sends) &&
    Array.isArray(m.viewersEnded)
  );
}

export function isOrchestratorMessage(m: unknown): m is OrchestratorMessage {
  if (!isObject(m)) return false;
  return (
    (m.kind === 'stop' && typeof m.atUs === 'number') ||
    (m.kind === 'clock' && typeof m.offsetUs === 'number' && Number.isFinite(m.offsetUs))
  );
}
