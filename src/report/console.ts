import type { LatencySummary, MetricName } from '../metrics/histograms.js';
import type { Progress } from '../results/progress.js';
import type { Scenario } from '../results/scenario.js';
import { thresholdWord, type RunSummary } from '../results/summary.js';
import { ratiosTable, valuesTable, winnerLines, type ComparisonTable } from './comparison.js';
import { formatBitrate, formatDurationMs } from '../input/units.js';

/** Renders results as text. Formats only: everything shown comes from the summary. */

export function table(rows: (string | number)[][], alignLeft = 1): string {
  const cell = (v: string | number) => (typeof v === 'number' ? v.toLocaleString('en-US') : v);
  const cells = rows.map((r) => r.map(cell));
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  return cells.map((r) => r.map((v, c) => (c < alignLeft ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ').trimEnd()).join('\n');
}

const fmtMs = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

export function bytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

const LATENCY_ROWS: [MetricName, string][] = [
  ['connect', 'connect'],
  ['handshake', 'handshake'],
  ['playStart', 'play start'],
  ['firstFrame', 'first frame'],
  ['firstKeyframe', 'first keyframe'],
  ['endToEnd', 'end-to-end'],
  ['slowEndToEnd', 'end-to-end (slow viewers)'],
  ['gap', 'frame gap'],
  ['pacing', 'publisher pacing error'],
];

export function latencyTable(latency: Record<MetricName, LatencySummary>): string {
  const rows: (string | number)[][] = [['latency (ms)', 'count', 'min', 'p50', 'p90', 'p99', 'p99.9', 'max']];
  for (const [m, label] of LATENCY_ROWS) {
    const l = latency[m];
    if (l === undefined || l.count === 0) continue;
    rows.push([label, l.count, fmtMs(l.min), fmtMs(l.p50), fmtMs(l.p90), fmtMs(l.p99), fmtMs(l.p999), fmtMs(l.max)]);
  }
  return table(rows);
}

/** Title line of a run: its name and target. */
export function runTitle(s: RunSummary): string {
  const where = s.targetKind === 'builtin' ? `the built-in server (${s.target})` : s.target;
  return `rtmpbench run "${s.name}" against ${where}`;
}

/** What a scenario runs, in one line. */
export function describeScenario(sc: Scenario, durationMs = sc.durationMs): string {
  const m = sc.media;
  const players = sc.stages.length > 0 ? Math.max(...sc.stages.map((st) => st.target)) : 0;
  const media = m.source === 'synthetic' ? `synthetic ${m.codec.toUpperCase()} ${formatBitrate(m.videoBitrate)}bps + ${formatBitrate(m.audioBitrate)}bps audio, ${m.fps} fps, GOP ${formatDurationMs(m.gopMs)}` : m.source;
  return (
    `${formatDurationMs(durationMs)}, ${sc.streamNames.length} stream(s), ${sc.publishedStreams} published (${media}), up to ${players} players per stream (${players * sc.streamNames.length} in all)` +
    (sc.players.slowPerStream > 0 ? `, ${sc.players.slowPerStream} slow per stream at ${sc.players.slowReadKbps} kbps` : '') +
    (sc.churn.joinsPerSecond > 0 ? `, churn ${sc.churn.joinsPerSecond}/s` : '') +
    (Object.keys(sc.server).length > 0 && sc.target === 'builtin' ? `; server ${Object.entries(sc.server).map(([k, v]) => `${k}=${String(v)}`).join(' ')}` : '')
  );
}

/** The readable summary printed after a run. */
export function formatSummary(s: RunSummary, resultsDir: string): string {
  const sc = s.scenario;
  const lines: string[] = [];
  lines.push(runTitle(s));
  lines.push(describeScenario(sc, s.durationMs));
  lines.push('');
  lines.push(
    table([
      ['sessions', 'planned', 'connected', 'failed'],
      ['publishers', s.sessions.publishers.planned, s.sessions.publishers.connected, s.sessions.publishers.failed],
      ['players', s.sessions.players.planned, s.sessions.players.connected, s.sessions.players.failed],
    ]),
  );
  lines.push('');
  lines.push(latencyTable(s.latencyMs));
  if (s.latencySource === 'rtmp-timestamps') {
    lines.push('note: no timing marks in the stream (published elsewhere): end-to-end is the delay against the stream\'s own RTMP timestamps, from each player\'s first frame.');
  }
  lines.push('');
  const t = s.throughput;
  lines.push(`throughput: ${t.mbpsReceived.toFixed(1)} Mbps received (${bytes(t.bytesReceived)}), ${bytes(t.bytesSent)} sent; video frames ${t.framesSent.toLocaleString('en-US')} sent, ${t.framesReceived.toLocaleString('en-US')} received`);
  const f = s.frames;
  lines.push(`frames: lost ${f.lost}, duplicated ${f.duplicated}, out of order ${f.outOfOrder}, stalls ${f.stalls}${sc.players.slowPerStream > 0 ? `; slow viewers: lost ${f.slowLost}, stalls ${f.slowStalls}` : ''}${f.publisherStops > 0 ? `, publisher stopped ${f.publisherStops} time(s)` : ''}`);
  const failures = Object.entries(s.failures);
  if (failures.length > 0) lines.push(`failures: ${failures.map(([k, v]) => `${k} ×${v}`).join(', ')}`);
  const g = s.generator;
  let cost = `generator: ${g.cpuSeconds.toFixed(1)} s CPU, ${bytes(g.maxRssBytes)} peak RSS, ${g.workers} worker(s)`;
  if (s.server) {
    cost += `; server: ${s.server.cpuSeconds.toFixed(1)} s CPU, ${bytes(s.server.maxRssBytes)} peak RSS`;
    if (s.server.drops) cost += `, dropped ${s.server.drops.video} video + ${s.server.drops.audio} audio frames`;
  }
  lines.push(cost);
  for (const th of s.thresholds) lines.push(`threshold ${thresholdWord(th)}: ${th.message}`);
  if (s.capacity !== undefined) lines.push(formatCapacity(s.capacity));
  lines.push(`results: ${resultsDir}`);
  return lines.join('\n');
}

/** The answer of a capacity search. */
export function formatCapacity(c: NonNullable<RunSummary['capacity']>): string {
  if (!c.broken) return `capacity: every threshold held up to ${c.highestPassingPlayers.toLocaleString('en-US')} players, the most this run reached (raise the stages to find the limit)`;
  return `capacity: ${c.highestPassingPlayers.toLocaleString('en-US')} players is the most for which every threshold held; they broke at ${c.brokeAtSec}s with ${c.playersAtBreak?.toLocaleString('en-US')} players up (${(c.brokenBy ?? []).join('; ')})`;
}

/** One progress line (rewritten in place on a TTY). */
export function formatProgress(p: Progress): string {
  const e2e = p.p99EndToEndMs === null ? '-' : `${fmtMs(p.p99EndToEndMs)} ms`;
  return `[${String(Math.min(p.tSec, p.durationSec)).padStart(String(p.durationSec).length)}/${p.durationSec}s] players ${p.playersUp}/${p.playersPlanned}  publishers ${p.publishersUp}  ${p.mbpsReceived.toFixed(1)} Mbps  p99 ${e2e}  errors ${p.errors}`;
}

/** A comparison as text: the table (figures by variant) and the winner of each figure. */
export function formatComparison(t: ComparisonTable): string {
  const lines = [`rtmpbench compare "${t.name}": ${t.rows.length} variants, ${t.repeat} repeat(s); baseline ${t.baseline}`];
  lines.push('');
  lines.push(`mean over ${t.repeat} run(s) per variant; ★ best of each column`);
  lines.push(table(valuesTable(t)));
  const ratios = ratiosTable(t);
  if (ratios !== null) {
    lines.push('');
    lines.push(`ratio to ${t.baseline} (geometric mean of runs paired by round, [95% CI]${t.repeat < 2 ? '; intervals need --repeat 2 or more' : ''})`);
    lines.push(table(ratios));
  }
  const winners = winnerLines(t);
  if (winners.length > 0) {
    lines.push('');
    lines.push('best per figure:');
    for (const w of winners) lines.push(`  ${w}`);
  }
  return lines.join('\n');
}
