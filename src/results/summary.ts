import {
  METRICS,
  summarize,
  type Histogram,
  type LatencySummary,
  type MetricName,
  type HistogramKey,
} from '../metrics/histograms.js';
import type { ProtocolKey, ViewerProtocol } from '../protocol/delivery.js';
import { VERSION } from '../version.js';
import type { ServerProfileRecord } from './server-profile.js';
import { COUNTER_NAMES, COUNTERS, setPath, type CounterFigures, type Counters } from './counters.js';
import { parseHttpErrorKey } from './failures.js';
import { costFigures } from './server-cost.js';
import type {
  BROWSER_FIGURES,
  EVENT_LOOP_FIGURES,
  FiguresOf,
  GENERATOR_FIGURES,
  SERVER_COST,
  SERVER_SYSCALLS,
  SERVER_DROPS,
  SERVER_FIGURES,
  SERVER_GC,
  SERVER_IO,
} from './figures.js';
import type { LeakFigures } from './leak.js';
import type { ShareRecord } from './share.js';
import type { Scenario } from './scenario.js';
import { round3 } from '../metrics/round.js';

/**
 * summary.json: the result of one run, what people, reports, comparisons and thresholds read.
 * Field names are a contract (see docs/results.md): new fields are added within schema
 * version 1; renaming or removing one bumps the version, and readers keep loading version 1.
 */
export const SUMMARY_SCHEMA_VERSION = 1;

/** Publishers' or players' session counts, as the counter table places them. */
export type SessionCounts = CounterFigures<'sessions.publishers'>;
export type PlayerCounts = CounterFigures<'sessions.players'>;

export interface ThresholdResult {
  expression: string;
  passed: boolean;
  /** The measured value, in the unit of the expression (ms for latencies, a count or a percentage). */
  actual: number | null;
  message: string;
  /** False when the result is reported only (a capacity search, which is expected to break). */
  enforced?: boolean;
}

/** Event-loop figures of one thread of the generator (perf_hooks): busy share, timer delay p99 and maximum. */
export type EventLoopFigures = FiguresOf<typeof EVENT_LOOP_FIGURES>;

/** One group of browser viewers (BROWSER_FIGURES), with its player and protocol. */
export type BrowserGroupFigures = FiguresOf<typeof BROWSER_FIGURES> & {
  player: 'hls.js' | 'mpegts.js';
  protocol: 'hls' | 'll-hls' | 'http-flv' | 'ws-flv';
  /** What went wrong in its pages (player errors, drains that failed), the first few. */
  errors?: string[];
};

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
  sessions: { publishers: SessionCounts; players: PlayerCounts; playerMinutes: number };
  throughput: CounterFigures<'throughput'> & { mbpsReceived: number; hlsRequestsPerViewerSecond?: number };
  latencyMs: Record<MetricName, LatencySummary>;
  /** Where end-to-end latency comes from: timing marks, or the RTMP timestamps' pacing (streams without marks). */
  latencySource: 'timing-marks' | 'rtmp-timestamps' | 'none';
  /** Frames of normal viewers; slow viewers' are counted apart (slow*). */
  frames: CounterFigures<'frames'> & {
    /** `send-logs` when every viewer's stream was published by this run; `none` otherwise (expected is then 0). */
    expectedSource?: 'send-logs' | 'none';
  };
  failures: Record<string, number>;
  /**
   * The generator's own figures (GENERATOR_FIGURES), its memory judged as the server's is, and its
   * event loops (the worst worker's at the top).
   */
  generator: FiguresOf<typeof GENERATOR_FIGURES> & {
    leak?: LeakFigures;
    eventLoop?: EventLoopFigures & { workers: (EventLoopFigures & { worker: number })[]; main: EventLoopFigures };
  };
  /**
   * The target server's process figures (SERVER_FIGURES), and the built-in server's own counts
   * from its /stats: frames its backpressure policy dropped, write calls and messages, garbage
   * collections, connections closed by reason; its leak verdict (docs/soak.md).
   */
  server?: FiguresOf<typeof SERVER_FIGURES> & {
    pid: number;
    drops?: FiguresOf<typeof SERVER_DROPS>;
    closedByReason?: Record<string, number>;
    io?: FiguresOf<typeof SERVER_IO>;
    gc?: FiguresOf<typeof SERVER_GC>;
    /** What the process cost, from the kernel's counters (docs/server-cost.md). */
    cost?: FiguresOf<typeof SERVER_COST>;
    /** Its system calls by kind, counted by perf's tracepoints (--server-syscalls; docs/server-cost.md). */
    syscalls?: FiguresOf<typeof SERVER_SYSCALLS>;
    leak?: LeakFigures;
  };
  /**
   * The viewers of each protocol apart (present when the run had viewers other than RTMP
   * players, or several kinds): the same figures as the top level, which covers all viewers.
   */
  byProtocol?: Partial<Record<ProtocolKey, ProtocolFigures>>;
  /** The scenario's named viewer groups apart (players.name, viewers[].name): their latencies, second by second too. */
  byGroup?: Record<string, GroupFigures>;
  /**
   * Browser viewers (real players in headless Chromium), by group: what the player itself
   * measured, beside the simulated viewers' figures (docs/browser-viewers.md).
   */
  browser?: Record<string, BrowserGroupFigures>;
  thresholds: ThresholdResult[];
  /** The hooks called around the run: their URL, HTTP status (0: no answer) and the file their answer is in. */
  hooks?: Partial<Record<'before' | 'after', { url: string; status: number; file: string }>>;
  /** A CPU profile of the server under test (`--profile-server`): its top functions and the files it is in. */
  serverProfile?: ServerProfileRecord;
  /** Results folders this one was merged from (`rtmpbench merge`). */
  mergedFrom?: string[];
  /** A share of a run spread over machines: which, of which run, on what clock, how late it began. */
  share?: ShareRecord;
  /** A merged run's shares, by index (their own `share`); `missingShares` when merged with --allow-partial. */
  shares?: ShareRecord[];
  missingShares?: { indexes: number[]; fractionOfPlayersPlanned: number };
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

/** One protocol's viewers: sessions, latencies, frames and throughput, as the top level has them for all. */
export interface ProtocolFigures {
  sessions: { players: PlayerCounts; playerMinutes: number };
  latencyMs: Record<MetricName, LatencySummary>;
  frames: RunSummary['frames'];
  throughput: Omit<RunSummary['throughput'], 'bytesSent' | 'publisherBytesReceived' | 'framesSent'>;
  /** HTTP error answers by status (HTTP viewers). */
  httpErrors?: Record<string, number>;
}

/** One named group of viewers: its latencies, and how they went while another group joined. */
export interface GroupFigures {
  protocol: ViewerProtocol;
  perStream: number;
  /** A group on its own schedule: when it started joining and how long it took, seconds from the run start. */
  startSec?: number;
  rampSec?: number;
  latencyMs: Record<MetricName, LatencySummary>;
  /** End-to-end p99 (ms) of each second of the run, from 1 (null: no frame of the group that second). */
  endToEndP99MsBySecond: (number | null)[];
  /**
   * For each other group with a start of its own: this group's end-to-end p99 over the 5 s
   * before that group started joining, the worst second's p99 while it joined (its start to
   * the end of its ramp, and one second more), and their ratio.
   */
  /**
   * `afterP99Ms`: their p99 over the 5 s after the joins (everyone in): the larger audience's cost,
   * the joining apart.
   */
  whileJoining?: Record<
    string,
    { beforeP99Ms: number | null; worstSecondP99Ms: number | null; ratio: number | null; afterP99Ms?: number | null }
  >;
}

/** Thresholds that failed and count toward the exit code. */
export function failedThresholds(s: Pick<RunSummary, 'thresholds'>): ThresholdResult[] {
  return s.thresholds.filter((t) => !t.passed && t.enforced !== false);
}

/** How a threshold result reads: passed, FAILED, or exceeded (reported, not enforced). */
export function thresholdWord(t: ThresholdResult): string {
  return t.passed ? 'passed' : t.enforced === false ? 'exceeded' : 'FAILED';
}

/** Above this event-loop utilisation, or delay p99, a generator thread is taken as saturated. */
const SATURATED_UTILIZATION = 0.9;
const SATURATED_DELAY_P99_MS = 10;

/** When the generator itself was the bottleneck: the sentence every report shows, else null. */
export function generatorSaturation(s: Pick<RunSummary, 'generator'>): string | null {
  const el = s.generator.eventLoop;
  if (el === undefined) return null;
  const busy = el.utilization > SATURATED_UTILIZATION;
  const late = el.delayP99Ms > SATURATED_DELAY_P99_MS;
  if (!busy && !late) return null;
  const why = [
    busy ? `event-loop utilisation ${el.utilization.toFixed(2)}` : '',
    late ? `timer delay p99 ${el.delayP99Ms.toFixed(1)} ms` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `the generator was saturated (${why}): latency figures include its own delay`;
}

/** Whether the frames of normal viewers add up: received + lost against what the send logs expected. */
export function frameAccounting(
  s: Pick<RunSummary, 'frames' | 'throughput'>,
): { expected: number; received: number; lost: number; closes: boolean } | null {
  const f = s.frames;
  if (f.expectedSource !== 'send-logs' || f.expected === undefined) return null;
  const received = s.throughput.framesReceived - (f.slowReceived ?? 0);
  return { expected: f.expected, received, lost: f.lost, closes: received + f.lost === f.expected };
}

export interface SummaryInput {
  scenario: Scenario;
  target: string;
  targetKind: 'builtin' | 'external';
  startedAt: Date;
  durationMs: number;
  counters: Counters;
  /** Whether `expected` counters come from send logs covering every viewer. */
  expectedSource: 'send-logs' | 'none';
  failures: Record<string, number>;
  histograms: Map<HistogramKey, Histogram>;
  generator: RunSummary['generator'];
  server?: RunSummary['server'];
}

/** Every counter where the counter table says it goes in a summary. */
function placed(c: Counters): Pick<RunSummary, 'sessions' | 'throughput' | 'frames'> {
  const out: Record<string, unknown> = {};
  for (const k of COUNTER_NAMES) {
    const path = COUNTERS[k].summary;
    if (path !== null) setPath(out, path, c[k]);
  }
  return out as unknown as Pick<RunSummary, 'sessions' | 'throughput' | 'frames'>;
}

/** Latency summaries of every metric, from histograms keyed `prefix + metric`. */
function latencies(histograms: ReadonlyMap<HistogramKey, Histogram>, prefix = ''): Record<MetricName, LatencySummary> {
  const out = {} as Record<MetricName, LatencySummary>;
  for (const m of METRICS) out[m] = summarize(histograms.get(`${prefix}${m}` as HistogramKey));
  return out;
}

/** The HTTP errors of one protocol's viewers ("404": n), from the run's errors by "protocol status". */
export function protocolHttpErrors(all: Readonly<Record<string, number>>, key: ProtocolKey): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(all)) {
    const e = parseHttpErrorKey(k);
    if (e?.protocol === key) out[e.status] = (out[e.status] ?? 0) + n;
  }
  return out;
}

/** One protocol's figures, from its counters and its histograms (`hls.endToEnd`...). */
export function protocolFigures(
  key: ProtocolKey,
  c: Counters,
  histograms: ReadonlyMap<HistogramKey, Histogram>,
  durationMs: number,
  expectedSource: 'send-logs' | 'none',
  httpErrors?: Record<string, number>,
): ProtocolFigures {
  const p = placed(c);
  const {
    bytesSent: _s,
    publisherBytesReceived: _r,
    framesSent: _f,
    ...throughput
  } = p.throughput as RunSummary['throughput'] & { segmentsFetched?: number };
  return {
    sessions: { players: p.sessions.players, playerMinutes: round3(c.playerSeconds / 60) },
    latencyMs: latencies(histograms, `${key}.`),
    frames: { ...p.frames, expectedSource },
    throughput: {
      ...throughput,
      mbpsReceived: round3((c.bytesReceived * 8) / (durationMs / 1000) / 1e6),
      ...hlsRequestRate(c),
    },
    ...(httpErrors !== undefined && Object.keys(httpErrors).length > 0 ? { httpErrors } : {}),
  };
}

/** HTTP requests per HLS viewer per second of play, when HLS viewers made any. */
export function hlsRequestRate(c: Counters): { hlsRequestsPerViewerSecond?: number } {
  return c.hlsRequests > 0 && c.playerSeconds > 0
    ? { hlsRequestsPerViewerSecond: round3(c.hlsRequests / c.playerSeconds) }
    : {};
}

export function buildSummary(i: SummaryInput): RunSummary {
  const measuredMs = Math.max(1, i.durationMs - i.scenario.warmupMs);
  const c = i.counters;
  const latencyMs = latencies(i.histograms);
  const p = placed(c);
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
    sessions: { ...p.sessions, playerMinutes: round3(c.playerSeconds / 60) },
    throughput: { ...p.throughput, mbpsReceived: round3((c.bytesReceived * 8) / (i.durationMs / 1000) / 1e6) },
    latencyMs,
    latencySource: c.framesReceived === 0 ? 'none' : c.markedFrames > 0 ? 'timing-marks' : 'rtmp-timestamps',
    frames: { ...p.frames, expectedSource: i.expectedSource },
    failures: i.failures,
    generator: i.generator,
    ...(i.server !== undefined ? { server: withServerCost(i.server, c) } : {}),
    thresholds: [],
  };
}

/**
 * The server's figures with its cost per viewer: CPU per 1000 player-minutes when players played,
 * and the kernel's cost figures made from their counts (server-cost.ts).
 */
function withServerCost(server: NonNullable<RunSummary['server']>, c: Counters): NonNullable<RunSummary['server']> {
  const playerMinutes = c.playerSeconds / 60;
  return {
    ...server,
    ...(playerMinutes > 0 ? { cpuPer1000PlayerMinutes: round3(server.cpuSeconds / (playerMinutes / 1000)) } : {}),
    ...(server.cost !== undefined
      ? {
          cost: costFigures(
            server.cost,
            {
              messages: c.framesReceived + c.audioFramesReceived,
              bytes: c.bytesReceived,
              seconds: c.playerSeconds,
            },
            server.syscalls,
          ),
        }
      : {}),
  };
}

export function sumFailures(all: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of all) for (const [k, v] of Object.entries(f)) out[k] = (out[k] ?? 0) + v;
  return out;
}
