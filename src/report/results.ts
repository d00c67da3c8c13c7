import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../protocol/errors.js';
import { COMPARISON_FILE, type ComparisonFile } from '../load/compare.js';
import type { TimelinePoint } from '../load/orchestrator.js';
import type { ShardCounters } from '../load/shard.js';
import { SUMMARY_SCHEMA_VERSION, type RunSummary } from '../load/summary.js';
import type { EncodedHistograms } from '../metrics/histograms.js';

/** Reading results folders back: what `report` and `merge` work from (never re-measuring). */

export interface LoadedRun {
  dir: string;
  summary: RunSummary;
  timeline: TimelinePoint[];
  histograms: EncodedHistograms;
  counters: { counters: ShardCounters; failures: Record<string, number> } | null;
}

export interface LoadedComparison {
  dir: string;
  file: ComparisonFile;
  /** The completed runs, by variant, in round order. */
  runs: Map<string, { round: number; run: LoadedRun }[]>;
}

function readJson<T>(path: string, what: string): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export function isComparisonDir(dir: string): boolean {
  return existsSync(join(dir, COMPARISON_FILE));
}

export function loadRun(dir: string): LoadedRun {
  const summaryPath = join(dir, 'summary.json');
  if (!existsSync(summaryPath)) {
    throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `${dir} is not a results folder (no summary.json${isComparisonDir(dir) ? '' : ' or compare.json'})`);
  }
  const summary = readJson<RunSummary>(summaryPath, 'the summary');
  if (summary.schemaVersion !== SUMMARY_SCHEMA_VERSION) {
    throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `${summaryPath} has schemaVersion ${summary.schemaVersion}; this rtmpbench reads ${SUMMARY_SCHEMA_VERSION}`);
  }
  const opt = <T>(file: string, fallback: T): T => (existsSync(join(dir, file)) ? readJson<T>(join(dir, file), file) : fallback);
  return {
    dir,
    summary,
    timeline: opt<TimelinePoint[]>('timeline.json', []),
    histograms: opt<EncodedHistograms>('histograms.json', {}),
    counters: opt<LoadedRun['counters']>('counters.json', null),
  };
}

export function loadComparison(dir: string): LoadedComparison {
  const file = readJson<ComparisonFile>(join(dir, COMPARISON_FILE), 'the comparison');
  if (file.kind !== 'comparison' || file.schemaVersion !== 1) throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `${join(dir, COMPARISON_FILE)} is not an rtmpbench comparison (schemaVersion 1)`);
  const runs = new Map<string, { round: number; run: LoadedRun }[]>();
  for (const v of file.variants) runs.set(v.name, []);
  for (const r of file.runs) {
    if (r.dir === null) continue;
    runs.get(r.variant)?.push({ round: r.round, run: loadRun(resolve(dir, r.dir)) });
  }
  for (const list of runs.values()) list.sort((a, b) => a.round - b.round);
  return { dir, file, runs };
}
