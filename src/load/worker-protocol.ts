import type { EncodedHistograms } from '../metrics/histograms.js';
import type { EventLoopSample } from '../metrics/event-loop.js';
import type { Counters } from '../results/counters.js';
import type { Scenario } from '../results/scenario.js';

/**
 * What the orchestrator and its shard workers say to each other: the task a worker runs (its
 * share of a run), the messages it sends while it runs (one tick per second of the run, then a
 * final one), the message it may receive (an early stop), and the result it returns. Messages
 * are a discriminated union, checked on receipt.
 */

/** One viewer the shard runs: which stream, and when it is connected. */
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
  /** A viewer with no video this long after play was sent is failed (`no-video`). */
  firstVideoWithinMs: number;
  /** Run start on the monotonic µs clock (the same in every thread). */
  startAtUs: number;
  tickMs: number;
}

/** Video frames one publisher sent during one tick: what frame accounting needs. */
export interface SendLogChunk {
  stream: number;
  /** Publications of the stream by this run, from 0 (a republished stream starts a new epoch). */
  epoch: number;
  /** Sequence number of the first frame in `sentMs`. */
  firstSeq: number;
  /** When each frame left as latency counts it (its intended send time, or its actual one when earlier), ms since the run start. */
  sentMs: number[];
  /** Sequence numbers of the keyframes among them. */
  keyframes: number[];
}

/** A viewer that ended, with what frame accounting needs to say what it should have received. */
export interface ViewerRecord {
  stream: number;
  epoch: number;
  slow: boolean;
  /** Sequence number of the first marked frame received, or -1 when no marked video came. */
  firstSeq: number;
  lastSeq: number;
  /** When play was sent and when the viewer ended, ms since the run start. */
  playSentMs: number;
  leftMs: number;
  /** End-to-end latency of the last frame received (ms): frames sent within it before the end were still in flight. */
  lastLatencyMs: number;
  /** Ended with the run, after the publishers stopped: every frame they sent was due. */
  atEnd: boolean;
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
  /** Counted during the interval. */
  counters: Counters;
  failures: Record<string, number>;
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

export type OrchestratorMessage = StopMessage;

export interface ShardResult {
  shard: number;
  histograms: EncodedHistograms;
  counters: Counters;
  failures: Record<string, number>;
  /** The worker's event loop over the whole run. */
  eventLoop: EventLoopSample;
}

const isObject = (m: unknown): m is Record<string, unknown> => typeof m === 'object' && m !== null;

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return isObject(m) && m.kind === 'tick' && typeof m.shard === 'number' && typeof m.sec === 'number' && isObject(m.counters) && Array.isArray(m.sends) && Array.isArray(m.viewersEnded);
}

export function isOrchestratorMessage(m: unknown): m is OrchestratorMessage {
  return isObject(m) && m.kind === 'stop' && typeof m.atUs === 'number';
}
