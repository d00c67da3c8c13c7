import type { ViewerProtocol } from '../protocol/delivery.js';

/**
 * A scenario as a run resolved it (every default applied, units in ms and bit/s). It is part
 * of the results contract: summary.json and compare.json record it, and reports describe runs
 * from it. The schema that produces it lives with the generator (src/load/scenario.ts).
 */

export interface Stage {
  durationMs: number;
  /** Players per stream at the end of the stage. */
  target: number;
}

export interface ViewerGroup {
  protocol: ViewerProtocol;
  /** Per stream, at the run's peak. */
  perStream: number;
  url?: string;
  /** Latencies reported apart under this name (byGroup). */
  name?: string;
  /** A group on its own schedule: it joins from `startMs` over `rampMs` and stays (absent: it follows the stages). */
  startMs?: number;
  rampMs?: number;
}

export type ServerSpec = 'builtin' | 'node-media-server' | 'nginx-rtmp' | { name: string; url: string; start?: string; playUrls?: Partial<Record<ViewerProtocol, string>> };

export interface Scenario {
  name: string;
  description?: string;
  target: string;
  insecure: boolean;
  server: Record<string, unknown>;
  serverPid?: number;
  /** Cores every server the run starts is held to (a cgroup CPU quota). */
  serverCpuQuota?: number;
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
  players: {
    perStream: number;
    slowPerStream: number;
    slowReadKbps: number;
    /**
     * A viewer with no video this long after it started playing is failed (`no-video`); one that
     * joined less than this before the end is counted apart, as too late to judge. Absent in
     * results written before it existed.
     */
    firstVideoWithinMs?: number;
    /** How these viewers play (absent: rtmp) and the URL template they use (absent: the default for the protocol). */
    protocol?: ViewerProtocol;
    url?: string;
    /** Latencies reported apart under this name (byGroup). */
    name?: string;
  };
  /** More groups of viewers on the same streams. */
  viewers?: ViewerGroup[];
  /** HTTP port of an external target, for {httpPort} in URL templates. */
  httpPort?: number;
  churn: { joinsPerSecond: number; meanSessionMs: number };
  /** Publisher churn: each publication lasts `everyMs`, then the stream is away `pauseMs`; `rename` publishes under NAME-rK. */
  restart?: { everyMs: number; pauseMs: number; rename: boolean };
  stages: Stage[];
  durationMs: number;
  warmupMs: number;
  stallThresholdMs: number;
  /** URLs fetched before and after the run (answers kept in the results folder). */
  hooks?: { before?: string; after?: string };
  /** The leak verdict's equivalence margin and warm-up (absent in results written before them). */
  leak?: { marginBytesPerSession: number; warmupMs?: number };
  workers: number | 'auto';
  thresholds: string[];
  capacity?: { breakAfterMs: number };
  compare?: {
    servers: ServerSpec[];
    matrix: Record<string, (string | number | boolean)[]>;
    /** Named sets of built-in server settings, each a variant (absent in results written before them). */
    variants?: { name: string; settings: Record<string, string | number | boolean> }[];
    repeat: number;
    baseline?: string;
    /** Gate rules: how much worse than the baseline each variant may get (`compare` judges them). */
    gate?: string[];
  };
}

/** Players per stream at the scenario's peak. */
export function peakPlayersPerStream(s: Pick<Scenario, 'stages'>): number {
  return Math.max(0, ...s.stages.map((st) => st.target));
}
