import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../input/usage-error.js';
import type { ProtocolKey } from '../protocol/delivery.js';
import type { EncodedHistograms, HistogramKey } from '../metrics/histograms.js';
import { formatHlog, parseHlog, type EncodedInterval, type IntervalHistogram } from '../metrics/hlog.js';
import type { BrowserData } from './browser.js';
import { COMPARISON_FILE, type ComparisonFile } from './comparison-file.js';
import { countersFromFile, countersToFile, type Counters } from './counters.js';
import { SUMMARY_SCHEMA_VERSION, type RunSummary } from './summary.js';
import { parseTimelineLines, timelineLine, type TimelinePoint } from './timeline.js';

/**
 * Results folders, written and read in this one place. A run's folder holds summary.json (what
 * people and reports read), timeline.ndjson (a point per second, one JSON line each, streamed
 * as the run goes), histograms.json and counters.json (the exact totals `rtmpbench merge` adds
 * up), and one HdrHistogram log (.hlog) per metric with a histogram per second. A comparison's
 * folder holds compare.json and runs/<variant>/<run>/. Folders written before timeline.ndjson
 * was the only timeline hold timeline.json (the same points as one array); both are read.
 * Committed baselines keep neither timelines nor .hlog files: what reads them finds none.
 */

export const SUMMARY_FILE = 'summary.json';
export const TIMELINE_FILE = 'timeline.ndjson';
/** The timeline as one JSON array, as folders written before timeline.ndjson alone have it. */
export const LEGACY_TIMELINE_FILE = 'timeline.json';
const HISTOGRAMS_FILE = 'histograms.json';
const COUNTERS_FILE = 'counters.json';

export interface RunFiles {
  summary: RunSummary;
  /** Written as timeline.ndjson; left out when the run streamed that file itself (TimelineStream). */
  timeline?: TimelinePoint[];
  histograms: EncodedHistograms;
  counters: Counters;
  failures: Record<string, number>;
  /**
   * Each viewer protocol's counters and the HTTP errors by "protocol status", in runs with HTTP
   * viewers or several protocols.
   */
  byProtocol?: Partial<Record<ProtocolKey, Counters>>;
  httpErrors?: Record<string, number>;
  /** Browser viewers' counts and cost (their histograms are in `histograms`), in runs with them. */
  browser?: BrowserData;
  intervals: Map<HistogramKey, (IntervalHistogram | EncodedInterval)[]>;
}

/** A run read back: what `report`, `merge` and comparisons work from (never re-measuring). */
export interface LoadedRun {
  dir: string;
  summary: RunSummary;
  timeline: TimelinePoint[];
  histograms: EncodedHistograms;
  /** The exact totals (null for a folder written without them); per protocol where the run wrote them. */
  counters: {
    counters: Counters;
    failures: Record<string, number>;
    byProtocol?: Partial<Record<ProtocolKey, Counters>>;
    httpErrors?: Record<string, number>;
    browser?: BrowserData;
  } | null;
}

export interface LoadedComparison {
  dir: string;
  file: ComparisonFile;
  /** The completed runs, by variant, in round order. */
  runs: Map<string, { round: number; run: LoadedRun }[]>;
}

/** `<start time>-<name>`: the name of every results folder (runs, comparisons, merges, reports). */
export function resultsFolderName(startedAt: Date, name: string): string {
  return `${startedAt.toISOString().replace(/[:]/g, '-').replace(/\..*$/, '')}-${name}`;
}

/** A fresh folder ROOT/<start time>-<name>[-k]. */
export function newResultsDir(root: string, startedAt: Date, name: string): string {
  const base = join(root, resultsFolderName(startedAt, name));
  let dir = base;
  for (let k = 2; existsSync(dir); k++) dir = `${base}-${k}`;
  mkdirSync(dir, { recursive: true });
  return dir;
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

export function writeRunFolder(dir: string, r: RunFiles): void {
  writeFileSync(join(dir, SUMMARY_FILE), json(r.summary));
  if (r.timeline !== undefined) writeFileSync(join(dir, TIMELINE_FILE), r.timeline.map(timelineLine).join(''));
  writeFileSync(join(dir, HISTOGRAMS_FILE), json(r.histograms));
  const byProtocol =
    r.byProtocol === undefined
      ? {}
      : {
          byProtocol: Object.fromEntries(
            (Object.entries(r.byProtocol) as [ProtocolKey, Counters][]).map(([k, c]) => [k, countersToFile(c)]),
          ),
        };
  writeFileSync(
    join(dir, COUNTERS_FILE),
    json({
      counters: countersToFile(r.counters),
      failures: r.failures,
      ...byProtocol,
      ...(r.httpErrors !== undefined ? { httpErrors: r.httpErrors } : {}),
      ...(r.browser !== undefined ? { browser: r.browser } : {}),
    }),
  );
  const startMs = Date.parse(r.summary.startedAt);
  for (const [metric, intervals] of r.intervals) {
    if (intervals.length === 0) continue;
    writeFileSync(
      hlogPath(dir, metric),
      formatHlog(intervals, startMs, `rtmpbench ${r.summary.name}: ${metric} (values in µs)`),
    );
  }
}

export function writeComparisonFile(dir: string, file: ComparisonFile): void {
  writeFileSync(join(dir, COMPARISON_FILE), json(file));
}

export function hlogPath(dir: string, metric: HistogramKey): string {
  return join(dir, `${metric}.hlog`);
}

/** The per-second histograms of one metric (none when the run recorded no value of it). */
export function readIntervals(dir: string, metric: HistogramKey): IntervalHistogram[] {
  const path = hlogPath(dir, metric);
  return existsSync(path) ? parseHlog(readFileSync(path, 'utf8')) : [];
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

function readJson<T>(path: string, what: string): T {
  const text = readText(path, what);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new UsageError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** A run's timeline: timeline.ndjson, else a version-1 folder's timeline.json, else none (a folder kept without it). */
export function readTimeline(dir: string): TimelinePoint[] {
  const path = join(dir, TIMELINE_FILE);
  if (existsSync(path)) {
    const points = parseTimelineLines(readText(path, 'the timeline'));
    if (!Array.isArray(points)) throw new UsageError(`${path}: line ${points.badLine} is not valid JSON`);
    return points;
  }
  const legacy = join(dir, LEGACY_TIMELINE_FILE);
  return existsSync(legacy) ? readJson<TimelinePoint[]>(legacy, 'the timeline') : [];
}

export function isComparisonDir(dir: string): boolean {
  return existsSync(join(dir, COMPARISON_FILE));
}

export function loadRun(dir: string): LoadedRun {
  const summaryPath = join(dir, SUMMARY_FILE);
  if (!existsSync(summaryPath)) {
    throw new UsageError(
      `${dir} is not a results folder (no ${SUMMARY_FILE}${isComparisonDir(dir) ? '' : ` or ${COMPARISON_FILE}`})`,
    );
  }
  const summary = readJson<RunSummary>(summaryPath, 'the summary');
  if (summary.schemaVersion !== SUMMARY_SCHEMA_VERSION) {
    throw new UsageError(
      `${summaryPath} has schemaVersion ${summary.schemaVersion}; this rtmpbench reads ${SUMMARY_SCHEMA_VERSION}`,
    );
  }
  const opt = <T>(file: string, fallback: T): T =>
    existsSync(join(dir, file)) ? readJson<T>(join(dir, file), file) : fallback;
  const counters = opt<{
    counters: unknown;
    failures: Record<string, number>;
    byProtocol?: Record<string, unknown>;
    httpErrors?: Record<string, number>;
    browser?: BrowserData;
  } | null>(COUNTERS_FILE, null);
  return {
    dir,
    summary,
    timeline: readTimeline(dir),
    histograms: opt<EncodedHistograms>(HISTOGRAMS_FILE, {}),
    counters:
      counters === null
        ? null
        : {
            counters: countersFromFile(counters.counters),
            failures: counters.failures ?? {},
            ...(counters.byProtocol !== undefined
              ? {
                  byProtocol: Object.fromEntries(
                    Object.entries(counters.byProtocol).map(([k, c]) => [k, countersFromFile(c)]),
                  ) as Partial<Record<ProtocolKey, Counters>>,
                }
              : {}),
            ...(counters.httpErrors !== undefined ? { httpErrors: counters.httpErrors } : {}),
            ...(counters.browser !== undefined ? { browser: counters.browser } : {}),
          },
  };
}

export function loadComparison(dir: string): LoadedComparison {
  const file = readJson<ComparisonFile>(join(dir, COMPARISON_FILE), 'the comparison');
  if (file.kind !== 'comparison' || file.schemaVersion !== 1)
    throw new UsageError(`${join(dir, COMPARISON_FILE)} is not an rtmpbench comparison (schemaVersion 1)`);
  const runs = new Map<string, { round: number; run: LoadedRun }[]>();
  for (const v of file.variants) runs.set(v.name, []);
  for (const r of file.runs) {
    if (r.dir === null) continue;
    runs.get(r.variant)?.push({ round: r.round, run: loadRun(resolve(dir, r.dir)) });
  }
  for (const list of runs.values()) list.sort((a, b) => a.round - b.round);
  return { dir, file, runs };
}
