import { VERSION } from '../version.js';
import { METRICS, summarize, type Histogram, type LatencySummary, type MetricName } from '../metrics/histograms.js';
import type { Scenario } from './scenario.js';
import { newCounters, type SessionCounts, type ShardCounters } from './shard.js';

/** Version of the summary.json layout; bumped when a field changes meaning or goes away. */
export const SUMMARY_SCHEMA_VERSION = 1;

export interface ThresholdResult {
  expression: string;
  passed: boolean;
  /** The measured value, in the unit of the expression (ms for latencies, a count or a percentage). */
  actual: number | null;
  message: string;
  /** False when the result is reported only (a capacity search, which is expected to break). */
  enforced?: boolean;
}

/** Thresholds that failed and count toward the exit code. */
export function failedThresholds(s: Pick<RunSummary, 'thresholds'>): ThresholdResult[] {
  return s.thresholds.filter((t) => !t.passed && t.enforced !== false);
}

/** How a threshold result reads: passed, FAILED, or exceeded (reported, not enforced). */
export function thresholdWord(t: ThresholdResult): string {
  return t.passed ? 'passed' : t.enforced === false ? 'exceeded' : 'FAILED';
}

/** The result of one run, as written to results/<run>/summary.json. */
export interface RunSummary {
  schemaVersion: number;
  tool: { name: 'rtmpbench'; version: string };
  name: string;
  startedAt: string;
  /** The URL the sessions used. */
  target: string;
  targetKind: 'builtin' | 'external';
  scenario: Scenario;
  durationMs: number;
  /** Part of the run the statistics cover (after warm-up). */
  measuredMs: number;
  sessions: { publishers: SessionCounts; players: SessionCounts; playerMinutes: number };
  /** The byte and frame counters of every shard, summed (see ShardCounters), and the received rate. */
  throughput: Pick<ShardCounters, 'bytesSent' | 'bytesReceived' | 'mediaBytesReceived' | 'playerBytesSent' | 'publisherBytesReceived' | 'framesSent' | 'framesReceived' | 'audioFramesReceived'> & {
    mbpsReceived: number;
  };
  latencyMs: Record<MetricName, LatencySummary>;
  /** Where end-to-end latency comes from: timing marks, or the RTMP timestamps' pacing (streams without marks). */
  latencySource: 'timing-marks' | 'rtmp-timestamps' | 'none';
  /** Frames of normal players; slow viewers' losses and stalls are counted apart (slowLost, slowStalls). */
  frames: { lost: number; duplicated: number; outOfOrder: number; stalls: number; slowLost: number; slowStalls: number; publisherStops: number };
  failures: Record<string, number>;
  generator: { cpuSeconds: number; maxRssBytes: number; workers: number };
  server?: {
    cpuSeconds: number;
    maxRssBytes: number;
    pid: number;
    /** The built-in server's own counts: frames its backpressure policy dropped, connections closed by reason. */
    drops?: { video: number; audio: number; data: number; bytes: number };
    closedByReason?: Record<string, number>;
    /**
     * Write calls and messages handed to sockets (writes per message: 1 when each message is its
     * own write); bytes received, and those read into buffers allocated for the read (0 with shared reads).
     */
    io?: { writes: number; messages: number; readAllocatedBytes?: number; bytesIn?: number };
    /** Garbage collections of the server process during the run (and before: the server's lifetime). */
    gc?: { minor: number; major: number; incremental: number; ms: number };
  };
  thresholds: ThresholdResult[];
  /** Results folders this one was merged from (`rtmpbench merge`). */
  mergedFrom?: string[];
  /** Capacity search: the most players (in all) for which every threshold held, second by second. */
  capacity?: {
    highestPassingPlayers: number;
    broken: boolean;
    /** Seconds into the run when the thresholds started failing for good, and how many players were up. */
    brokeAtSec?: number;
    playersAtBreak?: number;
    brokenBy?: string[];
  };
}

export function sumCounters(all: readonly ShardCounters[]): ShardCounters {
  const out = newCounters();
  for (const c of all) {
    for (const k of ['planned', 'connected', 'failed'] as const) {
      out.publishers[k] += c.publishers[k];
      out.players[k] += c.players[k];
    }
    out.bytesSent += c.bytesSent;
    out.bytesReceived += c.bytesReceived;
    out.mediaBytesReceived += c.mediaBytesReceived;
    out.playerBytesSent += c.playerBytesSent;
    out.publisherBytesReceived += c.publisherBytesReceived;
    out.framesSent += c.framesSent;
    out.framesReceived += c.framesReceived;
    out.audioFramesReceived += c.audioFramesReceived;
    out.lost += c.lost;
    out.duplicated += c.duplicated;
    out.outOfOrder += c.outOfOrder;
    out.stalls += c.stalls;
    out.slowLost += c.slowLost;
    out.slowStalls += c.slowStalls;
    out.publisherStops += c.publisherStops;
    out.markedFrames += c.markedFrames;
    out.playerSeconds += c.playerSeconds;
  }
  return out;
}

export function sumFailures(all: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of all) for (const [k, v] of Object.entries(f)) out[k] = (out[k] ?? 0) + v;
  return out;
}

export interface SummaryInput {
  scenario: Scenario;
  target: string;
  targetKind: 'builtin' | 'external';
  startedAt: Date;
  durationMs: number;
  counters: ShardCounters;
  failures: Record<string, number>;
  histograms: Map<MetricName, Histogram>;
  generator: RunSummary['generator'];
  server?: RunSummary['server'];
}

export function buildSummary(i: SummaryInput): RunSummary {
  const measuredMs = Math.max(1, i.durationMs - i.scenario.warmupMs);
  const c = i.counters;
  const latencyMs = {} as Record<MetricName, LatencySummary>;
  for (const m of METRICS) {
    latencyMs[m] = summarize(i.histograms.get(m));
  }
  const latencySource = c.framesReceived === 0 ? 'none' : c.markedFrames > 0 ? 'timing-marks' : 'rtmp-timestamps';
  return {
    schemaVersion: SUMMARY_SCHEMA_VERSION,
    tool: { name: 'rtmpbench', version: VERSION },
    name: i.scenario.name,
    startedAt: i.startedAt.toISOString(),
    target: i.target,
    targetKind: i.targetKind,
    scenario: i.scenario,
    durationMs: i.durationMs,
    measuredMs,
    sessions: { publishers: c.publishers, players: c.players, playerMinutes: Math.round((c.playerSeconds / 60) * 1000) / 1000 },
    throughput: {
      bytesSent: c.bytesSent,
      bytesReceived: c.bytesReceived,
      mediaBytesReceived: c.mediaBytesReceived,
      playerBytesSent: c.playerBytesSent,
      publisherBytesReceived: c.publisherBytesReceived,
      framesSent: c.framesSent,
      framesReceived: c.framesReceived,
      audioFramesReceived: c.audioFramesReceived,
      mbpsReceived: Math.round(((c.bytesReceived * 8) / (i.durationMs / 1000) / 1e6) * 1000) / 1000,
    },
    latencyMs,
    latencySource,
    frames: { lost: c.lost, duplicated: c.duplicated, outOfOrder: c.outOfOrder, stalls: c.stalls, slowLost: c.slowLost, slowStalls: c.slowStalls, publisherStops: c.publisherStops },
    failures: i.failures,
    generator: i.generator,
    ...(i.server !== undefined ? { server: i.server } : {}),
    thresholds: [],
  };
}
