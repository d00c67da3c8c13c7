import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  parseFolded,
  profileDifference,
  type FoldedStacks,
  type FunctionDifference,
} from '../metrics/stack-samples.js';
import type { LoadedComparison, LoadedRun } from '../results/folder.js';
import type { RunSummary } from '../results/summary.js';
import { flameGraphAssets, flameGraphHtml } from './flame-graph.js';
import { escapeHtml, htmlTable, type HtmlSection } from './html.js';

/** The server profile's parts of the reports (`--profile-server`): its top functions, and a comparison's difference. */

/** Longest function name shown in a table (JavaScript frames carry their file path). */
const NAME_MAX = 90;

function shortFrame(name: string): string {
  return name.length > NAME_MAX ? `${name.slice(0, NAME_MAX - 1)}…` : name;
}

/** One line that says what the profile is and where its files are; null without one. */
export function profileTitle(s: RunSummary): string | null {
  const p = s.serverProfile;
  if (p === undefined) return null;
  return (
    `server CPU profile: ${p.samples.toLocaleString('en-US')} samples (perf ${p.event} ${p.frequencyHz} Hz, ` +
    `pid ${p.pids.join(',')}); top functions by self samples; files ${p.files.folded}, ${p.files.speedscope}`
  );
}

/** The top functions table (header first), or null when the run has no server profile. */
export function profileRows(s: RunSummary): (string | number)[][] | null {
  const p = s.serverProfile;
  if (p === undefined) return null;
  return [
    ['function', 'self %', 'total %', 'self samples'],
    ...p.top.map((f) => [shortFrame(f.name), f.selfPercent.toFixed(1), f.totalPercent.toFixed(1), f.selfSamples]),
  ];
}

/** The HTML report's section: the flame graph (from the folded stacks in the folder) and the top functions. */
export function profileSection(run: LoadedRun): HtmlSection | null {
  const s = run.summary;
  const rows = profileRows(s);
  if (s.serverProfile === undefined || rows === null) return null;
  const folded = join(run.dir, s.serverProfile.files.folded);
  const graph = existsSync(folded)
    ? flameGraphAssets() +
      `<div class="scroll">${flameGraphHtml(parseFolded(readFileSync(folded, 'utf8')), 'server-flame-graph', 'server CPU flame graph')}</div>`
    : `<p class="sub">${escapeHtml(s.serverProfile.files.folded)} is not in this folder.</p>`;
  return {
    title: 'Server CPU profile',
    html:
      `<p class="sub">${escapeHtml(profileTitle(s)!)}. Flame graph (d3-flame-graph): callers below callees, ` +
      'each frame as wide as its share of the samples; click a frame to zoom, hover for its samples; green ' +
      'JavaScript, grey frames a stripped binary does not name.</p>' +
      `${graph}<div class="scroll">${htmlTable(rows)}</div>`,
  };
}
/** Where a candidate's samples go against the baseline's, header first. */
function differenceRows(diff: readonly FunctionDifference[]): (string | number)[][] {
  return [
    ['function', 'baseline self %', 'candidate self %', 'difference (points)'],
    ...diff.map((d) => [
      shortFrame(d.name),
      d.baselinePercent.toFixed(1),
      d.candidatePercent.toFixed(1),
      `${d.differencePoints > 0 ? '+' : ''}${d.differencePoints.toFixed(1)}`,
    ]),
  ];
}

/** A variant's profiles, every round's samples together (null when none of its runs was profiled). */
function variantStacks(runs: readonly { run: LoadedRun }[]): FoldedStacks | null {
  let all: FoldedStacks | null = null;
  for (const { run } of runs) {
    const p = run.summary.serverProfile;
    const file = p !== undefined ? join(run.dir, p.files.folded) : null;
    if (file === null || !existsSync(file)) continue;
    all ??= new Map();
    for (const [k, n] of parseFolded(readFileSync(file, 'utf8'))) all.set(k, (all.get(k) ?? 0) + n);
  }
  return all;
}

/** Where one variant's server samples go against the baseline's: the table, and the pooled stacks of both. */
export interface ProfileDifference {
  variant: string;
  baseline: string;
  rows: (string | number)[][];
  stacks: FoldedStacks;
  baselineStacks: FoldedStacks;
}

/** The comparison HTML report's section for one difference: the differential flame graph and the table. */
export function differenceHtml(d: ProfileDifference, i: number): string {
  const graph = flameGraphHtml(
    d.stacks,
    `server-flame-graph-diff-${i}`,
    `${d.variant} against ${d.baseline}`,
    d.baselineStacks,
  );
  return (
    (i === 0 ? flameGraphAssets() : '') +
    `<p class="sub">${escapeHtml(differenceTitle(d))}. Differential flame graph: ${escapeHtml(d.variant)}'s ` +
    `samples (all rounds), red where its share of the samples at a stack is larger than ${escapeHtml(d.baseline)}'s, ` +
    'blue where smaller; stacks only the baseline has are in the table, not the graph.</p>' +
    `<div class="scroll">${graph}</div><div class="scroll">${htmlTable(d.rows)}</div>`
  );
}

/** Top differences listed per variant. */
const DIFFERENCE_TOP = 15;

/**
 * The differential view of a comparison run with --profile-server: for each variant, the
 * functions whose share of the server's samples differs most from the baseline's (self samples,
 * every round pooled). Shares, not sample counts: a server that spends more CPU in all has more
 * samples everywhere; this says where its time goes instead.
 */
export function comparisonProfileDifferences(c: LoadedComparison): ProfileDifference[] {
  const baselineRuns = c.runs.get(c.file.baseline) ?? [];
  const base = variantStacks(baselineRuns);
  if (base === null) return [];
  const out: ProfileDifference[] = [];
  for (const [name, runs] of c.runs) {
    if (name === c.file.baseline) continue;
    const stacks = variantStacks(runs);
    if (stacks === null) continue;
    const diff: FunctionDifference[] = profileDifference(base, stacks, DIFFERENCE_TOP);
    out.push({ variant: name, baseline: c.file.baseline, rows: differenceRows(diff), stacks, baselineStacks: base });
  }
  return out;
}

export const differenceTitle = (d: { variant: string; baseline: string }) =>
  `server CPU profile, ${d.variant} against ${d.baseline}: functions whose share of the server's samples ` +
  'differs most (self samples, rounds pooled; + where the candidate spends more of its time)';
