import * as hdr from 'hdr-histogram-js';
import { round3 } from './round.js';

/**
 * The latency figures a run records, as HdrHistograms of integer microseconds. Workers send
 * them encoded (`encodeIntoCompressedBase64`); merging is `add()`, so percentiles over many
 * workers and machines stay exact.
 */
export const METRICS = [
  'connect',
  'handshake',
  'playStart',
  'firstFrame',
  'firstKeyframe',
  'endToEnd',
  'slowEndToEnd',
  'playout',
  'gap',
  'pacing',
  'playlistFetch',
  'playlistAge',
  'segmentFetch',
  'availabilityLag',
  'resume',
] as const;
export type MetricName = (typeof METRICS)[number];

/**
 * What browser viewers' players measured (load/browser/), per group of them, in µs as every
 * histogram here: player start to first rendered frame, the first frame held before the media
 * clock ran, latency to live of each rendered frame, the player's buffer (mark parsed to frame
 * shown), and the player's own latency estimate (a reading a second per viewer).
 */
export const BROWSER_METRICS = ['firstFrame', 'startHold', 'latency', 'buffer', 'playerEstimate'] as const;
export type BrowserMetricName = (typeof BROWSER_METRICS)[number];
/** A browser group's histogram: `browser.GROUP.METRIC` (three parts: a viewer group's key has two). */
export type BrowserHistogramKey = `browser.${string}.${BrowserMetricName}`;

/**
 * A histogram of a run: a metric over all viewers ("endToEnd"), or over the viewers of one
 * group, such as one protocol ("hls.endToEnd"), or a browser group's ("browser.hls.latency").
 */
export type HistogramKey = MetricName | `${string}.${MetricName}` | BrowserHistogramKey;

export function browserHistogramKey(group: string, metric: BrowserMetricName): BrowserHistogramKey {
  return `browser.${group}.${metric}`;
}

/** Whether a key is a browser group's (`browser.GROUP.METRIC`). */
function isBrowserKey(key: string): boolean {
  const parts = key.split('.');
  return parts.length === 3 && parts[0] === 'browser' && (BROWSER_METRICS as readonly string[]).includes(parts[2]!);
}

/** Whether a key names a histogram of a run ("hls.endToEnd", "browser.hls.latency"); false for any other. */
function isHistogramKey(key: string): boolean {
  const m = key.slice(key.lastIndexOf('.') + 1);
  return (METRICS as readonly string[]).includes(m) || isBrowserKey(key);
}

/** Each metric's short label (tables, charts) and what it measures. */
export const METRIC_INFO: Record<MetricName, { label: string; description: string }> = {
  connect: { label: 'connect', description: 'TCP (and TLS) connect' },
  handshake: { label: 'handshake', description: 'RTMP handshake' },
  playStart: { label: 'play start', description: 'connect to NetStream.Play.Start' },
  firstFrame: { label: 'first frame', description: 'play to first video frame' },
  firstKeyframe: { label: 'first keyframe', description: 'play to first keyframe' },
  endToEnd: {
    label: 'end-to-end',
    description: 'end-to-end frame latency (from the intended send time, or the actual one when earlier)',
  },
  slowEndToEnd: {
    label: 'end-to-end (slow viewers)',
    description: 'end-to-end frame latency of slow viewers (kept apart from the others)',
  },
  playout: {
    label: 'end-to-end at playout (HLS, HTTP-FLV, WS-FLV)',
    description:
      'end-to-end latency to when a player would show the frame: one that buffers as hls.js does (HLS), or ' +
      'as mpegts.js does (HTTP-FLV, WS-FLV: from the first frame sent, at 1x)',
  },
  gap: { label: 'frame gap', description: 'gap between video frames at a player (HLS: between playout times)' },
  pacing: { label: 'publisher pacing error', description: 'publisher deviation from its schedule (early or late)' },
  playlistFetch: { label: 'playlist fetch (HLS)', description: 'from a playlist request to its whole body' },
  playlistAge: {
    label: 'playlist age (HLS)',
    description: "how old the newest listed segment was when a playlist was read (from its last frame's send time)",
  },
  segmentFetch: { label: 'segment fetch (HLS)', description: 'from a segment request to its last byte' },
  resume: {
    label: 'frames again after a republish',
    description: "from a new publication's first frame to the first frame of it a viewer that stayed got",
  },
  availabilityLag: {
    label: 'segment availability lag (HLS)',
    description: "from a frame's send time to the first playlist read that listed its segment",
  },
};

export type Histogram = hdr.Histogram;

/** One hour in µs: larger values are clamped (a frame that late is a stall anyway). */
const HIGHEST_TRACKABLE_US = 3_600_000_000;

export function newHistogram(): Histogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
  });
}

export type EncodedHistograms = Partial<Record<HistogramKey, string>>;

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}

/** Records a value in µs, clamped to what a histogram holds (0 to an hour). */
export function recordUs(h: Histogram, valueUs: number): void {
  h.recordValue(valueUs < 0 ? 0 : valueUs > HIGHEST_TRACKABLE_US ? HIGHEST_TRACKABLE_US : Math.round(valueUs));
}

/**
 * Records each metric into an interval histogram (for time series); `takeInterval` folds it
 * into the cumulative one, so each value is recorded once.
 */
export class Recorder {
  readonly total = new Map<HistogramKey, Histogram>();
  private interval = new Map<HistogramKey, Histogram>();

  record(metric: HistogramKey, valueUs: number): void {
    let i = this.interval.get(metric);
    if (i === undefined) {
      i = newHistogram();
      this.interval.set(metric, i);
    }
    recordUs(i, valueUs);
  }

  /** The interval histograms since the last call, encoded; the interval starts afresh. */
  takeInterval(): EncodedHistograms {
    const out: EncodedHistograms = {};
    for (const [m, h] of this.interval) {
      if (h.totalCount === 0) continue;
      out[m] = encodeHistogram(h);
      let t = this.total.get(m);
      if (t === undefined) {
        t = newHistogram();
        this.total.set(m, t);
      }
      t.add(h);
      h.reset();
    }
    return out;
  }

  /** Everything recorded so far, encoded (an unfinished interval is folded in first). */
  encodeTotal(): EncodedHistograms {
    this.takeInterval();
    const out: EncodedHistograms = {};
    for (const [m, h] of this.total) out[m] = encodeHistogram(h);
    return out;
  }
}

/** Merges encoded histograms from many sources, key by key (exact). Keys that name no histogram are ignored. */
export function mergeEncoded(sources: readonly EncodedHistograms[]): Map<HistogramKey, Histogram> {
  const merged = new Map<HistogramKey, Histogram>();
  for (const src of sources) {
    for (const [key, enc] of Object.entries(src) as [HistogramKey, string | undefined][]) {
      if (enc === undefined || !isHistogramKey(key)) continue;
      const m = key;
      const h = decodeHistogram(enc);
      let into = merged.get(m);
      if (into === undefined) {
        into = newHistogram();
        merged.set(m, into);
      }
      into.add(h);
    }
  }
  return merged;
}

export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Count and percentiles in milliseconds (3 decimals), or zeros when nothing was recorded. */
export function summarize(h: Histogram | undefined): LatencySummary {
  if (h === undefined || h.totalCount === 0)
    return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  const ms = (us: number) => round3(us / 1000);
  // Every figure comes from the buckets (as after an encode/decode or a merge), so a histogram
  // summarizes the same whether it was recorded here or merged from workers.
  return {
    count: h.totalCount,
    min: ms(h.getValueAtPercentile(0)),
    mean: ms(h.mean),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.getValueAtPercentile(100)),
  };
}
