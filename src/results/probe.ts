/**
 * What `rtmpbench probe` reports: per server, one outcome per probe. These types are the
 * contract between the probe runner (src/lab/probe/) and its renderers (src/report/probe.ts),
 * and the shape of `rtmpbench probe --json`.
 */

/**
 * - `pass`: the server did what the probe's definition says;
 * - `fail`: it did not (the evidence says what it did instead);
 * - `n/a`: it refused the feature cleanly, by design (an error status, a negotiated fallback);
 * - `info`: the probe only reports what the server does (no right answer);
 * - `error`: the probe itself could not run (a prerequisite failed, its time ran out).
 */
export const PROBE_RESULTS = ['pass', 'fail', 'n/a', 'info', 'error'] as const;
export type ProbeResult = (typeof PROBE_RESULTS)[number];

/** Probe groups, in the order reports show them. */
export const PROBE_GROUPS = [
  'handshake',
  'chunking',
  'timestamps',
  'commands',
  'flow-control',
  'media',
  'sessions',
] as const;
export type ProbeGroup = (typeof PROBE_GROUPS)[number];

/** What was sent and what came back: short facts, each a line a person can read. */
export type ProbeEvidence = Record<string, string | number | boolean | null>;

export interface ProbeOutcome {
  /** Stable id, `group.name` (e.g. `chunking.csid-3-byte`). */
  id: string;
  group: ProbeGroup;
  title: string;
  /** What passes, in one line. */
  definition: string;
  result: ProbeResult;
  /** One line: why this result (for `info`, what the server does). */
  detail: string;
  evidence: ProbeEvidence;
  durationMs: number;
}

/** One server probed: the shape `rtmpbench probe --json` prints for one URL. */
export interface ProbeReport {
  /** The URL probed. */
  target: string;
  /** A short name for matrices: the server kind when rtmpbench started it, else host:port. */
  name: string;
  startedAt: string;
  durationMs: number;
  tool: { name: string; version: string };
  /**
   * Why the server could not be probed at all (nothing listens, it did not start), or null.
   * Probes are then absent.
   */
  unreachable: string | null;
  counts: Record<ProbeResult, number>;
  probes: ProbeOutcome[];
}

/** Several servers side by side (`rtmpbench probe URL URL... --json`). */
export interface ProbeComparison {
  servers: ProbeReport[];
}

export function countResults(probes: readonly Pick<ProbeOutcome, 'result'>[]): Record<ProbeResult, number> {
  const counts = { pass: 0, fail: 0, 'n/a': 0, info: 0, error: 0 } satisfies Record<ProbeResult, number>;
  for (const p of probes) counts[p.result]++;
  return counts;
}
