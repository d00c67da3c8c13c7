import { formatBitrate, formatDurationMs } from '../input/units.js';
import { METRIC_INFO, METRICS, type LatencySummary, type MetricName } from '../metrics/histograms.js';
import type { Scenario } from '../results/scenario.js';
import { frameAccounting, generatorSaturation, type RunSummary } from '../results/summary.js';

/**
 * What a report says about one run, as rows and sentences: the console, Markdown and HTML
 * renderers lay these out; none of them computes a figure of its own.
 */

function bytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

export const fmtMs = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

export function latencyRows(latency: Record<MetricName, LatencySummary>): (string | number)[][] {
  const rows: (string | number)[][] = [['latency (ms)', 'count', 'min', 'p50', 'p90', 'p99', 'p99.9', 'max']];
  for (const m of METRICS) {
    const l = latency[m];
    if (l === undefined || l.count === 0) continue;
    rows.push([
      METRIC_INFO[m].label,
      l.count,
      fmtMs(l.min),
      fmtMs(l.p50),
      fmtMs(l.p90),
      fmtMs(l.p99),
      fmtMs(l.p999),
      fmtMs(l.max),
    ]);
  }
  return rows;
}

export function sessionRows(s: RunSummary): (string | number)[][] {
  const late = s.sessions.players.tooLateToJudge ?? 0;
  return [
    ['sessions', 'planned', 'connected', 'failed', ...(late > 0 ? ['too late to judge'] : [])],
    [
      'publishers',
      s.sessions.publishers.planned,
      s.sessions.publishers.connected,
      s.sessions.publishers.failed,
      ...(late > 0 ? ['-'] : []),
    ],
    [
      'players',
      s.sessions.players.planned,
      s.sessions.players.connected,
      s.sessions.players.failed,
      ...(late > 0 ? [late] : []),
    ],
  ];
}

/** The viewers of each protocol side by side (null when the run had RTMP players only). */
export function protocolRows(s: RunSummary): (string | number)[][] | null {
  const by = s.byProtocol;
  if (by === undefined) return null;
  const rows: (string | number)[][] = [
    [
      'viewers',
      'connected',
      'failed',
      'first frame p50',
      'e2e p50',
      'e2e p99',
      'playout p99',
      'lost',
      'expected',
      'Mbps',
      'HTTP errors',
    ],
  ];
  const ms = (l: LatencySummary | undefined, k: 'p50' | 'p99') =>
    l === undefined || l.count === 0 ? '-' : fmtMs(l[k]);
  for (const [key, f] of Object.entries(by)) {
    if (f === undefined) continue;
    const errors = Object.entries(f.httpErrors ?? {})
      .map(([status, n]) => `${status} ×${n}`)
      .join(', ');
    rows.push([
      key,
      f.sessions.players.connected,
      f.sessions.players.failed,
      ms(f.latencyMs.firstFrame, 'p50'),
      ms(f.latencyMs.endToEnd, 'p50'),
      ms(f.latencyMs.endToEnd, 'p99'),
      ms(f.latencyMs.playout, 'p99'),
      f.frames.lost,
      f.frames.expectedSource === 'send-logs' ? (f.frames.expected ?? 0) : '-',
      f.throughput.mbpsReceived.toFixed(1),
      errors === '' ? '-' : errors,
    ]);
  }
  return rows;
}

/** The named viewer groups apart (latencies in ms), and how each went while another group joined. */
export function groupRows(s: RunSummary): (string | number)[][] | null {
  const by = s.byGroup;
  if (by === undefined) return null;
  const ms = (v: number | null | undefined) => (v === null || v === undefined ? '-' : fmtMs(v));
  const rows: (string | number)[][] = [
    [
      'group',
      'protocol',
      'per stream',
      'joins at',
      'first frame p50',
      'first frame p99',
      'e2e p50',
      'e2e p99',
      'e2e p99.9',
      'while another joined: p99 before → worst second → after',
    ],
  ];
  for (const [name, g] of Object.entries(by)) {
    const lat = (k: 'firstFrame' | 'endToEnd', p: 'p50' | 'p99' | 'p999') =>
      g.latencyMs[k].count === 0 ? '-' : fmtMs(g.latencyMs[k][p]);
    const joins = Object.entries(g.whileJoining ?? {}).map(
      ([other, j]) =>
        `${other}: ${ms(j.beforeP99Ms)} → ` +
        `${ms(j.worstSecondP99Ms)}${j.ratio !== null ? ` (${j.ratio.toFixed(2)}×)` : ''} → ` +
        `${ms(j.afterP99Ms)}`,
    );
    rows.push([
      name,
      g.protocol,
      g.perStream,
      g.startSec !== undefined ? `${g.startSec}s +${g.rampSec}s` : 'stages',
      lat('firstFrame', 'p50'),
      lat('firstFrame', 'p99'),
      lat('endToEnd', 'p50'),
      lat('endToEnd', 'p99'),
      lat('endToEnd', 'p999'),
      joins.length > 0 ? joins.join('; ') : '-',
    ]);
  }
  return rows;
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
  const media =
    m.source === 'synthetic'
      ? `synthetic ${m.codec.toUpperCase()} ${formatBitrate(m.videoBitrate)}bps + ` +
        `${formatBitrate(m.audioBitrate)}bps audio, ${m.fps} fps, GOP ` +
        `${formatDurationMs(m.gopMs)}`
      : m.source;
  return (
    `${formatDurationMs(durationMs)}, ${sc.streamNames.length} stream(s), ` +
    `${sc.publishedStreams} published (${media}), up to ${players} players per stream ` +
    `(${players * sc.streamNames.length} in all)` +
    (sc.players.slowPerStream > 0
      ? `, ${sc.players.slowPerStream} slow per stream at ${sc.players.slowReadKbps} kbps`
      : '') +
    (sc.churn.joinsPerSecond > 0 ? `, churn ${sc.churn.joinsPerSecond}/s` : '') +
    (Object.keys(sc.server).length > 0 && sc.target === 'builtin'
      ? `; server ${Object.entries(sc.server)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(' ')}`
      : '')
  );
}

/** Warnings every report leads with: things that make the figures mean less than they seem. */
export function warningLines(s: RunSummary): string[] {
  const out: string[] = [];
  const saturated = generatorSaturation(s);
  if (saturated !== null) out.push(`WARNING: ${saturated}`);
  const acc = frameAccounting(s);
  if (acc !== null && !acc.closes) {
    const missing = acc.expected - acc.received - acc.lost;
    const n = (v: number) => v.toLocaleString('en-US');
    const why =
      missing > 0
        ? `${n(missing)} frames missing that no sequence gap shows: lost at a viewer's start or end` +
          (saturated !== null ? ', or in flight when a viewer left while the generator lagged' : '')
        : `${n(-missing)} more than expected: duplicates, or frames received after the viewer's expected end`;
    out.push(
      `WARNING: frame accounting does not close: ${n(acc.received)} received + ${n(acc.lost)} lost = ` +
        `${n(acc.received + acc.lost)}, but the publishers' send logs expected ${n(acc.expected)} (${why})`,
    );
  }
  const late = s.sessions.players.tooLateToJudge ?? 0;
  if (late > 0)
    out.push(
      `note: ${late} player(s) joined too close to the end to be judged for video (neither ` +
        `failed nor counted as a success)`,
    );
  return out;
}

const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;

/**
 * A share of a distributed run, or a merge of shares: which, and the clocks each one's
 * cross-host latencies were corrected by, with the uncertainty those figures carry.
 */
function shareLines(s: RunSummary): string[] {
  const shares = s.shares ?? (s.share !== undefined ? [s.share] : []);
  if (shares.length === 0) return [];
  const first = shares[0]!;
  const clocks = shares
    .filter((x) => x.clock !== undefined)
    .map(
      (x) =>
        `share ${x.index} ${x.clock!.corrected ? '' : '(not corrected) '}offset ${ms(x.clock!.monoOffsetUs)} ±${ms(x.clock!.monoBoundUs)}`,
    );
  const late = Math.max(...shares.map((x) => x.lateMs));
  const out = [
    `${s.shares !== undefined ? `${shares.length} of ${first.count} shares` : `share ${first.index} of ${first.count}`} of run ` +
      `${first.runId ?? '(no id)'}; latest start ${late} ms after the common one`,
  ];
  if (clocks.length > 0) {
    const worst = Math.max(...shares.map((x) => x.clock?.monoBoundUs ?? 0));
    out.push(
      `clocks against the reference: ${clocks.join(', ')}; latencies across hosts are within ±${ms(2 * worst)} of the truth`,
    );
  }
  if (s.missingShares !== undefined) {
    out.push(
      `WARNING: shares ${s.missingShares.indexes.join(', ')} are missing: ` +
        `${(100 * s.missingShares.fractionOfPlayersPlanned).toFixed(1)}% of the run's planned viewers are not in these figures`,
    );
  }
  return out;
}

/** The run in sentences: throughput, frames (and whether they add up), cost, capacity. */
export function factLines(s: RunSummary): string[] {
  const t = s.throughput;
  const f = s.frames;
  const out = [
    `throughput: ${t.mbpsReceived.toFixed(1)} Mbps received (${bytes(t.bytesReceived)}), ` +
      `${bytes(t.bytesSent)} sent; video frames ${t.framesSent.toLocaleString('en-US')} sent, ` +
      `${t.framesReceived.toLocaleString('en-US')} received`,
    `frames: lost ${f.lost}, duplicated ${f.duplicated}, out of order ${f.outOfOrder}, stalls ${f.stalls}` +
      (s.scenario.players.slowPerStream > 0 ? `; slow viewers: lost ${f.slowLost}, stalls ${f.slowStalls}` : '') +
      (f.publisherStops > 0 ? `, publisher stopped ${f.publisherStops} time(s)` : ''),
  ];
  const acc = frameAccounting(s);
  if (acc !== null) {
    out.push(
      `frame accounting: expected ${acc.expected.toLocaleString('en-US')} (publishers' send ` +
        `logs) ${acc.closes ? '=' : '≠'} received ${acc.received.toLocaleString('en-US')} + lost ` +
        `${acc.lost.toLocaleString('en-US')}${acc.closes ? ' (closes)' : ''}`,
    );
  } else if (f.expectedSource === 'none') {
    out.push('frame accounting: not available (some viewers watched streams this run did not publish)');
  }
  out.push(`player time: ${s.sessions.playerMinutes.toFixed(1)} player-minutes`);
  out.push(...shareLines(s));
  const failures = Object.entries(s.failures);
  if (failures.length > 0) out.push(`failures: ${failures.map(([k, v]) => `${k} ×${v}`).join(', ')}`);
  const g = s.generator;
  const el = g.eventLoop;
  out.push(
    `generator: ${g.cpuSeconds.toFixed(1)} s CPU, ${bytes(g.maxRssBytes)} peak RSS, ${g.workers} worker(s)` +
      (el !== undefined
        ? `; busiest event loop ${(el.utilization * 100).toFixed(0)}% busy, timer delay p99 ` +
          `${el.delayP99Ms.toFixed(1)} ms (max ${el.delayMaxMs.toFixed(0)} ms)`
        : ''),
  );
  if (s.server) {
    const per =
      s.sessions.playerMinutes > 0
        ? ` (${(s.server.cpuSeconds / (s.sessions.playerMinutes / 1000)).toFixed(1)} CPU-s per 1000 player-minutes)`
        : '';
    out.push(
      `server: ${s.server.cpuSeconds.toFixed(1)} s CPU${per}, ${bytes(s.server.maxRssBytes)} ` +
        `peak ` +
        `RSS${s.server.drops ? `, dropped ${s.server.drops.video} video + ${s.server.drops.audio} audio frames` : ''}`,
    );
  }
  const leak = s.server?.leak;
  // A run where no session ended has nothing to judge: the verdict stays in summary.json, not on screen.
  if (leak !== undefined && leak.plateau.sessionsEnded > 0)
    out.push(
      `server leak verdict: ${leak.verdict} — ${leak.reason} ` +
        `(${leak.plateau.sessionsEnded.toLocaleString('en-US')} sessions ended over ` +
        `${Math.round(leak.plateau.toSec - leak.plateau.fromSec)} s judged)`,
    );
  if (s.generator.rssSlopeBytesPerMin !== undefined)
    out.push(`generator memory after warm-up: ${(s.generator.rssSlopeBytesPerMin / 1e6).toFixed(2)} MB/min`);
  const own = s.generator.leak;
  if (own !== undefined && own.plateau.sessionsEnded > 0)
    out.push(`generator's own memory: ${own.verdict} — ${own.reason}`);
  if (s.latencySource === 'rtmp-timestamps')
    out.push(
      'latency: no timing marks in the stream (published elsewhere): end-to-end is the delay ' +
        "against its RTMP timestamps, from each player's first frame",
    );
  if (s.capacity !== undefined) out.push(formatCapacity(s.capacity));
  return out;
}

/** The answer of a capacity search. */
function formatCapacity(c: NonNullable<RunSummary['capacity']>): string {
  if (!c.broken)
    return (
      `capacity: every threshold held up to ${c.highestPassingPlayers.toLocaleString('en-US')} ` +
      `players, the most this run reached (raise the stages to find the limit)`
    );
  return (
    `capacity: ${c.highestPassingPlayers.toLocaleString('en-US')} players is the most for ` +
    `which every threshold held; they broke at ${c.brokeAtSec}s with ` +
    `${c.playersAtBreak?.toLocaleString('en-US')} players up ` +
    `(${(c.brokenBy ?? []).join('; ')})`
  );
}

/** Browser viewers by group (real players in Chromium): what the players measured, and what they cost. */
export function browserRows(s: RunSummary): (string | number)[][] | null {
  const by = s.browser;
  if (by === undefined) return null;
  const rows: (string | number)[][] = [
    [
      'browser group',
      'player',
      'playing',
      'first frame p50',
      'held p50',
      'buffer p50',
      'latency p50',
      'latency p99',
      'frames marked',
      'marks off',
      'rebuffers (ms)',
      'dropped/decoded',
      'kbit/s',
      'clock ±ms',
      'CPU/viewer',
      'memory/viewer',
    ],
  ];
  for (const [key, g] of Object.entries(by)) {
    rows.push([
      key,
      `${g.player} (${g.protocol})`,
      `${g.viewersPlaying}/${g.viewers}`,
      g.viewersPlaying > 0 ? fmtMs(g.firstFrameP50Ms) : '-',
      g.viewersPlaying > 0 ? fmtMs(g.startHoldP50Ms) : '-',
      g.markedShare > 0 ? fmtMs(g.bufferP50Ms) : '-',
      g.markedShare > 0 ? fmtMs(g.latencyP50Ms) : '-',
      g.markedShare > 0 ? fmtMs(g.latencyP99Ms) : '-',
      `${(g.markedShare * 100).toFixed(1)}%`,
      g.marksOffTimeline,
      `${g.rebuffers} (${g.rebufferMs})`,
      `${g.droppedFrames}/${g.decodedFrames}`,
      g.kbpsPerViewer,
      (g.clockBoundUs / 1000).toFixed(1),
      `${(g.cpuCoresPerViewer * 100).toFixed(1)}%`,
      bytes(g.pssBytesPerViewer),
    ]);
  }
  return rows;
}

/** Problems browser viewers' pages met (player errors, failed drains), one line per group. */
export function browserErrorLines(s: RunSummary): string[] {
  return Object.entries(s.browser ?? {})
    .filter(([, g]) => g.errors !== undefined && g.errors.length > 0)
    .map(([k, g]) => `browser group ${k}: ${g.errors!.join('; ')}`);
}
