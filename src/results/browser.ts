import { browserHistogramKey, type Histogram, type HistogramKey } from '../metrics/histograms.js';
import { round2 } from '../metrics/round.js';
import type { BrowserProtocol } from '../protocol/delivery.js';
import type { BrowserGroupFigures } from './summary.js';

/**
 * Browser viewers' data as a run keeps it: each group's counts (counters.json `browser`), its
 * distributions as HdrHistograms (histograms.json `browser.GROUP.METRIC`, µs), and what
 * Chromium cost on each machine. The figures (BROWSER_FIGURES) are made from them here alone,
 * so a run's and a merge of runs' come the same way.
 */

/** One group's counts over its viewers: sums, but for the clock bound (the worst page) and the errors (the first few). */
export interface BrowserGroupTotals {
  protocol: BrowserProtocol;
  viewers: number;
  /** Viewers that rendered a frame. */
  playing: number;
  rendered: number;
  /** Rendered frames matched to a mark. */
  marked: number;
  offTimeline: number;
  rebuffers: number;
  rebufferMs: number;
  stalled: number;
  dropped: number;
  decoded: number;
  /** The viewers' kbit/s added up, and how many viewers had a rate: their mean is the figure. */
  kbpsSum: number;
  kbpsViewers: number;
  /**
   * Page time between consecutive rendered frames of one timeline, and the media time they
   * advanced, added up (ms; absent from runs made before they were counted): their ratio is the
   * pace of the players' media clock.
   */
  playedClockMs?: number;
  playedMediaMs?: number;
  clockBoundUs: number;
  errors: string[];
}

/** What one machine's Chromium cost over all its browser groups. */
export interface BrowserMachineCost {
  viewers: number;
  /** CPU of Chromium's process group over the run. */
  cpuSeconds: number;
  /** The viewers' time: viewers × seconds each was open. */
  viewerSeconds: number;
  /** Chromium's peak PSS above the bare browser's. */
  pssAboveBareBytes: number;
  /** Browser viewers this machine's CPUs and memory hold at that cost (null: nothing measured). */
  holds: number | null;
}

export interface BrowserData {
  groups: Record<string, BrowserGroupTotals>;
  /** One a machine: a run's own, each share's in a merge. */
  machines: BrowserMachineCost[];
}

/** The errors a group's figures list at most. */
export const MAX_BROWSER_ERRORS = 10;

function playerOf(protocol: BrowserProtocol): BrowserGroupFigures['player'] {
  return protocol === 'hls' || protocol === 'll-hls' ? 'hls.js' : 'mpegts.js';
}

/**
 * Each group's figures from its counts and histograms. Cost over the machines: CPU over the
 * viewers' time and memory over the viewers, each added up over the machines (a mean weighted
 * by viewers); what a machine holds is the least any machine holds.
 */
export function browserFigures(
  data: BrowserData,
  histograms: ReadonlyMap<HistogramKey, Histogram>,
): Record<string, BrowserGroupFigures> {
  const sum = (f: (m: BrowserMachineCost) => number) => data.machines.reduce((a, m) => a + f(m), 0);
  const viewerSeconds = sum((m) => m.viewerSeconds);
  const viewers = sum((m) => m.viewers);
  const cores = viewerSeconds > 0 ? sum((m) => m.cpuSeconds) / viewerSeconds : 0;
  const pssPer = viewers > 0 ? sum((m) => m.pssAboveBareBytes) / viewers : 0;
  const holds = data.machines.map((m) => m.holds).filter((h): h is number => h !== null);
  const out: Record<string, BrowserGroupFigures> = {};
  for (const [name, g] of Object.entries(data.groups)) {
    const at = (metric: Parameters<typeof browserHistogramKey>[1], p: number) => {
      const h = histograms.get(browserHistogramKey(name, metric));
      return h === undefined || h.totalCount === 0 ? 0 : round2(h.getValueAtPercentile(p) / 1000);
    };
    out[name] = {
      player: playerOf(g.protocol),
      protocol: g.protocol,
      viewers: g.viewers,
      viewersPlaying: g.playing,
      firstFrameP50Ms: at('firstFrame', 50),
      firstFrameMaxMs: at('firstFrame', 100),
      startHoldP50Ms: at('startHold', 50),
      mediaRate: g.playedClockMs ? Math.round(((g.playedMediaMs ?? 0) / g.playedClockMs) * 1e4) / 1e4 : 0,
      bufferP50Ms: at('buffer', 50),
      playerEstimateP50Ms: at('playerEstimate', 50),
      latencyP50Ms: at('latency', 50),
      latencyP90Ms: at('latency', 90),
      latencyP99Ms: at('latency', 99),
      latencyMaxMs: at('latency', 100),
      renderedFrames: g.rendered,
      markedShare: g.rendered === 0 ? 0 : Math.round((g.marked / g.rendered) * 1e4) / 1e4,
      marksOffTimeline: g.offTimeline,
      rebuffers: g.rebuffers,
      rebufferMs: Math.round(g.rebufferMs),
      stalledEvents: g.stalled,
      droppedFrames: g.dropped,
      decodedFrames: g.decoded,
      kbpsPerViewer: g.kbpsViewers === 0 ? 0 : Math.round(g.kbpsSum / g.kbpsViewers),
      clockBoundUs: g.clockBoundUs,
      cpuCoresPerViewer: Math.round(cores * 1e4) / 1e4,
      pssBytesPerViewer: Math.round(pssPer),
      viewersThisBoxHolds: holds.length > 0 ? Math.min(...holds) : 0,
      ...(g.errors.length > 0 ? { errors: g.errors.slice(0, MAX_BROWSER_ERRORS) } : {}),
    };
  }
  return out;
}
