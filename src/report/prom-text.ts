import type { JsHistogram } from 'hdr-histogram-js';
import type { Histogram } from '../metrics/histograms.js';

/**
 * The Prometheus text exposition format (version 0.0.4): metric families with HELP and TYPE
 * lines, counters, gauges and histograms (cumulative `_bucket{le}` series, `_sum`, `_count`).
 * Latency HdrHistograms become Prometheus histograms with fixed bucket bounds.
 */

export const PROM_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type PromLabels = Readonly<Record<string, string>>;

export interface PromSample {
  labels: PromLabels;
  value: number;
}

export interface PromHistogramSample {
  labels: PromLabels;
  /** Upper bounds (seconds, ascending) and the count of observations at or below each. */
  buckets: readonly { le: number; count: number }[];
  count: number;
  sum: number;
}

export type PromFamily =
  | { name: string; help: string; type: 'counter' | 'gauge'; samples: PromSample[] }
  | { name: string; help: string; type: 'histogram'; samples: PromHistogramSample[] };

/**
 * Bucket bounds for latencies, seconds: from half a millisecond (loopback end-to-end) to a
 * minute (a viewer waiting for a stream), about three per decade.
 */
export const LATENCY_BUCKETS_SEC = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: PromLabels, extra?: [string, string]): string {
  const all = Object.entries(labels);
  if (extra !== undefined) all.push(extra);
  return all.length === 0 ? '' : `{${all.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

export function formatFamilies(families: readonly PromFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type !== 'histogram') {
      for (const s of f.samples) out.push(`${f.name}${labelText(s.labels)} ${num(s.value)}`);
      continue;
    }
    for (const s of f.samples) {
      for (const b of s.buckets) out.push(`${f.name}_bucket${labelText(s.labels, ['le', num(b.le)])} ${b.count}`);
      out.push(`${f.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${s.count}`);
      out.push(`${f.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      out.push(`${f.name}_count${labelText(s.labels)} ${s.count}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** An HdrHistogram of µs as a Prometheus histogram in seconds (counts per bucket from every recorded value). */
export function histogramSample(
  labels: PromLabels,
  h: Histogram | undefined,
  boundsSec: readonly number[] = LATENCY_BUCKETS_SEC,
): PromHistogramSample {
  const counts = new Array<number>(boundsSec.length).fill(0);
  if (h === undefined || h.totalCount === 0)
    return { labels, buckets: boundsSec.map((le) => ({ le, count: 0 })), count: 0, sum: 0 };
  const it = (h as unknown as JsHistogram).recordedValuesIterator;
  it.reset();
  while (it.hasNext()) {
    const v = it.next();
    const sec = v.valueIteratedTo / 1e6;
    // The first bound at or above the value (bounds are few: a linear scan).
    let i = 0;
    while (i < boundsSec.length && sec > boundsSec[i]!) i++;
    if (i < boundsSec.length) counts[i]! += v.countAtValueIteratedTo;
  }
  let cumulative = 0;
  const buckets = boundsSec.map((le, i) => {
    cumulative += counts[i]!;
    return { le, count: cumulative };
  });
  return { labels, buckets, count: h.totalCount, sum: Math.round(((h.mean * h.totalCount) / 1e6) * 1e6) / 1e6 };
}
