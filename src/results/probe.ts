import type { Better, FigureKind } from './counters.js';

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
  'resilience',
] as const;
export type ProbeGroup = (typeof PROBE_GROUPS)[number];

/**
 * Groups a probe run includes only when `only` names them (the group, a probe of it, or a prefix
 * of its ids): the resilience probes attack the server, so they are never part of the default run.
 */
export const OPT_IN_GROUPS = ['resilience'] as const satisfies readonly ProbeGroup[];

/**
 * What the server did with an attack's connections, as the matrix shows it (resilience probes):
 * - `closed`: it closed the attacking connections (nine in ten or more) before the attack ended;
 * - `refused`: it refused new connections (a connect failed or timed out) during the attack;
 * - `slowed`: it kept them, and a fresh connection's handshake and connect took five times as
 *   long as before the attack (and over 250 ms more), or did not complete;
 * - `kept`: it kept them and answered as before.
 */
export const ATTACK_RESPONSES = ['closed', 'refused', 'slowed', 'kept'] as const;
export type AttackResponse = (typeof ATTACK_RESPONSES)[number];

/**
 * Why an attack ended: the server's RSS passed its bound, it sent its bytes, it ran its time
 * having opened every connection it may (`connections`), or it ran its time before that (`time`).
 */
export const ATTACK_STOPS = ['time', 'connections', 'bytes', 'rss'] as const;
export type AttackStop = (typeof ATTACK_STOPS)[number];

export interface ProbeFigureSpec {
  kind: FigureKind;
  better: Better;
  description: string;
}

/**
 * The figures every resilience probe puts in its evidence (under these keys, numbers only; a
 * figure that could not be measured is absent: RSS and descriptors need the server's process).
 * The evidence also holds `response` (ATTACK_RESPONSES), `stoppedBy` (ATTACK_STOPS) and facts of
 * the probe's own, as every probe's does.
 */
export const ATTACK_FIGURES = {
  attackConnections: { kind: 'count', better: 'lower', description: 'connections the attack opened' },
  attackBytes: { kind: 'bytes', better: 'lower', description: 'bytes the attack sent (handshakes included)' },
  attackMs: { kind: 'ms', better: 'lower', description: 'how long the attack ran' },
  closedByServer: { kind: 'count', better: 'higher', description: 'attacking connections the server closed' },
  refusedConnections: {
    kind: 'count',
    better: 'lower',
    description: 'connection attempts that failed or timed out during the attack',
  },
  connectMsBefore: { kind: 'ms', better: 'lower', description: 'a fresh handshake and connect, before the attack' },
  connectMsDuring: {
    kind: 'ms',
    better: 'lower',
    description: 'a fresh handshake and connect, halfway through the attack (absent: it did not complete)',
  },
  rssBeforeBytes: { kind: 'bytes', better: 'lower', description: "the server's RSS before the attack" },
  rssPeakGrowthBytes: {
    kind: 'bytes',
    better: 'lower',
    description: "the server's highest RSS during the attack, less its RSS before",
  },
  rssAfterGrowthBytes: {
    kind: 'bytes',
    better: 'lower',
    description: "the server's RSS a moment after the attack's connections closed, less its RSS before",
  },
  fdsPeakGrowth: {
    kind: 'count',
    better: 'lower',
    description: "the server's most open descriptors during the attack, less its count before",
  },
  fdsAfterGrowth: {
    kind: 'count',
    better: 'lower',
    description: "the server's open descriptors after the attack, less its count before",
  },
  serverCpuSeconds: { kind: 'seconds', better: 'lower', description: "the server's CPU time during the attack" },
  viewerFramesSent: {
    kind: 'count',
    better: 'higher',
    description: 'frames the healthy publisher beside the attack sent',
  },
  viewerFramesLost: {
    kind: 'count',
    better: 'lower',
    description: 'of those, frames the healthy viewer beside the attack never got',
  },
} as const satisfies Readonly<Record<string, ProbeFigureSpec>>;
export type AttackFigure = keyof typeof ATTACK_FIGURES;
export type AttackFigures = Partial<Record<AttackFigure, number>>;

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
