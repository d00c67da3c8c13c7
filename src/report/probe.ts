import {
  PROBE_GROUPS,
  type ProbeComparison,
  type ProbeOutcome,
  type ProbeReport,
  type ProbeResult,
} from '../results/probe.js';

/**
 * Probe matrices as text: a console matrix (one server: result and detail per probe; several:
 * one column per server, rows that differ marked), and Markdown for a CI job summary or a
 * page of docs (docs/probe.md). Formats only: everything shown comes from the reports.
 */

const CONSOLE_MARK: Record<ProbeResult, string> = {
  pass: 'pass',
  fail: 'FAIL',
  'n/a': 'n/a',
  info: 'info',
  error: 'ERROR',
};
const MARKDOWN_MARK: Record<ProbeResult, string> = {
  pass: '✅ pass',
  fail: '❌ fail',
  'n/a': '➖ n/a',
  info: 'ℹ️ info',
  error: '⚠️ error',
};

/** One row per probe id, in the order the reports list them (groups in their order). */
function rows(reports: readonly ProbeReport[]): { id: string; group: string; title: string; definition: string }[] {
  const seen = new Map<string, { id: string; group: string; title: string; definition: string }>();
  for (const r of reports)
    for (const p of r.probes)
      if (!seen.has(p.id)) seen.set(p.id, { id: p.id, group: p.group, title: p.title, definition: p.definition });
  const order = (g: string) => PROBE_GROUPS.indexOf(g as (typeof PROBE_GROUPS)[number]);
  return [...seen.values()].sort((a, b) => order(a.group) - order(b.group));
}

function outcome(r: ProbeReport, id: string): ProbeOutcome | undefined {
  return r.probes.find((p) => p.id === id);
}

/** Whether the servers' results for a probe differ (servers that could not be probed aside). */
function differs(reports: readonly ProbeReport[], id: string): boolean {
  const results = reports.filter((r) => r.unreachable === null).map((r) => outcome(r, id)?.result ?? null);
  return new Set(results).size > 1;
}

export function countsLine(r: ProbeReport): string {
  if (r.unreachable !== null) return `not probed: ${r.unreachable}`;
  const c = r.counts;
  return (
    `${c.pass} pass, ${c.fail} fail, ${c['n/a']} n/a, ${c.info} info, ${c.error} error ` +
    `(${(r.durationMs / 1000).toFixed(1)} s)`
  );
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** One server: each probe with its result and why. */
function singleConsole(r: ProbeReport, width: number): string {
  const lines = [`${r.name} (${r.target}): ${countsLine(r)}`];
  if (r.unreachable !== null) return lines.join('\n');
  const idWidth = Math.max(...r.probes.map((p) => p.id.length));
  let group = '';
  for (const p of r.probes) {
    if (p.group !== group) {
      group = p.group;
      lines.push('', group);
    }
    lines.push(
      `  ${pad(p.id, idWidth)}  ${pad(CONSOLE_MARK[p.result], 5)}  ` +
        `${clip(p.detail, Math.max(20, width - idWidth - 11))}`,
    );
  }
  return lines.join('\n');
}

/** Several servers: a column each, rows whose results differ marked with ≠, then the details of those rows. */
function matrixConsole(reports: readonly ProbeReport[], width: number): string {
  const names = reports.map((r) => r.name);
  const colWidth = Math.max(5, ...names.map((n) => n.length));
  const list = rows(reports);
  const idWidth = Math.max(5, ...list.map((p) => p.id.length));
  const lines = [`${pad('probe', idWidth)}    ${names.map((n) => pad(n, colWidth)).join('  ')}`];
  let group = '';
  for (const row of list) {
    if (row.group !== group) {
      group = row.group;
      lines.push(group);
    }
    const cells = reports.map((r) =>
      pad(r.unreachable !== null ? '-' : (CONSOLE_MARK[outcome(r, row.id)?.result ?? 'error'] ?? ''), colWidth),
    );
    lines.push(`${pad(`  ${row.id}`, idWidth + 2)} ${differs(reports, row.id) ? '≠' : ' '} ${cells.join('  ')}`);
  }
  lines.push('', ...reports.map((r) => `${r.name}: ${countsLine(r)}`));
  const diff = list.filter((row) => differs(reports, row.id));
  if (diff.length > 0) {
    lines.push('', `Where they differ (${diff.length} probes):`);
    for (const row of diff) {
      lines.push(`  ${row.id}: ${row.title}`);
      for (const r of reports) {
        const o = outcome(r, row.id);
        if (o !== undefined)
          lines.push(
            `    ${pad(r.name, colWidth)}  ${pad(CONSOLE_MARK[o.result], 5)}  ` +
              `${clip(o.detail, Math.max(20, width - colWidth - 13))}`,
          );
      }
    }
  }
  return lines.join('\n');
}

/** The console form: one server in detail, several side by side. */
export function formatProbeConsole(c: ProbeComparison, width = 120): string {
  return c.servers.length === 1 ? singleConsole(c.servers[0]!, width) : matrixConsole(c.servers, width);
}

/**
 * An attack's cell: the result, what the server did, and its RSS growth at the peak when its
 * process was watched (ATTACK_FIGURES).
 */
function attackCell(o: ProbeOutcome): string {
  const e = o.evidence;
  const parts: string[] = [];
  if (typeof e.response === 'string') parts.push(e.response);
  if (typeof e.rssPeakGrowthBytes === 'number') parts.push(`RSS +${Math.round(e.rssPeakGrowthBytes / 1048576)} MB`);
  if (typeof e.viewerFramesLost === 'number' && e.viewerFramesLost > 0) parts.push(`viewer lost ${e.viewerFramesLost}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/**
 * Markdown: counts per server, the matrix (a row per probe, a column per server; results that
 * differ between servers in bold), and every non-pass result with its detail.
 */
export function probeMarkdown(c: ProbeComparison, opts: { title?: string } = {}): string {
  const reports = c.servers;
  const out: string[] = [`## ${opts.title ?? 'RTMP probe'}`, ''];
  out.push('| server | target | pass | fail | n/a | info | error |', '|---|---|---|---|---|---|---|');
  for (const r of reports) {
    const k = r.counts;
    out.push(
      r.unreachable !== null
        ? `| ${mdCell(r.name)} | ${mdCell(r.target)} | not probed: ${mdCell(r.unreachable)} ||||| `
        : `| ${mdCell(r.name)} | ${mdCell(r.target)} | ${k.pass} | ${k.fail} | ${k['n/a']} | ${k.info} | ${k.error} |`,
    );
  }
  out.push(
    '',
    `| probe | ${reports.map((r) => mdCell(r.name)).join(' | ')} |`,
    `|---|${reports.map(() => '---').join('|')}|`,
  );
  for (const row of rows(reports)) {
    const d = reports.length > 1 && differs(reports, row.id);
    const cells = reports.map((r) => {
      const o = outcome(r, row.id);
      if (o === undefined) return '';
      const mark = MARKDOWN_MARK[o.result];
      return (d ? `**${mark}**` : mark) + (o.group === 'resilience' ? attackCell(o) : '');
    });
    out.push(`| \`${row.id}\` ${mdCell(row.title)} | ${cells.join(' | ')} |`);
  }
  for (const r of reports) {
    const notes = r.probes.filter((p) => p.result !== 'pass');
    if (notes.length === 0) continue;
    out.push('', `### ${mdCell(r.name)}: what did not pass, and what the info probes found`, '');
    for (const p of notes) out.push(`- \`${p.id}\` ${MARKDOWN_MARK[p.result]}: ${p.detail}`);
  }
  return `${out.join('\n')}\n`;
}

/** The probe list (ids, groups, titles and what passes), for `--list`. */
export function formatProbeList(list: readonly Pick<ProbeOutcome, 'id' | 'group' | 'title' | 'definition'>[]): string {
  const lines: string[] = [];
  let group = '';
  for (const p of list) {
    if (p.group !== group) {
      group = p.group;
      lines.push(group);
    }
    lines.push(`  ${p.id}  ${p.title}`, `      passes: ${p.definition}`);
  }
  return lines.join('\n');
}
