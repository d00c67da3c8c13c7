/**
 * The one table of a run's counters. Workers count into a flat record keyed by these names;
 * everything else is derived from the table: a fresh record, adding records (workers, machines),
 * the difference between two (one second of a run), where each counter appears in summary.json
 * and counters.json, and which names thresholds accept.
 */

/** Which way a figure is better: what a gate calls "worse" is a move the other way. */
export type Better = 'lower' | 'higher';

/**
 * How a figure's value reads, which decides the units a threshold may use on it: a count (no
 * unit, or % of its base), bytes (B, KB, MB, GB), seconds or milliseconds (any time unit),
 * a rate in Mbit/s (Mbps, kbps), or a plain number (no unit).
 */
export type FigureKind = 'count' | 'bytes' | 'seconds' | 'ms' | 'mbps' | 'plain';

/** A counter as the generator's Prometheus endpoint exports it: its family, and its series' labels there. */
export interface CounterProm {
  family: string;
  help: string;
  labels?: Readonly<Record<string, string>>;
  /** Whose count it is: the publishers' (labelled rtmp) or the viewers' (one series per protocol; the default). */
  side?: 'publishers';
  /** A session count's `kind` label (the first label of its series). */
  kind?: 'publisher' | 'player';
}

/** Where a counter appears in summary.json (dotted path), how it reads and how it is exported. */
interface CounterSpec {
  /** Path in summary.json (null: summed here, shown in another form, as player-minutes). */
  summary: string | null;
  /** Path in counters.json (the exact totals `rtmpbench merge` adds up); schema version 1 layout. */
  file: string;
  /**
   * Over one second of a run (a capacity search's window): `delta` counts what happened in the
   * second; `cumulative` keeps the count so far (sessions planned, connected and failed).
   */
  window: 'delta' | 'cumulative';
  kind: FigureKind;
  better: Better;
  /** Summaries written before the counter existed lack it (an optional field of the summary's type). */
  optional?: true;
  /** Exported by the live Prometheus endpoint (absent: named in its list of exclusions, with the reason). */
  prom?: CounterProm;
  description: string;
}

interface Extra {
  optional?: true;
  prom?: CounterProm;
}

const sessions = <K extends 'publishers' | 'players', N extends string, E extends Extra = Record<never, never>>(
  kind: K,
  count: N,
  better: Better,
  description: string,
  extra: E = {} as E,
) =>
  ({
    summary: `sessions.${kind}.${count}` as const,
    file: `${kind}.${count}` as const,
    window: 'cumulative',
    kind: 'count',
    better,
    description,
    ...extra,
  }) as const;
const throughput = <N extends string, E extends Extra = Record<never, never>>(
  name: N,
  kind: FigureKind,
  description: string,
  extra: E = {} as E,
) =>
  ({
    summary: `throughput.${name}` as const,
    file: name,
    window: 'delta',
    kind,
    better: 'higher',
    description,
    ...extra,
  }) as const;
const frames = <N extends string, E extends Extra = Record<never, never>>(
  name: N,
  file: string,
  better: Better,
  description: string,
  extra: E = {} as E,
) =>
  ({
    summary: `frames.${name}` as const,
    file,
    window: 'delta',
    kind: 'count',
    better,
    description,
    ...extra,
  }) as const;

const CONNECTED = {
  family: 'rtmpbench_sessions_connected_total',
  help: 'Sessions that published or started playing',
} as const;
const FAILED = {
  family: 'rtmpbench_sessions_failed_total',
  help: 'Sessions that could not publish or play, or viewers that got no video in time',
} as const;
const LOST: Omit<CounterProm, 'labels'> = {
  family: 'rtmpbench_frames_lost_total',
  help: "Video frames viewers missed (gaps in the timing marks' sequence numbers), normal and slow viewers apart",
};
const STALLS: Omit<CounterProm, 'labels'> = {
  family: 'rtmpbench_stalls_total',
  help: 'Gaps between video frames longer than the stall threshold, normal and slow viewers apart',
};
const RECEIVED: Omit<CounterProm, 'labels'> = {
  family: 'rtmpbench_frames_received_total',
  help: 'Frames viewers received, by media (slow viewers included)',
};

export const COUNTERS = {
  publishersPlanned: sessions('publishers', 'planned', 'higher', 'publishers the scenario started'),
  publishersConnected: sessions('publishers', 'connected', 'higher', 'publishers that published', {
    prom: { ...CONNECTED, kind: 'publisher', side: 'publishers' },
  }),
  publishersFailed: sessions('publishers', 'failed', 'lower', 'publishers that could not publish', {
    prom: { ...FAILED, kind: 'publisher', side: 'publishers' },
  }),
  playersPlanned: sessions('players', 'planned', 'higher', 'viewers the scenario started'),
  playersConnected: sessions('players', 'connected', 'higher', 'viewers that started playing', {
    prom: { ...CONNECTED, kind: 'player' },
  }),
  playersFailed: sessions(
    'players',
    'failed',
    'lower',
    'viewers that could not play, or got no video within the no-video bound',
    { prom: { ...FAILED, kind: 'player' } },
  ),
  playersEnded: sessions(
    'players',
    'ended',
    'lower',
    'viewer sessions that ended (left, dropped, failed) before the end of the run',
  ),
  publishersEnded: sessions(
    'publishers',
    'ended',
    'lower',
    'publications that ended before the end of the run (publisher churn, drops)',
  ),
  playersTooLateToJudge: sessions(
    'players',
    'tooLateToJudge',
    'lower',
    'viewers that joined less than the no-video bound before the end and got no video: neither failed nor a success',
    { optional: true },
  ),
  bytesSent: throughput('bytesSent', 'bytes', 'bytes publishers wrote (chunk headers included)', {
    prom: {
      family: 'rtmpbench_bytes_sent_total',
      help: 'Bytes publishers wrote (chunk headers included)',
      side: 'publishers',
    },
  }),
  bytesReceived: throughput('bytesReceived', 'bytes', 'bytes viewers read (chunk headers included)', {
    prom: { family: 'rtmpbench_bytes_received_total', help: 'Bytes viewers read' },
  }),
  mediaBytesReceived: throughput('mediaBytesReceived', 'bytes', 'audio and video payload bytes viewers received', {
    prom: { family: 'rtmpbench_media_bytes_received_total', help: 'Audio and video payload bytes viewers received' },
  }),
  playerBytesSent: throughput('playerBytesSent', 'bytes', 'bytes viewers wrote (commands, acknowledgements)'),
  publisherBytesReceived: throughput('publisherBytesReceived', 'bytes', 'bytes publishers read (replies)'),
  framesSent: throughput('framesSent', 'count', 'video frames publishers sent', {
    prom: { family: 'rtmpbench_frames_sent_total', help: 'Video frames publishers sent', side: 'publishers' },
  }),
  framesReceived: throughput('framesReceived', 'count', 'video frames viewers received (slow viewers included)', {
    prom: { ...RECEIVED, labels: { media: 'video' } },
  }),
  audioFramesReceived: throughput('audioFramesReceived', 'count', 'audio frames viewers received', {
    prom: { ...RECEIVED, labels: { media: 'audio' } },
  }),
  lost: frames(
    'lost',
    'lost',
    'lower',
    "video frames normal viewers missed: gaps in the marks' sequence numbers, and frames a " +
      'viewer without video should have had',
    { prom: { ...LOST, labels: { viewers: 'normal' } } },
  ),
  duplicated: frames('duplicated', 'duplicated', 'lower', 'video frames received twice', {
    prom: { family: 'rtmpbench_frames_duplicated_total', help: 'Video frames received twice' },
  }),
  outOfOrder: frames('outOfOrder', 'outOfOrder', 'lower', 'video frames received after a later one', {
    prom: { family: 'rtmpbench_frames_out_of_order_total', help: 'Video frames received after a later one' },
  }),
  stalls: frames(
    'stalls',
    'stalls',
    'lower',
    'gaps between video frames longer than the stall threshold (normal viewers)',
    { prom: { ...STALLS, labels: { viewers: 'normal' } } },
  ),
  expected: frames(
    'expected',
    'expected',
    'higher',
    "video frames normal viewers should have received, from the publishers' own send logs",
    { optional: true },
  ),
  slowReceived: frames('slowReceived', 'slowReceived', 'higher', 'video frames slow viewers received', {
    optional: true,
  }),
  slowLost: frames('slowLost', 'slowLost', 'lower', 'video frames slow viewers missed', {
    prom: { ...LOST, labels: { viewers: 'slow' } },
  }),
  slowStalls: frames('slowStalls', 'slowStalls', 'lower', 'stalls of slow viewers', {
    prom: { ...STALLS, labels: { viewers: 'slow' } },
  }),
  slowExpected: frames('slowExpected', 'slowExpected', 'higher', 'video frames slow viewers should have received', {
    optional: true,
  }),
  sentBeforeJoin: frames(
    'sentBeforeJoin',
    'sentBeforeJoin',
    'lower',
    'video frames viewers received that were sent before they began (a GOP cache, an HLS start behind live): ' +
      'counted here, not in end-to-end latency',
    {
      optional: true,
      prom: {
        family: 'rtmpbench_frames_sent_before_join_total',
        help: 'Video frames viewers received that were sent before they began (not in end-to-end latency)',
      },
    },
  ),
  latencyBelowZero: frames(
    'latencyBelowZero',
    'latencyBelowZero',
    'lower',
    "end-to-end latencies measured below zero and recorded as 0: across hosts, within the clocks' bound; else a clock problem",
    {
      optional: true,
      prom: {
        family: 'rtmpbench_latency_below_zero_total',
        help: 'End-to-end latencies measured below zero (recorded as 0): a clock bound across hosts, or a clock problem',
      },
    },
  ),
  publisherStops: frames(
    'publisherStops',
    'publisherStops',
    'lower',
    'end-of-publication notices viewers saw (a publisher that stopped)',
  ),
  segmentsFetched: throughput('segmentsFetched', 'count', 'HLS segments (and LL-HLS parts) viewers downloaded', {
    optional: true,
  }),
  hlsRequests: {
    summary: 'throughput.hlsRequests',
    file: 'hlsRequests',
    window: 'delta',
    kind: 'count',
    // More requests for the same media: more work for the server.
    better: 'lower',
    description:
      'HTTP requests HLS viewers made: playlists (blocking reloads included), init sections, segments, parts',
    optional: true,
  },
  segmentBytes: throughput('segmentBytes', 'bytes', 'bytes of the HLS segments viewers downloaded', { optional: true }),
  segmentFetchMs: throughput('segmentFetchMs', 'ms', 'time HLS viewers spent downloading segments, summed', {
    optional: true,
  }),
  markedFrames: frames('marked', 'markedFrames', 'higher', 'video frames that carried a timing mark', {
    optional: true,
  }),
  playerSeconds: {
    summary: null,
    file: 'playerSeconds',
    window: 'delta',
    kind: 'seconds',
    better: 'higher',
    prom: { family: 'rtmpbench_player_seconds_total', help: 'Time viewers spent playing, summed over viewers' },
    description: 'time viewers spent playing, summed over viewers',
  },
} as const satisfies Record<string, CounterSpec>;

export type CounterName = keyof typeof COUNTERS;

/** How the live Prometheus endpoint exports a counter (undefined: it does not). */
export function counterProm(k: CounterName): CounterProm | undefined {
  const spec: CounterSpec = COUNTERS[k];
  return spec.prom;
}
export const COUNTER_NAMES = Object.keys(COUNTERS) as CounterName[];

/** A run's (or a worker's, or one second's) counters. */
export type Counters = Record<CounterName, number>;

type Table = typeof COUNTERS;
type PathOf<K extends CounterName> = Table[K]['summary'];
type IsOptional<K extends CounterName> = Table[K] extends { optional: true } ? true : false;
/** The leaves the table puts under `G.` in summary.json, required or optional as the table says. */
type LeavesOf<G extends string, Opt extends boolean> = {
  [K in CounterName]: IsOptional<K> extends Opt ? (PathOf<K> extends `${G}.${infer L}` ? L : never) : never;
}[CounterName];

/**
 * The part of a summary the counter table fills under `G` ("frames", "sessions.players"...): its type,
 * derived from the table.
 */
export type CounterFigures<G extends string> = { [L in LeavesOf<G, false>]: number } & {
  [L in LeavesOf<G, true>]?: number;
};

export function newCounters(): Counters {
  const c = {} as Counters;
  for (const k of COUNTER_NAMES) c[k] = 0;
  return c;
}

/** Adds `b` into `into`; returns `into`. */
export function addCounters(into: Counters, b: Readonly<Partial<Counters>>): Counters {
  for (const k of COUNTER_NAMES) into[k] += b[k] ?? 0;
  return into;
}

export function sumCounters(all: readonly Readonly<Partial<Counters>>[]): Counters {
  const out = newCounters();
  for (const c of all) addCounters(out, c);
  return out;
}

/** `now - before`, counter by counter. */
export function diffCounters(now: Readonly<Counters>, before: Readonly<Counters>): Counters {
  const d = {} as Counters;
  for (const k of COUNTER_NAMES) d[k] = now[k] - before[k];
  return d;
}

/** One second of a run: what happened in it, with session counts as they stand (see `window`). */
export function windowCounters(now: Readonly<Counters>, before: Readonly<Counters> | null): Counters {
  const d = { ...now };
  if (before === null) return d;
  for (const k of COUNTER_NAMES) if (COUNTERS[k].window === 'delta') d[k] = now[k] - before[k];
  return d;
}

/** The names thresholds accept under a summary group ("frames" → lost, duplicated, ...). */
export function counterFieldsOf(group: string): string[] {
  const prefix = `${group}.`;
  return COUNTER_NAMES.map((k): string | null => COUNTERS[k].summary)
    .filter((p): p is string => p?.startsWith(prefix) === true)
    .map((p) => p.slice(prefix.length));
}

/** counters.json layout (nested by `file` paths, as schema version 1 wrote it). */
export function countersToFile(c: Readonly<Counters>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of COUNTER_NAMES) setPath(out, COUNTERS[k].file, c[k]);
  return out;
}

/** Reads counters.json's layout back; counters a file lacks (written by an older version) are 0. */
export function countersFromFile(data: unknown): Counters {
  const c = newCounters();
  for (const k of COUNTER_NAMES) {
    const v = getPath(data, COUNTERS[k].file);
    if (typeof v === 'number' && Number.isFinite(v)) c[k] = v;
  }
  return c;
}

export function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (const key of keys.slice(0, -1)) {
    const next = o[key];
    if (next === null || typeof next !== 'object') o[key] = {};
    o = o[key] as Record<string, unknown>;
  }
  o[keys[keys.length - 1]!] = value;
}

export function getPath(obj: unknown, path: string): unknown {
  let o = obj;
  for (const key of path.split('.')) {
    if (o === null || typeof o !== 'object') return undefined;
    o = (o as Record<string, unknown>)[key];
  }
  return o;
}
