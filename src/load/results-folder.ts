import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EncodedHistograms, MetricName } from '../metrics/histograms.js';
import { formatHlog, type IntervalHistogram } from '../metrics/hlog.js';
import type { TimelinePoint } from './orchestrator.js';
import type { ShardCounters } from './shard.js';
import type { RunSummary } from './summary.js';

/**
 * A run's results folder: summary.json (what people and reports read), timeline.json (per
 * second), histograms.json and counters.json (the exact totals `rtmpbench merge` adds up), and
 * one HdrHistogram log (.hlog) per metric with a histogram per second.
 */
export interface ResultFiles {
  summary: RunSummary;
  timeline: TimelinePoint[];
  histograms: EncodedHistograms;
  counters: { counters: ShardCounters; failures: Record<string, number> };
  intervals: Map<MetricName, IntervalHistogram[]>;
}

/** A fresh folder ROOT/<start time>-<name>[-k]. */
export function newResultsDir(root: string, startedAt: Date, name: string): string {
  const stamp = startedAt.toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
  let dir = join(root, `${stamp}-${name}`);
  for (let k = 2; existsSync(dir); k++) dir = join(root, `${stamp}-${name}-${k}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function writeResultFiles(dir: string, r: ResultFiles): void {
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  writeFileSync(join(dir, 'summary.json'), json(r.summary));
  writeFileSync(join(dir, 'timeline.json'), json(r.timeline));
  writeFileSync(join(dir, 'histograms.json'), json(r.histograms));
  writeFileSync(join(dir, 'counters.json'), json(r.counters));
  const startMs = Date.parse(r.summary.startedAt);
  for (const [metric, intervals] of r.intervals) {
    if (intervals.length === 0) continue;
    writeFileSync(join(dir, `${metric}.hlog`), formatHlog(intervals, startMs, `rtmpbench ${r.summary.name}: ${metric} (values in µs)`));
  }
}
