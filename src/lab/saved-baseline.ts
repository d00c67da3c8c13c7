import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../input/usage-error.js';
import { isComparisonDir, loadComparison, loadRun, SUMMARY_FILE } from '../results/folder.js';

/**
 * A baseline read from results saved earlier (`compare --against DIR`), for one build compared
 * with what another build measured before: a comparison's folder (the runs of its variant of
 * the same name, else of its baseline), one run's folder, or a folder of run folders (several
 * `rtmpbench run --out DIR`). Its runs take the rounds in order. It was not interleaved with the
 * runs it is compared with, so a change of machine or load counts as a difference.
 */

export interface SavedBaseline {
  dir: string;
  startedAt: string;
  /** Absolute results folders, one per round. */
  runs: string[];
}

function runFoldersIn(dir: string): string[] {
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((p) => statSync(p).isDirectory() && existsSync(join(p, SUMMARY_FILE)))
    .sort();
}

export function loadSavedBaseline(dir: string, variant?: string): SavedBaseline {
  const abs = resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new UsageError(`--against: ${dir} is not a folder`);
  let runs: string[];
  if (isComparisonDir(abs)) {
    const c = loadComparison(abs);
    const name = variant !== undefined && c.runs.has(variant) ? variant : c.file.baseline;
    runs = (c.runs.get(name) ?? []).map((r) => resolve(r.run.dir));
  } else if (existsSync(join(abs, SUMMARY_FILE))) {
    runs = [abs];
  } else {
    runs = runFoldersIn(abs);
  }
  if (runs.length === 0)
    throw new UsageError(
      `--against: ${dir} holds no results (a comparison folder, a run folder, or a folder of run folders)`,
    );
  const startedAt = loadRun(runs[0]!).summary.startedAt;
  return { dir: abs, startedAt, runs };
}
