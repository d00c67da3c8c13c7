import type { JsHistogram } from 'hdr-histogram-js';
import type { TimelinePoint } from '../results/timeline.js';
import {
  decodeHistogram,
  mergeEncoded,
  METRIC_INFO,
  type EncodedHistograms,
  type Histogram,
  type MetricName,
  type HistogramKey,
} from '../metrics/histograms.js';
import { round3 } from '../metrics/round.js';
import { FRONTIER_FIGURES, type ComparisonTable } from './comparison.js';
import type { LoadedComparison, LoadedRun } from '../results/folder.js';

/**
 * Chart specifications: the data of every chart, computed here from the result files. The
 * page only draws them (src/report/html.ts), so what a chart shows is decided and testable in
 * one place.
 */

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  /** Drawn as bars (the default is a line). */
  bars?: boolean;
  /** Points only (e.g. min and max whiskers). */
  points?: boolean;
}

export interface ChartSpec {
  id: string;
  title: string;
  /** What the chart says, under the title. */
  note?: string;
  x: {
    label: string;
    values: number[];
    log?: boolean;
    format?: 'percentile' | 'seconds' | 'category' | 'ms';
    categories?: string[];
  };
  y: { label: string; log?: boolean };
  series: ChartSeries[];
}

/** Percentile ladder of an HdrHistogram plot: x = 1 / (1 - p), up to what the count supports. */
function spectrum(h: Histogram): { x: number[]; ms: number[] } {
  const x: number[] = [];
  const ms: number[] = [];
  if (h.totalCount === 0) return { x, ms };
  const limit = Math.max(10, h.totalCount);
  for (let i = 0; ; i++) {
    const p = 1 - 10 ** (-i / 10);
    const inv = 1 / (1 - p);
    if (inv > limit || i > 70) break;
    x.push(round3(inv));
    ms.push(h.getValueAtPercentile(p * 100) / 1000);
  }
  return { x, ms };
}

/** Counts in log-spaced bins (ms), from every recorded value of the histogram. */
function distribution(h: Histogram, bins = 24): { edgesMs: number[]; counts: number[] } {
  if (h.totalCount === 0) return { edgesMs: [], counts: [] };
  const minUs = Math.max(1, h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 1 : h.minNonZeroValue);
  const maxUs = Math.max(minUs * 1.01, h.maxValue);
  const lo = Math.log10(minUs);
  const step = (Math.log10(maxUs) - lo) / bins;
  const edgesMs = Array.from({ length: bins + 1 }, (_, i) => 10 ** (lo + i * step) / 1000);
  const counts = new Array<number>(bins).fill(0);
  const it = (h as unknown as JsHistogram).recordedValuesIterator;
  it.reset();
  while (it.hasNext()) {
    const v = it.next();
    const ms = v.valueIteratedTo / 1000;
    let b = Math.floor((Math.log10(Math.max(1, v.valueIteratedTo)) - lo) / step);
    if (b < 0 || ms <= 0) b = 0;
    if (b >= bins) b = bins - 1;
    counts[b]! += v.countAtValueIteratedTo;
  }
  return { edgesMs, counts };
}

const SPECTRUM_METRICS: MetricName[] = ['endToEnd', 'slowEndToEnd', 'firstFrame', 'playStart', 'handshake', 'connect'];

/** Puts several spectra on one x axis (the longest ladder); shorter ones end with nulls. */
function spectrumChart(
  id: string,
  title: string,
  series: { label: string; h: Histogram }[],
  note: string,
): ChartSpec | null {
  const lines = series.map((s) => ({ label: s.label, ...spectrum(s.h) })).filter((s) => s.x.length > 0);
  if (lines.length === 0) return null;
  const x = lines.reduce((a, b) => (b.x.length > a.length ? b.x : a), [] as number[]);
  return {
    id,
    title,
    note,
    x: { label: 'percentile', values: x, log: true, format: 'percentile' },
    y: { label: 'ms', log: true },
    series: lines.map((l) => ({
      label: l.label,
      values: x.map((_, i) => (i < l.ms.length ? Math.max(0.001, l.ms[i]!) : null)),
    })),
  };
}

function decoded(encoded: EncodedHistograms): Map<HistogramKey, Histogram> {
  const out = new Map<HistogramKey, Histogram>();
  for (const [m, e] of Object.entries(encoded) as [MetricName, string][]) out.set(m, decodeHistogram(e));
  return out;
}

function timeChart(
  id: string,
  title: string,
  t: TimelinePoint[],
  y: string,
  series: [string, (p: TimelinePoint) => number | null][],
  note?: string,
  log = false,
): ChartSpec | null {
  if (t.length === 0) return null;
  const s = series.map(([label, f]) => ({ label, values: t.map(f) })).filter((x) => x.values.some((v) => v !== null));
  if (s.length === 0) return null;
  return {
    id,
    title,
    ...(note ? { note } : {}),
    x: { label: 's', values: t.map((p) => p.tSec), format: 'seconds' },
    y: { label: y, log },
    series: s,
  };
}

function distributionChart(id: string, title: string, h: Histogram | undefined, note: string): ChartSpec | null {
  if (h === undefined || h.totalCount === 0) return null;
  const d = distribution(h);
  return {
    id,
    title,
    note,
    x: {
      label: 'ms',
      values: d.counts.map((_, i) => i),
      format: 'category',
      categories: d.counts.map((_, i) => `${fmt(d.edgesMs[i]!)}–${fmt(d.edgesMs[i + 1]!)}`),
    },
    y: { label: 'players' },
    series: [{ label: 'players', values: d.counts, bars: true }],
  };
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

const PARTIAL_NOTE = 'A second not every worker reported is left out (a gap), never drawn as zero.';

/** Sums over workers mean nothing for a second only some of them reported: left as gaps. */
const whole =
  (f: (p: TimelinePoint) => number | null) =>
  (p: TimelinePoint): number | null =>
    p.partial === true ? null : f(p);

/** The server's memory and descriptors against the sessions that ended: the leak verdict's slope, drawn. */
function leakCharts(run: LoadedRun): ChartSpec[] {
  const t = run.timeline.filter(
    (p) => p.durationSec === undefined && typeof p.sessionsEnded === 'number' && p.serverRssBytes !== null,
  );
  if (t.length < 2 || (t[t.length - 1]!.sessionsEnded ?? 0) === 0) return [];
  const verdict = run.summary.server?.leak;
  const own = run.summary.generator.leak;
  const x = { label: 'sessions ended', values: t.map((p) => p.sessionsEnded!) };
  const out: ChartSpec[] = [
    {
      id: 'leak-rss',
      title: 'Server and generator memory against the sessions that ended',
      note:
        verdict !== undefined
          ? `Leak verdict: server ${verdict.verdict} ` +
            `(${verdict.reason})${own !== undefined ? `; generator ${own.verdict} (${own.reason})` : ''}.`
          : 'Memory that grows with the sessions that ended is a leak; memory that comes back between waves is not.',
      x,
      y: { label: 'RSS MB' },
      series: [
        { label: 'server RSS MB', values: t.map((p) => Math.round((p.serverRssBytes! / 1e6) * 10) / 10) },
        // The generator's own, judged by the same rule (generator.leak).
        {
          label: 'generator RSS MB',
          values: t.map((p) =>
            typeof p.generatorRssBytes === 'number' ? Math.round((p.generatorRssBytes / 1e6) * 10) / 10 : null,
          ),
        },
      ],
    },
  ];
  if (t.some((p) => typeof p.serverFds === 'number')) {
    out.push({
      id: 'leak-fds',
      title: 'Server descriptors against the sessions that ended',
      x,
      y: { label: 'descriptors' },
      series: [
        { label: 'open descriptors', values: t.map((p) => p.serverFds ?? null) },
        { label: 'threads', values: t.map((p) => p.serverThreads ?? null) },
      ],
    });
  }
  return out;
}

/**
 * Each named viewer group's end-to-end p99 second by second, with when the groups on a schedule of
 * their own joined.
 */
function groupChart(run: LoadedRun): ChartSpec[] {
  const groups = Object.entries(run.summary.byGroup ?? {});
  const seconds = Math.max(0, ...groups.map(([, g]) => g.endToEndP99MsBySecond.length));
  if (groups.length === 0 || seconds === 0) return [];
  const joins = groups
    .filter(([, g]) => g.startSec !== undefined)
    .map(([n, g]) => `${n} joined from ${g.startSec} s over ${g.rampSec} s`);
  return [
    {
      id: 'groups-time',
      title: 'End-to-end p99 of each viewer group, second by second',
      ...(joins.length > 0 ? { note: `${joins.join('; ')}.` } : {}),
      x: { label: 's', values: Array.from({ length: seconds }, (_, i) => i + 1), format: 'seconds' },
      y: { label: 'ms', log: true },
      series: groups.map(([name, g]) => ({
        label: name,
        values: Array.from({ length: seconds }, (_, i) => g.endToEndP99MsBySecond[i] ?? null),
      })),
    },
  ];
}

/** Every chart of one run's report. */
export function runCharts(run: LoadedRun): ChartSpec[] {
  return [...chartsOf(decoded(run.histograms), run.timeline), ...groupChart(run), ...leakCharts(run)];
}

/**
 * The charts of a run from its histograms and time series: a finished run's, or a run's so far (the
 * live dashboard).
 */
export function chartsOf(h: ReadonlyMap<HistogramKey, Histogram>, t: TimelinePoint[]): ChartSpec[] {
  const charts: (ChartSpec | null)[] = [
    spectrumChart(
      'spectrum',
      'Latency by percentile',
      SPECTRUM_METRICS.filter((m) => (h.get(m)?.totalCount ?? 0) > 0).map((m) => ({
        label: METRIC_INFO[m].label,
        h: h.get(m)!,
      })),
      'HdrHistogram percentile spectrum over the whole run (after warm-up); both axes logarithmic.',
    ),
    timeChart(
      'latency-time',
      'End-to-end latency over time',
      t,
      'ms',
      [
        ['p50', (p) => p.endToEndP50Ms],
        ['p99', (p) => p.endToEndP99Ms],
        ['p99.9', (p) => p.endToEndP999Ms ?? null],
        ['generator timer delay p99', (p) => p.generatorEventLoopDelayP99Ms ?? null],
      ],
      "The generator's own timer delay beside the latency: when it is high, the latency includes it.",
    ),
    timeChart(
      'throughput-time',
      'Throughput over time',
      t,
      'Mbps',
      [['received by players', whole((p) => p.mbpsReceived)]],
      PARTIAL_NOTE,
    ),
    timeChart(
      'sessions-time',
      'Sessions over time',
      t,
      'sessions',
      [
        ['players', whole((p) => p.playersUp)],
        ['publishers', whole((p) => p.publishersUp)],
        ['errors (total)', (p) => p.errors],
      ],
      PARTIAL_NOTE,
    ),
    timeChart('cpu-time', 'CPU over time', t, '% of one core', [
      ['server', (p) => p.serverCpuPct ?? null],
      ['generator', (p) => p.generatorCpuPct ?? null],
      [
        'generator event loop, % busy (busiest thread)',
        (p) =>
          p.generatorEventLoopUtilization === undefined || p.generatorEventLoopUtilization === null
            ? null
            : Math.round(p.generatorEventLoopUtilization * 1000) / 10,
      ],
    ]),
    distributionChart(
      'first-frame',
      'Time to first frame',
      h.get('firstFrame'),
      'Players by time from play to their first video frame (log-spaced bins).',
    ),
  ];
  return charts.filter((c): c is ChartSpec => c !== null);
}

/**
 * Server CPU per viewer against e2e p99, one point per variant: the ones nearest the origin on both
 * axes are the frontier.
 */
function frontierChart(table: ComparisonTable): ChartSpec | null {
  const [cpuKey, p99Key] = FRONTIER_FIGURES;
  const placed = table.rows.filter((r) => r.onFrontier !== null);
  if (placed.length < 2) return null;
  const xs = [...new Set(placed.map((r) => r.figures[cpuKey]!.mean!))].sort((a, b) => a - b);
  return {
    id: 'frontier',
    title: 'Server CPU against end-to-end p99',
    note: `One point per variant (means over repeats); lower on both is better. On the frontier: ${placed
      .filter((r) => r.onFrontier)
      .map((r) => r.name)
      .join(', ')}.`,
    x: { label: 'server CPU s per 1000 player-minutes', values: xs },
    y: { label: 'e2e p99 ms' },
    series: placed.map((r) => ({
      label: `${r.name}${r.onFrontier ? ' ◆' : ''}`,
      values: xs.map((x) => (x === r.figures[cpuKey]!.mean ? r.figures[p99Key]!.mean : null)),
      points: true,
    })),
  };
}

/** Every chart of a comparison's report. */
export function comparisonCharts(c: LoadedComparison, table: ComparisonTable): ChartSpec[] {
  const charts: ChartSpec[] = [];
  const names = table.rows.map((r) => r.name);
  for (const f of table.figures) {
    const rows = table.rows.map((r) => r.figures[f.key]!);
    if (rows.every((r) => r.mean === null)) continue;
    const several = rows.some((r) => r.values.filter((v) => v !== null).length > 1);
    charts.push({
      id: `bars-${f.key}`,
      title: f.label,
      note:
        `Mean over repeats${several ? ' (bars), with the lowest and highest run (points)' : ''}; ` +
        (f.better === 'neither' ? 'neither higher nor lower is better.' : `${f.better} is better.`),
      x: { label: 'variant', values: names.map((_, i) => i), format: 'category', categories: names },
      y: { label: f.unit || 'count' },
      series: [
        { label: 'mean', values: rows.map((r) => r.mean), bars: true },
        ...(several
          ? [
              { label: 'min', values: rows.map((r) => r.min), points: true },
              { label: 'max', values: rows.map((r) => r.max), points: true },
            ]
          : []),
      ],
    });
  }
  const frontier = frontierChart(table);
  if (frontier !== null) charts.push(frontier);
  // Spectra per variant, each over all its repeats (merged exactly).
  const merged = new Map<string, Map<HistogramKey, Histogram>>();
  for (const [name, runs] of c.runs) merged.set(name, mergeEncoded(runs.map((r) => r.run.histograms)));
  for (const [metric, label] of [
    ['endToEnd', 'End-to-end latency by percentile'],
    ['firstFrame', 'Time to first frame by percentile'],
    ['slowEndToEnd', 'Slow viewers: end-to-end latency by percentile'],
  ] as [MetricName, string][]) {
    const series = names
      .map((n) => ({ label: n, h: merged.get(n)?.get(metric) }))
      .filter((s): s is { label: string; h: Histogram } => (s.h?.totalCount ?? 0) > 0);
    const chart = spectrumChart(
      `spectrum-${metric}`,
      label,
      series,
      'Each variant over all its repeats; both axes logarithmic.',
    );
    if (chart !== null) charts.push(chart);
  }
  // p99 over time, first run of each variant.
  const firstRuns = names.map((n) => ({ n, t: c.runs.get(n)?.[0]?.run.timeline ?? [] })).filter((x) => x.t.length > 0);
  if (firstRuns.length > 0) {
    const secs = [...new Set(firstRuns.flatMap((r) => r.t.map((p) => p.tSec)))].sort((a, b) => a - b);
    charts.push({
      id: 'latency-time',
      title: 'End-to-end p99 over time (first run of each variant)',
      x: { label: 's', values: secs, format: 'seconds' },
      y: { label: 'ms', log: true },
      series: firstRuns.map((r) => ({
        label: r.n,
        values: secs.map((s) => r.t.find((p) => p.tSec === s)?.endToEndP99Ms ?? null),
      })),
    });
  }
  return charts;
}
