import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { failedThresholds, thresholdWord, type RunSummary } from '../results/summary.js';
import { formatDurationMs } from '../input/units.js';
import { comparisonCharts, runCharts } from './charts.js';
import { costLines } from './cost.js';
import {
  againstNote,
  findingLines,
  gateLines,
  ratiosTable,
  spreadTable,
  valuesTable,
  winnerLines,
  type ComparisonTable,
} from './comparison.js';
import {
  browserErrorLines,
  browserRows,
  describeScenario,
  factLines,
  groupRows,
  latencyRows,
  protocolRows,
  runTitle,
  sessionRows,
  warningLines,
} from './facts.js';
import { escapeHtml, htmlTable, renderHtml, type HtmlSection } from './html.js';
import type { LoadedComparison, LoadedRun } from '../results/folder.js';
import {
  comparisonProfileDifferences,
  differenceHtml,
  differenceTitle,
  profileRows,
  profileSection,
  profileTitle,
} from './server-profile.js';

/**
 * Reports rendered from result files only: Markdown (for a CI job summary) and a
 * self-contained HTML page, for one run or for a comparison.
 */

function mdTable(rows: (string | number)[][], numericFrom = 1): string {
  const cell = (v: string | number) => (typeof v === 'number' ? v.toLocaleString('en-US') : v).replace(/\|/g, '\\|');
  const [head, ...body] = rows;
  return [
    `| ${head!.map(cell).join(' | ')} |`,
    `| ${head!.map((_, c) => (c >= numericFrom ? '---:' : ':---')).join(' | ')} |`,
    ...body.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

export function runMarkdown(run: LoadedRun): string {
  const s = run.summary;
  const lines = [`## ${runTitle(s)}`, '', describeScenario(s.scenario, s.durationMs), ''];
  if (s.thresholds.length > 0) {
    const failed = failedThresholds(s).length;
    lines.push(
      `**Thresholds: ` +
        `${failed === 0 ? (s.thresholds.every((t) => t.passed) ? 'all passed' : 'none enforced failed') : `${failed} FAILED`}**`,
      '',
    );
    for (const t of s.thresholds) lines.push(`- ${t.passed ? '✅' : t.enforced === false ? '⚠️' : '❌'} ${t.message}`);
    lines.push('');
  }
  for (const w of warningLines(s)) lines.push(`> **${w}**`, '');
  lines.push(mdTable(sessionRows(s)), '', mdTable(latencyRows(s.latencyMs)), '');
  const byProtocol = protocolRows(s);
  if (byProtocol !== null) lines.push("Each protocol's viewers (latencies in ms):", '', mdTable(byProtocol), '');
  const groups = groupRows(s);
  if (groups !== null) lines.push('Viewer groups (latencies in ms):', '', mdTable(groups), '');
  const browsers = browserRows(s);
  if (browsers !== null) {
    lines.push(
      'Browser viewers (real players in Chromium; latencies in ms, per rendered frame):',
      '',
      mdTable(browsers),
    );
    lines.push('', ...browserErrorLines(s).map((l) => `> ${l}`), '');
  }
  for (const l of factLines(s)) lines.push(`- ${l}`);
  const cost = costLines(s);
  if (cost.length > 0) lines.push('', "### Server cost (the kernel's counters)", '', ...cost.map((l) => `- ${l}`));
  const profile = profileRows(s);
  if (profile !== null) lines.push('', `${profileTitle(s)}:`, '', mdTable(profile));
  lines.push('', `_started ${s.startedAt}, rtmpbench ${s.tool.version}_`, '');
  return lines.join('\n');
}

function thresholdHtml(s: RunSummary): string {
  if (s.thresholds.length === 0) return '<p class="sub">No thresholds.</p>';
  const items = s.thresholds.map(
    (t) => `<li><span class="${t.passed ? 'pass' : 'fail'}">${thresholdWord(t)}</span> ${escapeHtml(t.message)}</li>`,
  );
  return `<ul>${items.join('')}</ul>`;
}

export function runHtml(run: LoadedRun): string {
  const s = run.summary;
  const sections: HtmlSection[] = [
    ...(warningLines(s).length > 0
      ? [
          {
            title: 'Warnings',
            html: `<ul>${warningLines(s)
              .map((w) => `<li class="fail">${escapeHtml(w)}</li>`)
              .join('')}</ul>`,
          },
        ]
      : []),
    { title: 'Thresholds', html: thresholdHtml(s) },
    { title: 'Sessions', html: htmlTable(sessionRows(s)) },
    { title: 'Latency', html: `<div class="scroll">${htmlTable(latencyRows(s.latencyMs))}</div>` },
    ...(protocolRows(s) !== null
      ? [
          {
            title: 'By protocol',
            html: `<p class="sub">Latencies in ms.</p><div class="scroll">${htmlTable(protocolRows(s)!)}</div>`,
          },
        ]
      : []),
    ...(groupRows(s) !== null
      ? [
          {
            title: 'Viewer groups',
            html:
              `<p class="sub">Latencies in ms; a group's worst second while another group joined, ` +
              `against its p99 over the 5 s before.</p><div ` +
              `class="scroll">${htmlTable(groupRows(s)!)}</div>`,
          },
        ]
      : []),
    {
      title: 'Run',
      html: `<ul>${factLines(s)
        .map((l) => `<li>${escapeHtml(l)}</li>`)
        .join('')}</ul>`,
    },
    ...(costLines(s).length > 0
      ? [
          {
            title: 'Server cost',
            html: `<ul>${costLines(s)
              .map((l) => `<li>${escapeHtml(l)}</li>`)
              .join('')}</ul>`,
          },
        ]
      : []),
  ];
  const profile = profileSection(run);
  if (profile !== null) sections.push(profile);
  return renderHtml({
    title: runTitle(s),
    subtitle: `${describeScenario(s.scenario, s.durationMs)} — started ${s.startedAt}, rtmpbench ${s.tool.version}`,
    sections,
    charts: runCharts(run),
  });
}

function comparisonIntro(c: LoadedComparison, t: ComparisonTable): string {
  const failed = c.file.runs.filter((r) => r.dir === null);
  return (
    `${t.rows.length} variants × ${t.repeat} repeat(s), interleaved (A B C, C B A, ...); baseline ${t.baseline}. ` +
    (t.against !== undefined ? `WARNING: ${againstNote(t)}. ` : '') +
    `Each run: ${describeScenario(c.file.scenario)}.` +
    (failed.length > 0
      ? ` ${failed.length} run(s) failed: ` +
        `${failed.map((r) => `${r.variant} round ${r.round + 1} (${r.error})`).join('; ')}.`
      : '')
  );
}

export function comparisonMarkdown(c: LoadedComparison, t: ComparisonTable): string {
  const lines = [`## rtmpbench compare "${t.name}"`, '', comparisonIntro(c, t), ''];
  const gates = gateLines(t);
  if (gates.length > 0) {
    const failed = gates.filter((g) => !g.passed).length;
    lines.push(
      `**Gates against ${t.baseline}: ${failed === 0 ? 'all passed' : `${failed} FAILED`}** ` +
        `(runs paired by round, 95% confidence interval)`,
      '',
    );
    for (const g of gates) lines.push(`- ${g.passed ? '✅' : '❌'} ${g.text}`);
    lines.push('');
  }
  lines.push(`Mean over the repeats of each variant; ★ best of each column.`, '', mdTable(valuesTable(t)), '');
  const ratios = ratiosTable(t);
  if (ratios !== null)
    lines.push(
      `Ratio to ${t.baseline}: geometric mean of runs paired by round, [95% confidence interval].`,
      '',
      mdTable(ratios),
      '',
    );
  const winners = winnerLines(t);
  if (winners.length > 0) {
    lines.push('Best per figure:', '');
    for (const w of winners) lines.push(`- ${w}`);
    lines.push('');
  }
  const findings = findingLines(t);
  if (findings.length > 0) {
    lines.push('Findings:', '');
    for (const f of findings) lines.push(`- ${f}`);
    lines.push('');
  }
  for (const d of comparisonProfileDifferences(c)) lines.push(`${differenceTitle(d)}:`, '', mdTable(d.rows), '');
  lines.push(`_started ${c.file.startedAt}, rtmpbench ${c.file.tool.version}_`, '');
  return lines.join('\n');
}

export function comparisonHtml(c: LoadedComparison, t: ComparisonTable): string {
  const best = (row: number, col: number, rows: string[][]) =>
    row > 0 && col > 0 && rows[row]?.[col]?.endsWith('★') ? 'best' : '';
  const values = valuesTable(t);
  const ratios = ratiosTable(t);
  const runs: (string | number)[][] = [['variant', 'round', 'results', 'thresholds']];
  for (const r of c.file.runs)
    runs.push([
      r.variant,
      r.round + 1,
      r.dir ?? `failed: ${r.error}`,
      r.dir === null ? '-' : r.thresholdsPassed ? 'passed' : 'FAILED',
    ]);
  const gates = gateLines(t);
  const gateItems = gates.map((g) => {
    const word = g.passed ? '<span class="pass">passed</span>' : '<span class="fail">FAILED</span>';
    return `<li>${word} ${escapeHtml(g.text.replace(/^(passed|FAILED): /, ''))}</li>`;
  });
  const sections: HtmlSection[] = [
    ...(gates.length > 0
      ? [
          {
            title: `Gates against ${t.baseline}`,
            html: `<p class="sub">Runs paired by round; 95% confidence interval.</p><ul>${gateItems.join('')}</ul>`,
          },
        ]
      : []),
    {
      title: 'Variants',
      html:
        `<p>${escapeHtml(comparisonIntro(c, t))}</p><div ` +
        `class="scroll">${htmlTable(values, { classes: (r, col) => best(r, col, values) })}</div>`,
    },
    ...(ratios !== null
      ? [
          {
            title: `Ratio to ${t.baseline}`,
            html:
              `<p class="sub">Geometric mean of runs paired by round, [95% confidence interval]; below ` +
              `1 is less than the baseline.</p><div class="scroll">${htmlTable(ratios)}</div>`,
          },
        ]
      : []),
    {
      title: 'Best per figure',
      html: `<ul>${winnerLines(t)
        .map((w) => `<li>${escapeHtml(w)}</li>`)
        .join('')}</ul>`,
    },
    ...(findingLines(t).length > 0
      ? [
          {
            title: 'Findings',
            html: `<ul>${findingLines(t)
              .map((f) => `<li>${escapeHtml(f)}</li>`)
              .join('')}</ul>`,
          },
        ]
      : []),
    ...comparisonProfileDifferences(c).map((d, i) => ({
      title: `Server CPU profile: ${d.variant} against ${d.baseline}`,
      html: differenceHtml(d, i),
    })),
    {
      title: 'Spread',
      html: `<p class="sub">Mean (lowest–highest run).</p><div class="scroll">${htmlTable(spreadTable(t))}</div>`,
    },
    { title: 'Runs', html: `<div class="scroll">${htmlTable(runs, { numericFrom: 1 })}</div>` },
  ];
  return renderHtml({
    title: `rtmpbench compare "${t.name}"`,
    subtitle:
      `baseline ${t.baseline}; ${formatDurationMs(c.file.scenario.durationMs)} per run; ` +
      `started ${c.file.startedAt}, rtmpbench ${c.file.tool.version}`,
    sections,
    charts: comparisonCharts(c, t),
  });
}

/**
 * Writes report.md and report.html for a run or a comparison into `outDir` (default: its own folder);
 * returns the paths.
 */
export function writeReports(what: LoadedRun | LoadedComparison, table?: ComparisonTable, outDir?: string): string[] {
  const dir = outDir ?? what.dir;
  mkdirSync(dir, { recursive: true });
  const md = join(dir, 'report.md');
  const html = join(dir, 'report.html');
  if ('file' in what) {
    writeFileSync(md, comparisonMarkdown(what, table!));
    writeFileSync(html, comparisonHtml(what, table!));
  } else {
    writeFileSync(md, runMarkdown(what));
    writeFileSync(html, runHtml(what));
  }
  return [md, html].map((p) => {
    const r = relative(process.cwd(), p);
    return r === '' || r.startsWith('..') ? p : r;
  });
}
