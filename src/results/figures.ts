import { METRICS, type MetricName } from '../metrics/histograms.js';
import { PROTOCOL_KEY_LIST, type ProtocolKey } from '../protocol/delivery.js';
import { COUNTER_NAMES, COUNTERS, type Better, type FigureKind } from './counters.js';

/**
 * Every figure of summary.json that thresholds, gates and the Prometheus endpoint name, defined
 * once: the counters' (results/counters.ts) and the tables below. The summary's types are
 * derived from these tables (`FiguresOf`), the threshold grammar accepts exactly their paths
 * with the units their kind allows, gates read their direction here, and the live endpoint takes
 * its family names and help from `prom`.
 */

export interface FigureSpec {
  kind: FigureKind;
  better: Better;
  description: string;
  /** Summaries written before the figure existed lack it. */
  optional?: true;
  /** Where the value sits under the figure's path when the figure is an interval (`.estimate`). */
  at?: string;
  /** The family of the generator's Prometheus endpoint that exports it live. */
  prom?: { family: string; help: string };
}

type Table = Readonly<Record<string, FigureSpec>>;
type Keys<T extends Table, Opt extends boolean> = {
  [K in keyof T]: T[K] extends { optional: true } ? (Opt extends true ? K : never) : Opt extends true ? never : K;
}[keyof T];
/** A table's figures as summary.json holds them: a number each, optional where the table says. */
export type FiguresOf<T extends Table> = { [K in Keys<T, false>]: number } & { [K in Keys<T, true>]?: number };

export const SERVER_FIGURES = {
  cpuSeconds: {
    kind: 'seconds',
    better: 'lower',
    description: "CPU time of the server's process (or process group) during the run",
    prom: {
      family: 'rtmpbench_server_cpu_seconds_total',
      help: "CPU time of the target server's process (or process group), as the generator measures it",
    },
  },
  maxRssBytes: {
    kind: 'bytes',
    better: 'lower',
    description: "the server's peak resident memory",
    prom: {
      family: 'rtmpbench_server_resident_memory_bytes',
      help: "Resident memory of the target server's process (or process group)",
    },
  },
  cpuPer1000PlayerMinutes: {
    kind: 'plain',
    better: 'lower',
    optional: true,
    description: 'server CPU-seconds per 1000 player-minutes: its cost per viewer',
  },
} as const satisfies Table;

/** The built-in server's own counts over the run (its /stats before and after). */
export const SERVER_DROPS = {
  video: { kind: 'count', better: 'lower', description: 'video frames its backpressure policy dropped' },
  audio: { kind: 'count', better: 'lower', description: 'audio frames its backpressure policy dropped' },
  data: { kind: 'count', better: 'lower', description: 'data messages its backpressure policy dropped' },
  bytes: { kind: 'bytes', better: 'lower', description: 'bytes its backpressure policy dropped' },
} as const satisfies Table;

export const SERVER_IO = {
  writes: { kind: 'count', better: 'lower', description: 'write calls to sockets (a corked batch is one)' },
  messages: { kind: 'count', better: 'higher', description: 'media and control messages handed to sockets' },
  readAllocatedBytes: {
    kind: 'bytes',
    better: 'lower',
    optional: true,
    description: 'bytes read into buffers allocated for the read (0 with shared reads)',
  },
  bytesIn: { kind: 'bytes', better: 'higher', optional: true, description: 'bytes the server received' },
} as const satisfies Table;

/**
 * What the server's process cost, from the kernel's counters (metrics/process-cost.ts): the same
 * for every server. Counts over the run, and the same per delivered message (video and audio
 * frames viewers received) and per viewer-second, made from them (results/server-cost.ts).
 */
export const SERVER_COST = {
  userCpuSeconds: { kind: 'seconds', better: 'lower', description: 'CPU time in user mode' },
  kernelCpuSeconds: {
    kind: 'seconds',
    better: 'lower',
    description: "CPU time in the kernel (on loopback it includes part of the viewers' receive path)",
  },
  voluntaryCtxSwitches: {
    kind: 'count',
    better: 'lower',
    description: 'voluntary context switches (a thread waited: for I/O, a lock, a timer)',
  },
  involuntaryCtxSwitches: {
    kind: 'count',
    better: 'lower',
    description: 'involuntary context switches (the scheduler took the CPU away)',
  },
  writeCalls: {
    kind: 'count',
    better: 'lower',
    description: 'write, writev, pwrite, sendfile calls on any descriptor (not send, sendto, sendmsg)',
  },
  writeBytes: { kind: 'bytes', better: 'lower', description: 'bytes those write calls passed' },
  readCalls: {
    kind: 'count',
    better: 'lower',
    description: 'read, readv, pread calls on any descriptor (not recv, recvfrom, recvmsg)',
  },
  readBytes: { kind: 'bytes', better: 'lower', description: 'bytes those read calls returned' },
  writeCoverage: {
    kind: 'plain',
    better: 'higher',
    optional: true,
    description:
      "the counted write calls' bytes over the bytes viewers received: about 1 when the server sends " +
      'with write and writev; near 0 when it sends with send or sendmsg, which the kernel does not count here',
  },
  kernelShare: { kind: 'plain', better: 'lower', optional: true, description: 'kernel CPU over all CPU, 0..1' },
  writeCallsPerMessage: {
    kind: 'plain',
    better: 'lower',
    optional: true,
    description:
      'write calls per delivered message (video and audio frames viewers received); with server.syscalls, ' +
      'write and send calls; without, left out when writeCoverage < 0.5',
  },
  bytesPerWriteCall: {
    kind: 'plain',
    better: 'higher',
    optional: true,
    description:
      'bytes per write call; with server.syscalls, per write or send call (the bytes viewers received standing ' +
      "in for the sends' bytes); without, left out when writeCoverage < 0.5",
  },
  syscallsPerMessage: {
    kind: 'plain',
    better: 'lower',
    optional: true,
    description: 'system calls of every kind per delivered message (with server.syscalls)',
  },
  cpuUsPerMessage: {
    kind: 'plain',
    better: 'lower',
    optional: true,
    description: 'CPU microseconds (user + kernel) per delivered message',
  },
  cpuUsPerViewerSecond: {
    kind: 'plain',
    better: 'lower',
    optional: true,
    description: 'CPU microseconds (user + kernel) per second a viewer played',
  },
} as const satisfies Table;

/** The server's system calls by kind over the run (`--server-syscalls`: perf's syscall tracepoints). */
export const SERVER_SYSCALLS = {
  writes: { kind: 'count', better: 'lower', description: 'write, writev, pwrite, sendfile calls on any descriptor' },
  sends: { kind: 'count', better: 'lower', description: 'send, sendto, sendmsg, sendmmsg calls' },
  reads: { kind: 'count', better: 'lower', description: 'read, readv, pread calls on any descriptor' },
  recvs: { kind: 'count', better: 'lower', description: 'recv, recvfrom, recvmsg, recvmmsg calls' },
  epollWaits: { kind: 'count', better: 'lower', description: 'epoll_wait and epoll_pwait calls' },
  others: { kind: 'count', better: 'lower', description: 'every other system call' },
  total: { kind: 'count', better: 'lower', description: 'all system calls' },
} as const satisfies Table;

export const SERVER_GC = {
  minor: { kind: 'count', better: 'lower', description: 'minor (scavenge) collections' },
  major: { kind: 'count', better: 'lower', description: 'major (mark-compact) collections' },
  incremental: { kind: 'count', better: 'lower', description: 'incremental marking steps' },
  ms: { kind: 'ms', better: 'lower', description: 'time in garbage collection' },
} as const satisfies Table;

export const GENERATOR_FIGURES = {
  cpuSeconds: {
    kind: 'seconds',
    better: 'lower',
    description: 'CPU time of the generator (every worker thread)',
    prom: {
      family: 'rtmpbench_generator_cpu_seconds_total',
      help: 'CPU time of the generator process (every worker thread)',
    },
  },
  maxRssBytes: {
    kind: 'bytes',
    better: 'lower',
    description: "the generator's peak resident memory",
    prom: { family: 'rtmpbench_generator_resident_memory_bytes', help: 'Resident memory of the generator process' },
  },
  workers: {
    kind: 'plain',
    better: 'higher',
    description: 'worker threads',
    prom: { family: 'rtmpbench_generator_workers', help: 'Worker threads of the generator' },
  },
  rssSlopeBytesPerMin: {
    kind: 'bytes',
    better: 'lower',
    optional: true,
    description: "the generator's RSS growth after warm-up, bytes per minute",
  },
} as const satisfies Table;

export const EVENT_LOOP_FIGURES = {
  utilization: {
    kind: 'plain',
    better: 'lower',
    description: "share of the time the busiest thread's event loop was busy, 0..1",
    prom: {
      family: 'rtmpbench_generator_event_loop_utilization_ratio',
      help:
        "Share of the last second the busiest generator thread's event loop was busy (above 0.9 " +
        'the generator is the bottleneck)',
    },
  },
  delayP99Ms: {
    kind: 'ms',
    better: 'lower',
    description: 'timer delay p99 of the busiest thread',
    prom: {
      family: 'rtmpbench_generator_event_loop_delay_p99_seconds',
      help: 'Timer delay p99 of the busiest generator thread over the last second',
    },
  },
  delayMaxMs: { kind: 'ms', better: 'lower', description: 'largest timer delay of the busiest thread' },
} as const satisfies Table;

/** A leak verdict's figures (server.leak, generator.leak); the intervals are read at their estimate. */
const LEAK_FIGURES = {
  detected: { kind: 'plain', better: 'lower', description: '1 when the verdict is leak' },
  bytesPerSession: { kind: 'bytes', better: 'lower', at: 'estimate', description: 'RSS growth per ended session' },
  bytesPerHour: { kind: 'bytes', better: 'lower', description: 'RSS growth per hour' },
  fdsPerSession: { kind: 'plain', better: 'lower', at: 'estimate', description: 'descriptor growth per ended session' },
} as const satisfies Table;

/** Figures a summary computes from its counters. */
const DERIVED_FIGURES = {
  // Exported live as the seconds it is made of.
  'sessions.playerMinutes': {
    kind: 'plain',
    better: 'higher',
    description: 'time viewers spent playing, minutes',
    prom: COUNTERS.playerSeconds.prom,
  },
  'throughput.mbpsReceived': { kind: 'mbps', better: 'higher', description: 'what viewers read, Mbit/s over the run' },
  'throughput.hlsRequestsPerViewerSecond': {
    kind: 'plain',
    better: 'lower',
    optional: true,
    description: "HTTP requests per HLS viewer per second of play: LL-HLS's cost on a server is its request rate",
  },
} as const satisfies Table;

/** How a named group fared while another group joined (byGroup.NAME.whileJoining.OTHER). */
export const WHILE_JOINING_FIGURES = {
  beforeP99Ms: {
    kind: 'ms',
    better: 'lower',
    description: "the group's end-to-end p99 over the 5 s before the other group started joining",
  },
  worstSecondP99Ms: { kind: 'ms', better: 'lower', description: 'its worst second p99 while the other group joined' },
  ratio: { kind: 'plain', better: 'lower', description: 'worst second against before' },
  afterP99Ms: { kind: 'ms', better: 'lower', optional: true, description: 'its p99 over the 5 s after the joins' },
} as const satisfies Table;

/**
 * Figures of one group of browser viewers (`browser.KEY.FIGURE`, KEY the group's name or
 * PLAYER-PROTOCOL): real players (hls.js, mpegts.js) in headless Chromium, measured from the
 * player itself (load/browser/). Latencies are per rendered frame, from the timing marks; every
 * distribution's figures come from the group's HdrHistograms (histograms.json
 * `browser.KEY.METRIC`), so a merge of runs has them exactly (results/browser.ts).
 */
export const BROWSER_FIGURES = {
  viewers: { kind: 'count', better: 'higher', description: 'browser viewers of the group' },
  viewersPlaying: { kind: 'count', better: 'higher', description: 'of them, those that rendered a frame' },
  firstFrameP50Ms: {
    kind: 'ms',
    better: 'lower',
    description: 'time from the player starting to its first rendered frame (requestVideoFrameCallback), p50',
  },
  firstFrameMaxMs: { kind: 'ms', better: 'lower', description: 'the same, the slowest viewer' },
  startHoldP50Ms: {
    kind: 'ms',
    better: 'lower',
    description:
      'how long the player showed its first frame before its media clock ran (the buffer it waited for), p50',
  },
  mediaRate: {
    kind: 'plain',
    better: 'higher',
    description:
      "media time the players showed per second of the clock, from each one's first rendered frame to its last " +
      '(stalls included): 1 keeps a player as far behind live as it started; 0.99 falls behind 0.6 s a minute',
  },
  latencyP50Ms: {
    kind: 'ms',
    better: 'lower',
    description: 'latency to live of rendered frames: shown (page clock mapped to the host) minus sent, p50',
  },
  latencyP90Ms: { kind: 'ms', better: 'lower', description: 'latency to live of rendered frames, p90' },
  latencyP99Ms: { kind: 'ms', better: 'lower', description: 'latency to live of rendered frames, p99' },
  latencyMaxMs: { kind: 'ms', better: 'lower', description: 'latency to live of rendered frames, max' },
  bufferP50Ms: {
    kind: 'ms',
    better: 'lower',
    description:
      "from the player's demuxer handing out a rendered frame's mark to the frame being shown: the player's " +
      "buffer and Chromium's media pipeline, p50 (latency to live is the arrival's plus this)",
  },
  playerEstimateP50Ms: {
    kind: 'ms',
    better: 'lower',
    description:
      "the player's own estimate of how far behind live it plays (hls.js latency; none from mpegts.js: 0), " +
      'p50 of a reading a second per viewer: the figure for streams without marks',
  },
  renderedFrames: { kind: 'count', better: 'higher', description: 'frames requestVideoFrameCallback reported shown' },
  markedShare: {
    kind: 'plain',
    better: 'higher',
    description: 'share of rendered frames matched to a timing mark by media time, 0..1',
  },
  marksOffTimeline: {
    kind: 'count',
    better: 'lower',
    description: "rendered frames whose mark does not sit at the frame's media time (marks not the ones sent)",
  },
  rebuffers: {
    kind: 'count',
    better: 'lower',
    description: "rebufferings after the first frame (the video's waiting)",
  },
  rebufferMs: { kind: 'ms', better: 'lower', description: 'time spent rebuffering, all viewers' },
  stalledEvents: { kind: 'count', better: 'lower', description: "the video element's stalled events" },
  droppedFrames: {
    kind: 'count',
    better: 'lower',
    description: 'frames the browser dropped (getVideoPlaybackQuality)',
  },
  decodedFrames: {
    kind: 'count',
    better: 'higher',
    description: 'frames the browser decoded (getVideoPlaybackQuality)',
  },
  kbpsPerViewer: { kind: 'plain', better: 'higher', description: 'what each player loaded, kbit/s (mean of viewers)' },
  clockBoundUs: {
    kind: 'plain',
    better: 'lower',
    description: "the page clocks' mapping onto the host's is within ± this, µs (worst page)",
  },
  cpuCoresPerViewer: {
    kind: 'plain',
    better: 'lower',
    description:
      "CPU of Chromium's process group over the viewers' time, cores per viewer (all browser groups; " +
      "merged: every machine's CPU over every machine's viewers' time)",
  },
  pssBytesPerViewer: {
    kind: 'bytes',
    better: 'lower',
    description:
      "Chromium's peak memory (PSS: shared pages split among the processes sharing them) above the bare " +
      "browser's, per viewer (all browser groups; merged: every machine's over every machine's viewers)",
  },
  viewersThisBoxHolds: {
    kind: 'count',
    better: 'higher',
    description:
      'browser viewers the CPUs and memory of this machine hold at that cost (the lower of the two; merged: ' +
      'the least any machine holds)',
  },
} as const satisfies Table;

/** Latency statistics (`latency.METRIC.STAT`): count, min, mean, max or a percentile. */
const LATENCY_STAT = /^(count|min|mean|max|p\d{1,2}(\.\d+)?|p999)$/;

/** Where each table sits in summary.json (paths of the threshold grammar, which writes `latency` for `latencyMs`). */
const TABLES: readonly [string, Table][] = [
  ['server', SERVER_FIGURES],
  ['server.drops', SERVER_DROPS],
  ['server.io', SERVER_IO],
  ['server.gc', SERVER_GC],
  ['server.cost', SERVER_COST],
  ['server.syscalls', SERVER_SYSCALLS],
  ['server.leak', LEAK_FIGURES],
  ['generator', GENERATOR_FIGURES],
  ['generator.eventLoop', EVENT_LOOP_FIGURES],
  ['generator.leak', LEAK_FIGURES],
  ['', DERIVED_FIGURES],
];

/** A figure a path names: where its value sits in summary.json, and how it reads. */
export interface Figure extends FigureSpec {
  /** Path in summary.json ('latency' paths read histograms instead). */
  summaryPath: string;
  /** A count's base for `%`: the frames received and lost, or the sessions planned. */
  percentOf?: 'frames' | 'planned';
  /** Counted in every run: a summary without it (written before it existed) counted none. */
  counted?: true;
}

const COUNTER_FIGURES = new Map<string, Figure>();
for (const k of COUNTER_NAMES) {
  const c = COUNTERS[k];
  if (c.summary === null) continue;
  const group = c.summary.split('.')[0];
  COUNTER_FIGURES.set(c.summary, {
    kind: c.kind,
    better: c.better,
    description: c.description,
    summaryPath: c.summary,
    counted: true,
    ...(group === 'frames'
      ? { percentOf: 'frames' as const }
      : group === 'sessions'
        ? { percentOf: 'planned' as const }
        : {}),
  });
}

/** Figures of one protocol's viewers (`hls.frames.lost`): what byProtocol holds. */
const PROTOCOL_HEADS = ['latency', 'frames', 'throughput', 'sessions.players', 'sessions.playerMinutes'];

/**
 * The figure a path of the grammar names (without a protocol or group prefix), or null. Latency
 * figures come back with kind 'ms' and the histogram read at `summaryPath` `latency.METRIC.STAT`.
 */
export function figureAt(path: readonly string[]): Figure | null {
  const dotted = path.join('.');
  if (path[0] === 'latency') {
    if (path.length !== 3 || !(METRICS as readonly string[]).includes(path[1]!) || !LATENCY_STAT.test(path[2]!))
      return null;
    const count = path[2] === 'count';
    return {
      kind: count ? 'count' : 'ms',
      better: count ? 'higher' : 'lower',
      description: `${path[1]} latency, ${path[2]}`,
      summaryPath: dotted,
    };
  }
  const counter = COUNTER_FIGURES.get(dotted);
  if (counter !== undefined) return counter;
  if (path[0] === 'browser' && path.length === 3) {
    const spec = (BROWSER_FIGURES as Table)[path[2]!];
    return spec === undefined ? null : { ...spec, summaryPath: dotted };
  }
  for (const [prefix, table] of TABLES) {
    const head = prefix === '' ? '' : `${prefix}.`;
    if (!dotted.startsWith(head)) continue;
    const spec = table[dotted.slice(head.length)];
    if (spec === undefined) continue;
    return {
      ...spec,
      summaryPath: spec.at !== undefined ? `${dotted}.${spec.at}` : dotted,
      ...(prefix === '' ? { counted: true as const } : {}),
    };
  }
  return null;
}

/** Whether a protocol's viewers have the figure (`hls.` + path). */
export function protocolHasFigure(path: readonly string[]): boolean {
  const dotted = path.join('.');
  return PROTOCOL_HEADS.some((h) => dotted === h || dotted.startsWith(`${h}.`));
}

/** The protocol key a path starts with, if any. */
export function protocolPrefix(path: readonly string[]): ProtocolKey | null {
  return (PROTOCOL_KEY_LIST as readonly string[]).includes(path[0]!) ? (path[0] as ProtocolKey) : null;
}

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/** The Prometheus histogram family of a latency metric: endToEnd → rtmpbench_end_to_end_seconds. */
export function latencyFamilyName(metric: MetricName): string {
  return `rtmpbench_${snake(metric)}_seconds`;
}

/**
 * The family of the generator's live Prometheus endpoint that exports a figure (a path of the
 * grammar, without a protocol's prefix: protocols are a label there), or null when it is not
 * exported live.
 */
export function promFamilyOf(path: readonly string[]): string | null {
  if (path[0] === 'latency')
    return (METRICS as readonly string[]).includes(path[1]!) ? latencyFamilyName(path[1] as MetricName) : null;
  const dotted = path.join('.');
  for (const k of COUNTER_NAMES) {
    const spec: { summary: string | null; prom?: { family: string } } = COUNTERS[k];
    if (spec.summary === dotted) return spec.prom?.family ?? null;
  }
  const figure = figureAt(path);
  return figure?.prom?.family ?? null;
}

/**
 * Every path the grammar accepts at the top level, latency statistics shown once per metric (for
 * messages and docs).
 */
export function figurePaths(): string[] {
  const out = [...COUNTER_FIGURES.keys()];
  for (const [prefix, table] of TABLES)
    for (const k of Object.keys(table)) out.push(prefix === '' ? k : `${prefix}.${k}`);
  for (const k of Object.keys(BROWSER_FIGURES)) out.push(`browser.GROUP.${k}`);
  for (const m of METRICS) out.push(`latency.${m as MetricName}.STAT`);
  return out;
}
