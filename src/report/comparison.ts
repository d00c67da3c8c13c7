import { PROTOCOL_KEY_LIST } from '../protocol/delivery.js';
import { sumFailures, type RunSummary } from '../results/summary.js';
import { mean, pairedRatio, type Interval } from '../metrics/stats.js';
import type { LoadedComparison } from '../results/folder.js';
import type { ComparisonFile } from '../results/comparison-file.js';
import type { GateResult } from '../results/gates.js';

/**
 * The figures of a comparison, computed from each run's summary: per variant the mean over its
 * repeats with the spread, the ratio to the baseline variant (geometric mean of the ratios of
 * runs paired by round, with a 95% confidence interval), and the winner of each figure.
 */

export interface Figure {
  key: string;
  /** Column heading in tables. */
  short: string;
  label: string;
  unit: string;
  /** `neither`: a figure that explains another (the kernel's share of the CPU), never a winner. */
  better: 'lower' | 'higher' | 'neither';
  /** The figure of one run, or null when that run does not have it (e.g. no server CPU for an external server). */
  of(s: RunSummary): number | null;
  digits: number;
}

const lat = (m: keyof RunSummary['latencyMs'], p: 'p50' | 'p99' | 'p999') => (s: RunSummary) =>
  s.latencyMs[m]?.count ? s.latencyMs[m][p] : null;

const FIGURES: Figure[] = [
  // A capacity search: the most players for which every threshold held (absent in other runs).
  {
    key: 'capacityPlayers',
    short: 'capacity',
    label: 'capacity: most players with every threshold held',
    unit: '',
    better: 'higher',
    digits: 0,
    of: (s) => s.capacity?.highestPassingPlayers ?? null,
  },
  {
    key: 'serverCpuPer1000PlayerMin',
    short: 'CPU-s/1k pm',
    label: 'server CPU-s / 1000 player-min',
    unit: 's',
    better: 'lower',
    digits: 1,
    of: (s) =>
      s.server !== undefined && s.sessions.playerMinutes > 0
        ? s.server.cpuSeconds / (s.sessions.playerMinutes / 1000)
        : null,
  },
  {
    key: 'serverPeakRssMB',
    short: 'RSS MB',
    label: 'server peak RSS MB',
    unit: 'MB',
    better: 'lower',
    digits: 1,
    of: (s) => (s.server !== undefined ? s.server.maxRssBytes / 1e6 : null),
  },
  // The server's cost from the kernel's counters (summary server.cost): comparable only where the
  // variants delivered the same frames (costComparability).
  {
    key: 'serverCpuUsPerMessage',
    short: 'CPU-µs/msg',
    label: 'server CPU-µs per delivered message',
    unit: 'µs',
    better: 'lower',
    digits: 2,
    of: (s) => s.server?.cost?.cpuUsPerMessage ?? null,
  },
  {
    key: 'serverKernelShare',
    short: 'kernel %',
    label: 'server CPU in the kernel, % of its CPU',
    unit: '%',
    // Where the CPU went, not how much: a server that moved work out of the kernel is no better for it.
    better: 'neither',
    digits: 1,
    of: (s) => (s.server?.cost?.kernelShare !== undefined ? s.server.cost.kernelShare * 100 : null),
  },
  {
    key: 'serverWriteCallsPerMessage',
    short: 'writes/msg',
    label: 'server write calls per delivered message',
    unit: '',
    better: 'lower',
    digits: 3,
    of: (s) => s.server?.cost?.writeCallsPerMessage ?? null,
  },
  {
    key: 'serverBytesPerWriteCall',
    short: 'B/write',
    label: 'server bytes per write call',
    unit: 'B',
    better: 'higher',
    digits: 0,
    of: (s) => s.server?.cost?.bytesPerWriteCall ?? null,
  },
  {
    key: 'firstFrameP50',
    short: 'TTFF p50',
    label: 'first frame p50 ms',
    unit: 'ms',
    better: 'lower',
    digits: 1,
    of: lat('firstFrame', 'p50'),
  },
  {
    key: 'firstFrameP99',
    short: 'TTFF p99',
    label: 'first frame p99 ms',
    unit: 'ms',
    better: 'lower',
    digits: 1,
    of: lat('firstFrame', 'p99'),
  },
  {
    key: 'endToEndP50',
    short: 'e2e p50',
    label: 'end-to-end p50 ms',
    unit: 'ms',
    better: 'lower',
    digits: 2,
    of: lat('endToEnd', 'p50'),
  },
  {
    key: 'endToEndP99',
    short: 'e2e p99',
    label: 'end-to-end p99 ms',
    unit: 'ms',
    better: 'lower',
    digits: 1,
    of: lat('endToEnd', 'p99'),
  },
  {
    key: 'endToEndP999',
    short: 'e2e p99.9',
    label: 'end-to-end p99.9 ms',
    unit: 'ms',
    better: 'lower',
    digits: 1,
    of: lat('endToEnd', 'p999'),
  },
  {
    key: 'framesLost',
    short: 'lost',
    label: 'frames lost',
    unit: '',
    better: 'lower',
    digits: 0,
    of: (s) => s.frames.lost,
  },
  {
    key: 'serverDrops',
    short: 'drops',
    label: 'server drops',
    unit: '',
    better: 'lower',
    digits: 0,
    of: (s) => (s.server?.drops !== undefined ? s.server.drops.video + s.server.drops.audio : null),
  },
  {
    key: 'headerOverheadPct',
    short: 'hdr %',
    label: 'chunk-header bytes, % of media bytes',
    unit: '%',
    better: 'lower',
    digits: 2,
    // Bytes players read beyond the media payloads (chunk headers and the few control messages),
    // per media byte: comparable between variants that deliver different amounts of media.
    of: (s) =>
      s.throughput.mediaBytesReceived > 0
        ? ((s.throughput.bytesReceived - s.throughput.mediaBytesReceived) / s.throughput.mediaBytesReceived) * 100
        : null,
  },
  {
    key: 'slowEndToEndP99',
    short: 'slow e2e p99',
    label: 'slow viewers e2e p99 ms',
    unit: 'ms',
    better: 'lower',
    digits: 0,
    of: lat('slowEndToEnd', 'p99'),
  },
  {
    key: 'slowFramesLost',
    short: 'slow lost',
    label: 'slow viewers frames lost',
    unit: '',
    better: 'lower',
    digits: 0,
    of: (s) => (s.scenario.players.slowPerStream > 0 ? s.frames.slowLost : null),
  },
  {
    key: 'playersFailed',
    short: 'failed',
    label: 'players failed',
    unit: '',
    better: 'lower',
    digits: 0,
    of: (s) => s.sessions.players.failed,
  },
];

/** Each protocol's viewers apart (present in runs that had viewers of several protocols, or HTTP ones). */
const PROTOCOL_FIGURES: Figure[] = PROTOCOL_KEY_LIST.flatMap((k): Figure[] => {
  const of = (m: 'firstFrame' | 'endToEnd' | 'playout', p: 'p50' | 'p99') => (s: RunSummary) => {
    const l = s.byProtocol?.[k]?.latencyMs[m];
    return l !== undefined && l.count > 0 ? l[p] : null;
  };
  return [
    {
      key: `${k}FirstFrameP50`,
      short: `${k} TTFF p50`,
      label: `${k} viewers: first frame p50 ms`,
      unit: 'ms',
      better: 'lower',
      digits: 1,
      of: of('firstFrame', 'p50'),
    },
    {
      key: `${k}EndToEndP50`,
      short: `${k} e2e p50`,
      label: `${k} viewers: end-to-end p50 ms`,
      unit: 'ms',
      better: 'lower',
      digits: 1,
      of: of('endToEnd', 'p50'),
    },
    {
      key: `${k}EndToEndP99`,
      short: `${k} e2e p99`,
      label: `${k} viewers: end-to-end p99 ms`,
      unit: 'ms',
      better: 'lower',
      digits: 1,
      of: of('endToEnd', 'p99'),
    },
    ...(k === 'hls'
      ? [
          {
            key: 'hlsRequestsPerViewerSecond',
            short: 'hls req/viewer/s',
            label: 'hls viewers: HTTP requests per viewer per second',
            unit: '',
            better: 'lower' as const,
            digits: 2,
            of: (s: RunSummary) => s.byProtocol?.hls?.throughput.hlsRequestsPerViewerSecond ?? null,
          },
          {
            key: 'hlsPlayoutP99',
            short: 'hls playout p99',
            label: 'hls viewers: end-to-end at playout p99 ms',
            unit: 'ms',
            better: 'lower' as const,
            digits: 0,
            of: of('playout', 'p99'),
          },
        ]
      : []),
  ];
});

/**
 * Named viewer groups apart (scenarios that name them): each group's end-to-end p99, and where
 * another group joins on a schedule of its own, this group's worst second's p99 while it
 * joined and that over its p99 in the 5 s before (the joiners' cost to viewers already there).
 */
function groupFigureList(all: readonly RunSummary[]): Figure[] {
  const seen = new Map<string, Figure>();
  for (const s of all) {
    for (const [name, g] of Object.entries(s.byGroup ?? {})) {
      const e2e: Figure = {
        key: `group.${name}.endToEndP99`,
        short: `${name} e2e p99`,
        label: `${name} viewers: end-to-end p99 ms`,
        unit: 'ms',
        better: 'lower',
        digits: 1,
        of: (x) => (x.byGroup?.[name]?.latencyMs.endToEnd.count ? x.byGroup[name]!.latencyMs.endToEnd.p99 : null),
      };
      if (!seen.has(e2e.key)) seen.set(e2e.key, e2e);
      for (const other of Object.keys(g.whileJoining ?? {})) {
        const worst: Figure = {
          key: `group.${name}.while.${other}.worstP99`,
          short: `${name} p99 while ${other} join`,
          label: `${name} viewers: worst second's e2e p99 while ${other} joined, ms`,
          unit: 'ms',
          better: 'lower',
          digits: 1,
          of: (x) => x.byGroup?.[name]?.whileJoining?.[other]?.worstSecondP99Ms ?? null,
        };
        const ratio: Figure = {
          key: `group.${name}.while.${other}.ratio`,
          short: `${name} ×before`,
          label: `${name} viewers: that worst second over their p99 in the 5 s before`,
          unit: '×',
          better: 'lower',
          digits: 2,
          of: (x) => x.byGroup?.[name]?.whileJoining?.[other]?.ratio ?? null,
        };
        const after: Figure = {
          key: `group.${name}.while.${other}.afterP99`,
          short: `${name} p99 after ${other} joined`,
          label: `${name} viewers: e2e p99 over the 5 s after ${other} joined (everyone in), ms`,
          unit: 'ms',
          better: 'lower',
          digits: 1,
          of: (x) => x.byGroup?.[name]?.whileJoining?.[other]?.afterP99Ms ?? null,
        };
        for (const f of [worst, ratio, after]) if (!seen.has(f.key)) seen.set(f.key, f);
      }
    }
  }
  return [...seen.values()];
}

/**
 * Browser viewers' groups apart (runs with browser viewers): each group's latency to live per
 * rendered frame (p50, p99), its first rendered frame (p50) and its rebuffering.
 */
function browserFigureList(all: readonly RunSummary[]): Figure[] {
  const seen = new Map<string, Figure>();
  for (const s of all) {
    for (const [name, g] of Object.entries(s.browser ?? {})) {
      const at = (x: RunSummary) => {
        const b = x.browser?.[name];
        return b !== undefined && b.viewersPlaying > 0 ? b : null;
      };
      const who = `${name} (${g.player})`;
      const list: Figure[] = [
        {
          key: `browser.${name}.latencyP50`,
          short: `${name} browser p50`,
          label: `${who} browser viewers: latency to live p50 ms`,
          unit: 'ms',
          better: 'lower',
          digits: 0,
          of: (x) => (at(x)?.markedShare ? at(x)!.latencyP50Ms : null),
        },
        {
          key: `browser.${name}.latencyP99`,
          short: `${name} browser p99`,
          label: `${who} browser viewers: latency to live p99 ms`,
          unit: 'ms',
          better: 'lower',
          digits: 0,
          of: (x) => (at(x)?.markedShare ? at(x)!.latencyP99Ms : null),
        },
        {
          key: `browser.${name}.firstFrameP50`,
          short: `${name} browser TTFF`,
          label: `${who} browser viewers: first rendered frame p50 ms`,
          unit: 'ms',
          better: 'lower',
          digits: 0,
          of: (x) => at(x)?.firstFrameP50Ms ?? null,
        },
        {
          key: `browser.${name}.rebufferMs`,
          short: `${name} browser rebuffer`,
          label: `${who} browser viewers: time rebuffering ms`,
          unit: 'ms',
          better: 'lower',
          digits: 0,
          of: (x) => at(x)?.rebufferMs ?? null,
        },
      ];
      for (const f of list) if (!seen.has(f.key)) seen.set(f.key, f);
    }
  }
  return [...seen.values()];
}

export interface FigureStats {
  /** Per repeat, in round order (null where the run lacks the figure). */
  values: (number | null)[];
  mean: number | null;
  min: number | null;
  max: number | null;
  /** Against the baseline: estimate and 95% CI (NaN bounds with a single pair). */
  ratio: (Interval & { n: number }) | null;
}

export interface VariantRow {
  name: string;
  runs: number;
  failedRuns: number;
  thresholdsFailed: number;
  figures: Record<string, FigureStats>;
  /**
   * Capacity searches: what ended each round's search (the thresholds that broke it first,
   * "held" when none broke) — a server can lose a capacity search on one threshold alone.
   */
  capacityEndedBy: string[];
  /** Viewers that failed, by reason, over all rounds (which timeout or refusal failed them). */
  failures: Record<string, number>;
  /** On the CPU-versus-latency frontier: no other variant has both less server CPU per viewer and a lower e2e p99. */
  onFrontier: boolean | null;
}

export interface ComparisonTable {
  name: string;
  baseline: string;
  repeat: number;
  figures: Figure[];
  rows: VariantRow[];
  /** Per figure, the best variant (null when no variant has the figure or all are equal). */
  winners: Record<string, { variant: string; ratio: FigureStats['ratio']; significant: boolean } | null>;
  /** Gate rules judged for each variant against the baseline (empty without rules). */
  gates: GateResult[];
  /** The baseline's runs were read from results saved earlier (not interleaved). */
  against?: ComparisonFile['against'];
  /** Why the variants' server cost figures do not compare (they delivered different frames), or null. */
  costNote: string | null;
}

export function computeComparison(c: LoadedComparison): ComparisonTable {
  const rounds = c.file.repeat;
  // Figures no run has at all are left out (e.g. slow-viewer figures without slow viewers).
  const all = [...c.runs.values()].flat().map((r) => r.run.summary);
  const figures = [...FIGURES, ...PROTOCOL_FIGURES, ...groupFigureList(all), ...browserFigureList(all)].filter((f) =>
    all.some((s) => f.of(s) !== null),
  );
  const byRound = (variant: string, f: Figure): (number | null)[] => {
    const out: (number | null)[] = Array.from({ length: rounds }, () => null);
    for (const { round, run } of c.runs.get(variant) ?? []) out[round] = f.of(run.summary);
    return out;
  };
  const rows: VariantRow[] = c.file.variants.map((v) => {
    const runs = c.runs.get(v.name) ?? [];
    const row: VariantRow = {
      name: v.name,
      runs: runs.length,
      failedRuns: c.file.runs.filter((r) => r.variant === v.name && r.dir === null).length,
      thresholdsFailed: c.file.runs.filter((r) => r.variant === v.name && r.thresholdsPassed === false).length,
      figures: {},
      capacityEndedBy: runs.flatMap(({ run }) =>
        run.summary.capacity === undefined
          ? []
          : [
              run.summary.capacity.broken
                ? (run.summary.capacity.brokenBy ?? []).map((b) => b.replace(/ \(measured [^)]*\)$/, '')).join(' & ') ||
                  'broke'
                : 'held',
            ],
      ),
      failures: sumFailures(runs.map(({ run }) => run.summary.failures)),
      onFrontier: null,
    };
    for (const f of figures) {
      const values = byRound(v.name, f);
      const present = values.filter((x): x is number => x !== null);
      const base = byRound(c.file.baseline, f);
      // Paired by round; only rounds where both have the figure.
      const pairs = values
        .map((x, i) => [x, base[i]] as const)
        .filter((p): p is readonly [number, number] => p[0] !== null && p[1] !== null);
      row.figures[f.key] = {
        values,
        mean: present.length > 0 ? mean(present) : null,
        min: present.length > 0 ? Math.min(...present) : null,
        max: present.length > 0 ? Math.max(...present) : null,
        ratio:
          v.name === c.file.baseline
            ? null
            : pairedRatio(
                pairs.map((p) => p[0]),
                pairs.map((p) => p[1]),
              ),
      };
    }
    return row;
  });
  markFrontier(rows);
  const winners: ComparisonTable['winners'] = {};
  for (const f of figures) {
    const candidates = rows.filter((r) => r.figures[f.key]!.mean !== null);
    if (candidates.length < 2 || f.better === 'neither') {
      winners[f.key] = null;
      continue;
    }
    const sorted = [...candidates].sort(
      (a, b) => (f.better === 'lower' ? 1 : -1) * (a.figures[f.key]!.mean! - b.figures[f.key]!.mean!),
    );
    const best = sorted[0]!;
    const runnerUp = sorted[1]!;
    if (best.figures[f.key]!.mean === runnerUp.figures[f.key]!.mean) {
      winners[f.key] = null;
      continue;
    }
    const ratio = best.figures[f.key]!.ratio;
    // Significant against the baseline when the whole interval is on the better side of 1.
    const significant =
      ratio !== null && Number.isFinite(ratio.low) && (f.better === 'lower' ? ratio.high < 1 : ratio.low > 1);
    winners[f.key] = { variant: best.name, ratio, significant };
  }
  return {
    name: c.file.name,
    baseline: c.file.baseline,
    repeat: rounds,
    figures,
    rows,
    winners,
    gates: c.file.gates ?? [],
    costNote: costComparability(
      c.file.variants.map((v) => ({ name: v.name, runs: (c.runs.get(v.name) ?? []).map((r) => r.run.summary) })),
    ),
    ...(c.file.against !== undefined ? { against: c.file.against } : {}),
  };
}

/**
 * A server's cost per message or per viewer says the same thing for two variants only when both
 * delivered the same frames: a server that drops frames (or a viewer that got fewer) looks
 * cheaper. Null when every variant with cost figures lost no frames, or all lost some, and their
 * viewers received within 1% the same messages per viewer-second; otherwise the sentence saying so.
 */
function costComparability(variants: readonly { name: string; runs: readonly RunSummary[] }[]): string | null {
  const measured = variants
    .map((v) => {
      const runs = v.runs.filter((s) => s.server?.cost !== undefined && s.sessions.playerMinutes > 0);
      if (runs.length === 0) return null;
      const lost = mean(runs.map((s) => s.frames.lost));
      const perViewerSec = mean(
        runs.map(
          (s) => (s.throughput.framesReceived + s.throughput.audioFramesReceived) / (s.sessions.playerMinutes * 60),
        ),
      );
      return { name: v.name, lost, perViewerSec };
    })
    .filter((m) => m !== null);
  if (measured.length < 2) return null;
  const rates = measured.map((m) => m.perViewerSec);
  const lossDiffers = measured.some((m) => m.lost > 0) && measured.some((m) => m.lost === 0);
  const rateDiffers = Math.max(...rates) > Math.min(...rates) * 1.01;
  if (!lossDiffers && !rateDiffers) return null;
  return (
    'server cost figures are not comparable: the variants delivered different frames (' +
    measured
      .map((m) => `${m.name}: lost ${m.lost.toFixed(0)}, ${m.perViewerSec.toFixed(2)} messages per viewer-second`)
      .join('; ') +
    ')'
  );
}

/** The figures of the CPU-versus-latency frontier: server CPU per 1000 player-minutes, and e2e p99. */
export const FRONTIER_FIGURES = ['serverCpuPer1000PlayerMin', 'endToEndP99'] as const;

/** Marks the variants no other variant beats on both frontier figures (Pareto-optimal). */
function markFrontier(rows: VariantRow[]): void {
  const point = (r: VariantRow) => FRONTIER_FIGURES.map((k) => r.figures[k]?.mean ?? null);
  const pts = rows.map(point);
  rows.forEach((r, i) => {
    const [cpu = null, p99 = null] = pts[i]!;
    if (cpu === null || p99 === null) return;
    r.onFrontier = !pts.some(
      ([c = null, p = null], j) => j !== i && c !== null && p !== null && c <= cpu && p <= p99 && (c < cpu || p < p99),
    );
  });
}

function formatNumber(v: number | null, digits: number): string {
  if (v === null || !Number.isFinite(v)) return '-';
  if (digits === 0) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(Math.abs(v) >= 1000 ? 0 : digits);
}

function formatRatio(r: FigureStats['ratio']): string {
  if (r === null) return '';
  const est = `${r.estimate.toFixed(2)}×`;
  return Number.isFinite(r.low) ? `${est} [${r.low.toFixed(2)}–${r.high.toFixed(2)}]` : est;
}

/** Figures whose ratio to the baseline means something (not counts that are mostly zero). */
const RATIO_FIGURES = new Set([
  'capacityPlayers',
  'serverCpuPer1000PlayerMin',
  'serverPeakRssMB',
  'serverCpuUsPerMessage',
  'serverKernelShare',
  'serverWriteCallsPerMessage',
  'serverBytesPerWriteCall',
  'firstFrameP50',
  'firstFrameP99',
  'endToEndP50',
  'endToEndP99',
  'endToEndP999',
  'headerOverheadPct',
  'slowEndToEndP99',
  ...PROTOCOL_FIGURES.map((f) => f.key),
]);

const variantLabel = (t: ComparisonTable, name: string) => (name === t.baseline ? `${name} (baseline)` : name);

/** Variants by figures: the mean over repeats; ★ marks the best of each figure. */
export function valuesTable(t: ComparisonTable): string[][] {
  const rows: string[][] = [['variant', ...t.figures.map((f) => f.short), 'runs']];
  for (const r of t.rows) {
    rows.push([
      variantLabel(t, r.name),
      ...t.figures.map(
        (f) => `${formatNumber(r.figures[f.key]!.mean, f.digits)}${t.winners[f.key]?.variant === r.name ? '★' : ''}`,
      ),
      `${r.runs}${r.failedRuns > 0 ? ` (+${r.failedRuns} failed)` : ''}` +
        (r.thresholdsFailed > 0 ? `, ${r.thresholdsFailed} over threshold` : ''),
    ]);
  }
  return rows;
}

/** Variants by figures: ratio to the baseline with its 95% confidence interval. */
export function ratiosTable(t: ComparisonTable): string[][] | null {
  const figures = t.figures.filter(
    (f) => RATIO_FIGURES.has(f.key) || (f.key.startsWith('group.') && !f.key.endsWith('.ratio')),
  );
  if (figures.length === 0 || t.rows.length < 2) return null;
  const rows: string[][] = [['variant', ...figures.map((f) => f.short)]];
  for (const r of t.rows) {
    if (r.name === t.baseline) continue;
    rows.push([r.name, ...figures.map((f) => formatRatio(r.figures[f.key]!.ratio) || '-')]);
  }
  return rows;
}

/** Variants by figures with the spread: mean (lowest–highest run). */
export function spreadTable(t: ComparisonTable): string[][] {
  const rows: string[][] = [['variant', ...t.figures.map((f) => f.label)]];
  for (const r of t.rows) {
    rows.push([
      variantLabel(t, r.name),
      ...t.figures.map((f) => {
        const st = r.figures[f.key]!;
        const n = st.values.filter((x) => x !== null).length;
        const m = formatNumber(st.mean, f.digits);
        return n < 2 || st.min === st.max
          ? m
          : `${m} (${formatNumber(st.min, f.digits)}–${formatNumber(st.max, f.digits)})`;
      }),
    ]);
  }
  return rows;
}

/** One sentence per figure naming its winner. */
export function winnerLines(t: ComparisonTable): string[] {
  const out: string[] = [];
  for (const f of t.figures) {
    const w = t.winners[f.key];
    if (w === null || w === undefined) continue;
    const row = t.rows.find((r) => r.name === w.variant)!;
    const value = formatNumber(row.figures[f.key]!.mean, f.digits);
    const vs =
      w.variant === t.baseline
        ? 'the baseline itself'
        : w.ratio !== null
          ? `${formatRatio(w.ratio)} of the baseline${w.significant ? '' : ', not significant'}`
          : 'no paired baseline';
    out.push(`${f.label}: ${w.variant} (${value}; ${vs})`);
  }
  return out;
}

/**
 * What the table alone does not say: which variants are on the CPU-versus-latency frontier,
 * what ended each variant's capacity search, and why its viewers failed.
 */
export function findingLines(t: ComparisonTable): string[] {
  const out: string[] = [];
  if (t.costNote !== null) out.push(t.costNote);
  const placed = t.rows.filter((r) => r.onFrontier !== null);
  if (placed.length >= 2) {
    const on = placed.filter((r) => r.onFrontier).map((r) => r.name);
    const off = placed.filter((r) => !r.onFrontier).map((r) => r.name);
    out.push(
      `CPU-versus-latency frontier (no other variant has both less server CPU per 1000 ` +
        `player-minutes and a lower e2e p99): ` +
        `${on.join(', ')}${off.length > 0 ? `; beaten on both by another: ${off.join(', ')}` : ''}`,
    );
  }
  for (const r of t.rows) {
    if (r.capacityEndedBy.length > 0) {
      const counts = new Map<string, number>();
      for (const e of r.capacityEndedBy) counts.set(e, (counts.get(e) ?? 0) + 1);
      const n = r.capacityEndedBy.length;
      const ends = [...counts].map(([why, k]) =>
        why === 'held' ? `held to the last step in ${k} of ${n} rounds` : `ended by ${why} in ${k} of ${n} rounds`,
      );
      out.push(`${r.name}: capacity search ${ends.join('; ')}`);
    }
    const failed = Object.entries(r.failures)
      .filter(([, k]) => k > 0)
      .sort((a, b) => b[1] - a[1]);
    if (failed.length > 0)
      out.push(`${r.name}: sessions failed over all rounds: ${failed.map(([why, k]) => `${why} ${k}`).join(', ')}`);
  }
  return out;
}

/** One line per gate rule and variant: PASSED or FAILED, the change with its interval, and the margin. */
export function gateLines(t: ComparisonTable): { passed: boolean; text: string }[] {
  return t.gates.map((g) => ({ passed: g.passed, text: `${g.passed ? 'passed' : 'FAILED'}: ${g.message}` }));
}

/** The sentence a comparison against saved results carries wherever it is shown. */
export function againstNote(t: ComparisonTable): string | null {
  if (t.against === undefined) return null;
  return (
    `the baseline "${t.baseline}" was read from results saved earlier (${t.against.dir}, ` +
    `started ${t.against.startedAt}), not run interleaved with the others: a change of ` +
    `machine or of its load counts as a difference, so these ratios are less trustworthy ` +
    `than those of interleaved runs`
  );
}
