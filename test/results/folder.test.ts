import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newCounters } from '../../src/results/counters.js';
import {
  LEGACY_TIMELINE_FILE,
  loadRun,
  readTimeline,
  SUMMARY_FILE,
  TIMELINE_FILE,
  writeRunFolder,
  type RunFiles,
} from '../../src/results/folder.js';
import type { RunSummary } from '../../src/results/summary.js';
import type { TimelinePoint } from '../../src/results/timeline.js';

const root = mkdtempSync(join(tmpdir(), 'rtmpbench-folder-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A committed run folder: it keeps no timeline. */
const committed = 'results/baselines/capacity-batch-reads/runs/batchReads=false/2026-11-21T11-49-09-capacity';
const summary = JSON.parse(readFileSync(join(committed, SUMMARY_FILE), 'utf8')) as RunSummary;
const files: RunFiles = { summary, histograms: {}, counters: newCounters(), failures: {}, intervals: new Map() };

function point(tSec: number): TimelinePoint {
  return {
    tSec,
    publishersUp: 1,
    playersUp: 10,
    mbpsReceived: 6,
    framesReceived: 300,
    errors: 0,
    endToEndP50Ms: 20,
    endToEndP99Ms: 40,
    endToEndP999Ms: 41,
    generatorCpuPct: 12,
    serverCpuPct: 30,
    serverRssBytes: 1e8,
  };
}

function fresh(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe("a run folder's timeline", () => {
  it('is written as timeline.ndjson, one point a line, and read back the same', () => {
    const dir = fresh('written');
    const points = [point(1), point(2), { ...point(2.4), durationSec: 0.4 }];
    writeRunFolder(dir, { ...files, timeline: points });
    expect(readFileSync(join(dir, TIMELINE_FILE), 'utf8').trimEnd().split('\n')).toHaveLength(3);
    expect(existsSync(join(dir, LEGACY_TIMELINE_FILE))).toBe(false);
    expect(loadRun(dir).timeline).toEqual(points);
  });

  it('stays as the run streamed it when the run gives none at its end', () => {
    const dir = fresh('streamed');
    writeFileSync(join(dir, TIMELINE_FILE), `${JSON.stringify(point(1))}\n`);
    writeRunFolder(dir, files);
    expect(loadRun(dir).timeline).toEqual([point(1)]);
  });

  it('is read from timeline.json in folders written before timeline.ndjson was the only one', () => {
    const dir = fresh('legacy');
    copyFileSync(join(committed, SUMMARY_FILE), join(dir, SUMMARY_FILE));
    writeFileSync(join(dir, LEGACY_TIMELINE_FILE), JSON.stringify([point(1), point(2)], null, 2));
    expect(loadRun(dir).timeline).toEqual([point(1), point(2)]);
  });

  it('leaves out a last line a stopped run cut short, and refuses a bad line before the end', () => {
    const dir = fresh('cut');
    const whole = `${JSON.stringify(point(1))}\n${JSON.stringify(point(2))}\n`;
    writeFileSync(join(dir, TIMELINE_FILE), `${whole}{"tSec":3,"publishe`);
    expect(readTimeline(dir)).toEqual([point(1), point(2)]);
    writeFileSync(join(dir, TIMELINE_FILE), `{"tSec":1,\n${whole}`);
    expect(() => readTimeline(dir)).toThrow(/line 1 is not valid JSON/);
  });

  it('is empty for a folder kept without one, as committed baselines are', () => {
    expect(existsSync(join(committed, TIMELINE_FILE)) || existsSync(join(committed, LEGACY_TIMELINE_FILE))).toBe(false);
    expect(loadRun(committed).timeline).toEqual([]);
  });
});
