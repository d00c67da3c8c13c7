/**
 * The one table of a run's counters. Workers count into a flat record keyed by these names;
 * everything else is derived from the table: a fresh record, adding records (workers, machines),
 * the difference between two (one second of a run), where each counter appears in summary.json
 * and counters.json, and which names thresholds accept.
 */

/** Where a counter appears in summary.json (dotted path) and whether it is a count of sessions. */
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
  description: string;
}

const sessions = (kind: 'publishers' | 'players', count: string, description: string): CounterSpec => ({
  summary: `sessions.${kind}.${count}`,
  file: `${kind}.${count}`,
  window: 'cumulative',
  description,
});
const throughput = (name: string, description: string): CounterSpec => ({ summary: `throughput.${name}`, file: name, window: 'delta', description });
const frames = (name: string, file: string, description: string): CounterSpec => ({ summary: `frames.${name}`, file, window: 'delta', description });

export const COUNTERS = {
  publishersPlanned: sessions('publishers', 'planned', 'publishers the scenario started'),
  publishersConnected: sessions('publishers', 'connected', 'publishers that published'),
  publishersFailed: sessions('publishers', 'failed', 'publishers that could not publish'),
  playersPlanned: sessions('players', 'planned', 'viewers the scenario started'),
  playersConnected: sessions('players', 'connected', 'viewers that started playing'),
  playersFailed: sessions('players', 'failed', 'viewers that could not play, or got no video within the no-video bound'),
  playersEnded: sessions('players', 'ended', 'viewer sessions that ended (left, dropped, failed) before the end of the run'),
  publishersEnded: sessions('publishers', 'ended', 'publications that ended before the end of the run (publisher churn, drops)'),
  playersTooLateToJudge: sessions('players', 'tooLateToJudge', 'viewers that joined less than the no-video bound before the end and got no video: neither failed nor a success'),
  bytesSent: throughput('bytesSent', 'bytes publishers wrote (chunk headers included)'),
  bytesReceived: throughput('bytesReceived', 'bytes viewers read (chunk headers included)'),
  mediaBytesReceived: throughput('mediaBytesReceived', 'audio and video payload bytes viewers received'),
  playerBytesSent: throughput('playerBytesSent', 'bytes viewers wrote (commands, acknowledgements)'),
  publisherBytesReceived: throughput('publisherBytesReceived', 'bytes publishers read (replies)'),
  framesSent: throughput('framesSent', 'video frames publishers sent'),
  framesReceived: throughput('framesReceived', 'video frames viewers received (slow viewers included)'),
  audioFramesReceived: throughput('audioFramesReceived', 'audio frames viewers received'),
  lost: frames('lost', 'lost', 'video frames normal viewers missed: gaps in the marks\' sequence numbers, and frames a viewer without video should have had'),
  duplicated: frames('duplicated', 'duplicated', 'video frames received twice'),
  outOfOrder: frames('outOfOrder', 'outOfOrder', 'video frames received after a later one'),
  stalls: frames('stalls', 'stalls', 'gaps between video frames longer than the stall threshold (normal viewers)'),
  expected: frames('expected', 'expected', 'video frames normal viewers should have received, from the publishers\' own send logs'),
  slowReceived: frames('slowReceived', 'slowReceived', 'video frames slow viewers received'),
  slowLost: frames('slowLost', 'slowLost', 'video frames slow viewers missed'),
  slowStalls: frames('slowStalls', 'slowStalls', 'stalls of slow viewers'),
  slowExpected: frames('slowExpected', 'slowExpected', 'video frames slow viewers should have received'),
  publisherStops: frames('publisherStops', 'publisherStops', 'end-of-publication notices viewers saw (a publisher that stopped)'),
  segmentsFetched: throughput('segmentsFetched', 'HLS segments viewers downloaded'),
  segmentBytes: throughput('segmentBytes', 'bytes of the HLS segments viewers downloaded'),
  segmentFetchMs: throughput('segmentFetchMs', 'time HLS viewers spent downloading segments, summed'),
  markedFrames: { summary: 'frames.marked', file: 'markedFrames', window: 'delta', description: 'video frames that carried a timing mark' },
  playerSeconds: { summary: null, file: 'playerSeconds', window: 'delta', description: 'time viewers spent playing, summed over viewers' },
} as const satisfies Record<string, CounterSpec>;

export type CounterName = keyof typeof COUNTERS;
export const COUNTER_NAMES = Object.keys(COUNTERS) as CounterName[];

/** A run's (or a worker's, or one second's) counters. */
export type Counters = Record<CounterName, number>;

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
    .filter((p): p is string => p !== null && p.startsWith(prefix))
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
