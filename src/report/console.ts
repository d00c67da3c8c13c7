import type { Progress } from '../results/progress.js';
import { thresholdWord, type RunSummary } from '../results/summary.js';
import {
  againstNote,
  findingLines,
  gateLines,
  ratiosTable,
  valuesTable,
  winnerLines,
  type ComparisonTable,
} from './comparison.js';
import { costLines } from './cost.js';
import {
  browserErrorLines,
  browserRows,
  describeScenario,
  factLines,
  fmtMs,
  groupRows,
  latencyRows,
  protocolRows,
  runTitle,
  sessionRows,
  warningLines,
} from './facts.js';

import type { LoadedComparison } from '../results/folder.js';
import { comparisonProfileDifferences, differenceTitle, profileRows, profileTitle } from './server-profile.js';

/** Renders results as text. Formats only: everything shown comes from the summary. */

export function table(rows: (string | number)[][], alignLeft = 1): string {
  const cell = (v: string | number) => (typeof v === 'number' ? v.toLocaleString('en-US') : v);
  const cells = rows.map((r) => r.map(cell));
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((v, c) => (c < alignLeft ? v.padEnd(widths[c]!) : v.padStart(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The readable summary printed after a run. */
export function formatSummary(s: RunSummary, resultsDir: string): string {
  const lines: string[] = [runTitle(s), describeScenario(s.scenario, s.durationMs), ''];
  for (const w of warningLines(s)) lines.push(w);
  if (warningLines(s).length > 0) lines.push('');
  lines.push(table(sessionRows(s)), '', table(latencyRows(s.latencyMs)), '');
  const byProtocol = protocolRows(s);
  if (byProtocol !== null) lines.push("each protocol's viewers (latencies in ms):", table(byProtocol), '');
  const groups = groupRows(s);
  if (groups !== null) lines.push('viewer groups (latencies in ms):', table(groups), '');
  const browsers = browserRows(s);
  if (browsers !== null) {
    lines.push('browser viewers (real players in Chromium; latencies in ms, per rendered frame):', table(browsers));
    lines.push(...browserErrorLines(s), '');
  }
  lines.push(...factLines(s));
  const cost = costLines(s);
  if (cost.length > 0) lines.push('', "server cost (the kernel's counters):", ...cost.map((l) => `  ${l}`), '');
  const profile = profileRows(s);
  if (profile !== null) lines.push('', profileTitle(s)!, table(profile), '');
  for (const th of s.thresholds) lines.push(`threshold ${thresholdWord(th)}: ${th.message}`);
  lines.push(`results: ${resultsDir}`);
  return lines.join('\n');
}

/** One progress line (rewritten in place on a TTY). */
export function formatProgress(p: Progress): string {
  const e2e = p.p99EndToEndMs === null ? '-' : `${fmtMs(p.p99EndToEndMs)} ms`;
  const busy =
    p.generatorEventLoopUtilization === null
      ? ''
      : `  generator ${(p.generatorEventLoopUtilization * 100).toFixed(0)}% busy`;
  return (
    `[${String(Math.min(p.tSec, p.durationSec)).padStart(String(p.durationSec).length)}/${p.durationSec}s] ` +
    `players ${p.playersUp}/${p.playersPlanned}  publishers ${p.publishersUp}  ` +
    `${p.mbpsReceived.toFixed(1)} Mbps  p99 ${e2e}  errors ${p.errors}${busy}`
  );
}

/** A comparison as text: the table (figures by variant) and the winner of each figure. */
export function formatComparison(t: ComparisonTable): string {
  const lines = [
    `rtmpbench compare "${t.name}": ${t.rows.length} variants, ${t.repeat} repeat(s); baseline ${t.baseline}`,
  ];
  const against = againstNote(t);
  if (against !== null) lines.push(`WARNING: ${against}`);
  lines.push('');
  lines.push(`mean over ${t.repeat} run(s) per variant; ★ best of each column`);
  lines.push(table(valuesTable(t)));
  const ratios = ratiosTable(t);
  if (ratios !== null) {
    lines.push('');
    lines.push(
      `ratio to ${t.baseline} (geometric mean of runs paired by round, [95% ` +
        `CI]${t.repeat < 2 ? '; intervals need --repeat 2 or more' : ''})`,
    );
    lines.push(table(ratios));
  }
  const winners = winnerLines(t);
  if (winners.length > 0) {
    lines.push('');
    lines.push('best per figure:');
    for (const w of winners) lines.push(`  ${w}`);
  }
  const findings = findingLines(t);
  if (findings.length > 0) {
    lines.push('');
    for (const f of findings) lines.push(`  ${f}`);
  }
  const gates = gateLines(t);
  if (gates.length > 0) {
    const failed = gates.filter((g) => !g.passed).length;
    lines.push('');
    lines.push(
      `gates against ${t.baseline} (paired by round, 95% CI): ${failed === 0 ? 'all passed' : `${failed} FAILED`}`,
    );
    for (const g of gates) lines.push(`  ${g.text}`);
  }
  return lines.join('\n');
}

/** The differential view of a comparison's server profiles as text; null without profiles. */
export function profileDifferenceText(c: LoadedComparison): string | null {
  const diffs = comparisonProfileDifferences(c);
  if (diffs.length === 0) return null;
  return diffs.map((d) => `${differenceTitle(d)}:\n${table(d.rows)}`).join('\n\n');
}
