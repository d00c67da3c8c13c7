import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFolded } from '../metrics/stack-samples.js';
import type { LoadedRun } from '../results/folder.js';
import type { RunSummary } from '../results/summary.js';
import { flameGraphSvg } from './flame-graph.js';
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
    ? `<div class="scroll">${flameGraphSvg(parseFolded(readFileSync(folded, 'utf8')), 'server CPU flame graph')}</div>`
    : `<p class="sub">${escapeHtml(s.serverProfile.files.folded)} is not in this folder.</p>`;
  return {
    title: 'Server CPU profile',
    html:
      `<p class="sub">${escapeHtml(profileTitle(s)!)}. Flame graph: callers below callees, each frame as wide ` +
      'as its share of the samples; green JavaScript, grey frames a stripped binary does not name.</p>' +
      `${graph}<div class="scroll">${htmlTable(rows)}</div>`,
  };
}
