import { z } from 'zod';
import { formatDurationMs, parseBitrate, parseDurationMs } from '../units.js';
import { parseThreshold } from './thresholds.js';

/**
 * A load scenario: what to run, against what, for how long, and what must hold. Scenario
 * files (YAML) and `rtmpbench run` flags both produce this shape; one schema validates both
 * and lists every problem with its path before any socket opens.
 */

const duration = (what: string) =>
  z.preprocess((v) => parseDurationMs(v) ?? v, z.number({ error: `${what} must be a duration such as 30s, 1500ms or 2m` }).int().min(0));
const bitrate = (what: string) =>
  z.preprocess((v) => parseBitrate(v) ?? v, z.number({ error: `${what} must be a bit rate such as 600k or 2.5m` }).int().min(0));
const count = z.number().int().min(0);

export const stageSchema = z
  .object({
    /** How long this stage lasts. */
    duration: duration('stage duration').refine((v) => v > 0, 'a stage lasts more than 0 ms'),
    /** Players per stream to reach by the end of the stage (linearly from the previous stage). */
    target: count,
  })
  .strict();

export const scenarioSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dots, dashes and underscores only').default('run'),
    description: z.string().optional(),
    /** "builtin" (a built-in server started in its own process) or rtmp[s]://HOST[:PORT]/APP. */
    target: z
      .string()
      .refine((t) => t === 'builtin' || /^rtmps?:\/\/[^/]+\/[^/]+/.test(t), 'must be "builtin" or rtmp[s]://HOST[:PORT]/APP')
      .default('builtin'),
    /** Accept any TLS certificate (rtmps:// targets with self-signed certificates). */
    insecure: z.boolean().default(false),
    /** Settings of the built-in server (the keys of `rtmpbench serve --config`). */
    server: z.record(z.string(), z.unknown()).default({}),
    /** Process id of the target server, to record its CPU and memory (the built-in one is known). */
    serverPid: z.number().int().min(1).optional(),
    streams: z.number().int().min(1).max(100_000).default(1),
    /** Stream names are PREFIX0, PREFIX1... */
    streamPrefix: z.string().regex(/^[A-Za-z0-9._-]*$/).default('stream'),
    /** Explicit stream names (players-only runs against streams someone else publishes). */
    streamNames: z.array(z.string().min(1)).optional(),
    publishers: z
      .object({
        /** Streams the generator publishes (default: all); 0 plays streams published by others. */
        count: count.optional(),
        /** "synthetic" or the path of an FLV file (looped). */
        source: z.string().min(1).default('synthetic'),
        codec: z.enum(['avc', 'hevc']).default('avc'),
        videoBitrate: bitrate('publishers.videoBitrate').default(600_000),
        audioBitrate: bitrate('publishers.audioBitrate').default(64_000),
        fps: z.number().min(1).max(240).default(30),
        gop: duration('publishers.gop').refine((v) => v > 0, 'the GOP lasts more than 0 ms').default(2000),
        /** Outgoing chunk size of publishers. */
        chunkSize: z.number().int().min(128).max(65536).default(4096),
      })
      .strict()
      .prefault({}),
    players: z
      .object({
        /** Players per stream (the total is this times the number of streams). */
        perStream: count.default(10),
        /** Of those, players that read slowly (a token bucket), per stream. */
        slowPerStream: count.default(0),
        slowReadKbps: z.number().min(1).default(200),
      })
      .strict()
      .prefault({}),
    churn: z
      .object({
        /** Extra players joining per second (over all streams), on top of the steady ones. */
        joinsPerSecond: z.number().min(0).default(0),
        /** Mean time a churning player stays (exponentially distributed). */
        meanSessionTime: duration('churn.meanSessionTime').default(30_000),
      })
      .strict()
      .prefault({}),
    /** Players per stream over time; replaces duration and ramp when given. */
    stages: z.array(stageSchema).min(1).optional(),
    duration: duration('duration').default(30_000),
    /** Players start spread over this time (publishers start first). */
    ramp: duration('ramp').default(0),
    /** Measurements before this time are left out of the statistics. */
    warmup: duration('warmup').default(0),
    /** A gap between video frames longer than this is counted as a stall. */
    stallThreshold: duration('stallThreshold').default(1000),
    /** Worker threads; "auto" is one per core. */
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default('auto'),
    /** Conditions such as "latency.endToEnd.p99 < 250ms"; a failure makes the run exit 1. */
    thresholds: z.array(z.string().min(1)).default([]),
  })
  .strict()
  .superRefine((s, ctx) => {
    const pubs = s.publishers.count ?? s.streams;
    if (pubs > s.streams) ctx.addIssue({ code: 'custom', path: ['publishers', 'count'], message: `cannot publish ${pubs} streams when there are ${s.streams}` });
    if (s.streamNames !== undefined && s.streamNames.length !== s.streams) {
      ctx.addIssue({ code: 'custom', path: ['streamNames'], message: `${s.streamNames.length} names for ${s.streams} streams` });
    }
    if (s.stages === undefined) {
      if (s.duration < 1000) ctx.addIssue({ code: 'custom', path: ['duration'], message: 'a run lasts at least 1s' });
      if (s.ramp >= s.duration) {
        ctx.addIssue({ code: 'custom', path: ['ramp'], message: `the ramp (${formatDurationMs(s.ramp)}) must end before the run does (${formatDurationMs(s.duration)}); set a shorter ramp` });
      }
    }
    const peak = s.stages ? Math.max(...s.stages.map((st) => st.target)) : s.players.perStream;
    if (s.players.slowPerStream > peak) {
      ctx.addIssue({ code: 'custom', path: ['players', 'slowPerStream'], message: `${s.players.slowPerStream} slow players but at most ${peak} players per stream` });
    }
    const total = stagesOf(s).reduce((t, st) => t + st.durationMs, 0);
    if (s.warmup >= total) ctx.addIssue({ code: 'custom', path: ['warmup'], message: 'the warm-up must end before the run does' });
    s.thresholds.forEach((expr, i) => {
      const t = parseThreshold(expr);
      if (typeof t === 'string') ctx.addIssue({ code: 'custom', path: ['thresholds', i], message: t });
    });
  });

export type ScenarioInput = z.input<typeof scenarioSchema>;
type Parsed = z.output<typeof scenarioSchema>;

export interface Stage {
  durationMs: number;
  /** Players per stream at the end of the stage. */
  target: number;
}

/** A validated scenario with every default applied and units resolved (ms, bit/s). */
export interface Scenario {
  name: string;
  description?: string;
  target: string;
  insecure: boolean;
  server: Record<string, unknown>;
  serverPid?: number;
  streamNames: string[];
  publishedStreams: number;
  media: {
    source: string;
    codec: 'avc' | 'hevc';
    videoBitrate: number;
    audioBitrate: number;
    fps: number;
    gopMs: number;
    chunkSize: number;
  };
  players: { perStream: number; slowPerStream: number; slowReadKbps: number };
  churn: { joinsPerSecond: number; meanSessionMs: number };
  stages: Stage[];
  durationMs: number;
  warmupMs: number;
  stallThresholdMs: number;
  workers: number | 'auto';
  thresholds: string[];
}

function stagesOf(s: Parsed): Stage[] {
  if (s.stages !== undefined) return s.stages.map((st) => ({ durationMs: st.duration, target: st.target }));
  const out: Stage[] = [];
  if (s.ramp > 0) out.push({ durationMs: s.ramp, target: s.players.perStream });
  else out.push({ durationMs: 1, target: s.players.perStream });
  out.push({ durationMs: s.duration - (s.ramp > 0 ? s.ramp : 1), target: s.players.perStream });
  return out;
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(scenario)' : path.map(String).join('.');
}

/** Validates a scenario; returns it resolved, or every problem as "path: message". */
export function resolveScenario(input: unknown): { scenario: Scenario; problems: [] } | { scenario: null; problems: string[] } {
  const r = scenarioSchema.safeParse(input);
  if (!r.success) return { scenario: null, problems: r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`) };
  const s = r.data;
  const stages = stagesOf(s);
  return {
    scenario: {
      name: s.name,
      ...(s.description !== undefined ? { description: s.description } : {}),
      target: s.target,
      insecure: s.insecure,
      server: s.server,
      ...(s.serverPid !== undefined ? { serverPid: s.serverPid } : {}),
      streamNames: s.streamNames ?? Array.from({ length: s.streams }, (_, i) => `${s.streamPrefix}${i}`),
      publishedStreams: s.publishers.count ?? s.streams,
      media: {
        source: s.publishers.source,
        codec: s.publishers.codec,
        videoBitrate: s.publishers.videoBitrate,
        audioBitrate: s.publishers.audioBitrate,
        fps: s.publishers.fps,
        gopMs: s.publishers.gop,
        chunkSize: s.publishers.chunkSize,
      },
      players: { ...s.players },
      churn: { joinsPerSecond: s.churn.joinsPerSecond, meanSessionMs: s.churn.meanSessionTime },
      stages,
      durationMs: stages.reduce((t, st) => t + st.durationMs, 0),
      warmupMs: s.warmup,
      stallThresholdMs: s.stallThreshold,
      workers: s.workers,
      thresholds: s.thresholds,
    },
    problems: [],
  };
}

/** Players per stream wanted at `tMs` after the start (linear within each stage). */
export function targetAt(stages: readonly Stage[], tMs: number): number {
  let start = 0;
  let from = 0;
  for (const st of stages) {
    if (tMs < start + st.durationMs) return from + ((st.target - from) * (tMs - start)) / st.durationMs;
    start += st.durationMs;
    from = st.target;
  }
  return from;
}

/**
 * When player `index` (0-based, per stream) should be connected: the intervals of the run
 * during which the target exceeds `index + 0.5`. Returns [startMs, stopMs] pairs; a stop of
 * Infinity means "until the end".
 */
export function playerWindows(stages: readonly Stage[], index: number): [number, number][] {
  const threshold = index + 0.5;
  const on: [number, number][] = [];
  const add = (a: number, b: number) => {
    const last = on[on.length - 1];
    if (last !== undefined && last[1] >= a) last[1] = Math.max(last[1], b);
    else if (b > a) on.push([a, b]);
  };
  let start = 0;
  let from = 0;
  for (const st of stages) {
    const end = start + st.durationMs;
    const to = st.target;
    const crossing = from === to ? start : start + ((threshold - from) / (to - from)) * st.durationMs;
    if (from > threshold && to > threshold) add(start, end);
    else if (from <= threshold && to > threshold) add(crossing, end);
    else if (from > threshold && to <= threshold) add(start, crossing);
    start = end;
    from = to;
  }
  const last = on[on.length - 1];
  if (last !== undefined && last[1] >= start) last[1] = Infinity;
  return on;
}
