import { METRIC_INFO, METRICS, type HistogramKey, type MetricName } from '../metrics/histograms.js';
import { COUNTER_NAMES, counterProm, type CounterName, type CounterProm, type Counters } from '../results/counters.js';
import { EVENT_LOOP_FIGURES, GENERATOR_FIGURES, latencyFamilyName, SERVER_FIGURES } from '../results/figures.js';
import { closedFailureCounts } from '../results/failures.js';
import { PROTOCOL_KEYS, type ViewerProtocol } from '../protocol/delivery.js';
import { PROTOCOL_LABELS, type ProtocolKey } from '../results/live.js';
import type { TimelinePoint } from '../results/timeline.js';
import { VERSION } from '../version.js';
import type { LiveRun } from './live-run.js';
import {
  histogramSample,
  type PromFamily,
  type PromHistogramSample,
  type PromLabels,
  type PromSample,
} from './prom-text.js';

/**
 * The generator's own Prometheus metrics while a run goes on, every name prefixed `rtmpbench_`:
 * sessions per kind and protocol, frames and bytes, losses and stalls, failures by reason, the
 * generator's CPU, memory and event loops, the target's CPU and memory when known, and each
 * latency metric as a histogram (seconds). Values come from the run's reports (LiveRun); this
 * file only names and labels them. Viewer series carry a `protocol` label, with the values the
 * built-in server's /metrics uses (rtmp, http-flv, ws-flv, hls).
 */

/** What publishers use: they always publish over RTMP. */
const PUBLISH_PROTOCOL = 'rtmp';

interface CounterRow {
  name: string;
  help: string;
  /**
   * One series per counter of the family: the counter it reads, and how it is labelled (per protocol
   * for viewers' counts).
   */
  series: [CounterName, CounterProm][];
}

/** The counters the counter table exports, one row per family, in the table's order. */
const COUNTER_ROWS: CounterRow[] = (() => {
  const rows = new Map<string, CounterRow>();
  for (const k of COUNTER_NAMES) {
    const prom = counterProm(k);
    if (prom === undefined) continue;
    let row = rows.get(prom.family);
    if (row === undefined) {
      row = { name: prom.family, help: prom.help, series: [] };
      rows.set(prom.family, row);
    }
    row.series.push([k, prom]);
  }
  return [...rows.values()];
})();

const sample = (labels: PromLabels, value: number): PromSample => ({ labels, value });

/** The family of a figure-table entry's `prom` names, with one unlabelled sample. */
function figureFamily(prom: { family: string; help: string }, type: 'counter' | 'gauge', value: number): PromFamily {
  return { name: prom.family, help: prom.help, type, samples: [sample({}, value)] };
}

/**
 * The viewers' counters by protocol label: each protocol's when the run reports them apart, else the
 * run's own as RTMP.
 */
function viewerCounters(live: LiveRun): [string, Counters][] {
  const by = Object.entries(live.cumulativeByProtocol) as [ProtocolKey, Counters][];
  return by.length > 0 ? by.map(([k, c]) => [PROTOCOL_LABELS[k], c]) : [['rtmp', live.cumulative]];
}

/** The viewer protocols of the scenario, as labels. */
function scenarioProtocols(live: LiveRun): string[] {
  const s = live.start?.scenario;
  if (s === undefined) return ['rtmp'];
  return [...new Set([s.players.protocol ?? 'rtmp', ...(s.viewers ?? []).map((v) => v.protocol)])];
}

/** Latency histograms per protocol: grouped keys ("hls.endToEnd") when the run has them, else the run's own as RTMP. */
function latencySamples(live: LiveRun, metric: MetricName): PromHistogramSample[] {
  const grouped: PromHistogramSample[] = [];
  for (const [key, protocol] of Object.entries(PROTOCOL_LABELS)) {
    const h = live.histograms.get(`${key}.${metric}` as HistogramKey);
    if (h !== undefined) grouped.push(histogramSample({ protocol }, h));
  }
  if (grouped.length > 0) return grouped;
  return [histogramSample({ protocol: metric === 'pacing' ? PUBLISH_PROTOCOL : 'rtmp' }, live.histograms.get(metric))];
}

/** Viewers up per protocol: from the second's count by protocol, or all of them under the run's one protocol. */
function playersUpSamples(point: TimelinePoint | null, protocols: readonly string[]): PromSample[] {
  if (protocols.length === 1) return [sample({ kind: 'player', protocol: protocols[0]! }, point?.playersUp ?? 0)];
  // A second without the count by protocol had RTMP viewers up only (or none).
  const by = point?.playersUpByProtocol ?? { rtmp: point?.playersUp ?? 0 };
  return protocols.map((label) =>
    sample({ kind: 'player', protocol: label }, by[PROTOCOL_KEYS[label as ViewerProtocol]] ?? 0),
  );
}

/** Every family of the generator's endpoint, from the run as it stands (zeros before its first second). */
export function generatorFamilies(live: LiveRun): PromFamily[] {
  const c = live.cumulative;
  const start = live.start;
  const point = live.last?.point ?? null;
  const viewers = viewerCounters(live);
  const protocols = scenarioProtocols(live);
  const families: PromFamily[] = [
    {
      name: 'rtmpbench_info',
      help: 'The run: rtmpbench version, scenario and target (always 1)',
      type: 'gauge',
      samples: [sample({ version: VERSION, scenario: start?.scenario.name ?? '', target: start?.target ?? '' }, 1)],
    },
    {
      name: 'rtmpbench_run_elapsed_seconds',
      help: 'Time since the run started, as far as every worker has reported',
      type: 'gauge',
      samples: [sample({}, live.elapsedSec)],
    },
    {
      name: 'rtmpbench_run_planned_seconds',
      help: 'Planned length of the run',
      type: 'gauge',
      samples: [sample({}, (start?.scenario.durationMs ?? 0) / 1000)],
    },
    {
      name: 'rtmpbench_sessions',
      help: 'Sessions up now, by kind and protocol',
      type: 'gauge',
      samples: [
        sample({ kind: 'publisher', protocol: PUBLISH_PROTOCOL }, point?.publishersUp ?? 0),
        ...playersUpSamples(point, protocols),
      ],
    },
    {
      name: 'rtmpbench_sessions_planned',
      help: 'Sessions the scenario starts in all (players at the peak), by kind',
      type: 'gauge',
      samples: [
        sample({ kind: 'publisher', protocol: PUBLISH_PROTOCOL }, start?.scenario.publishedStreams ?? 0),
        sample(
          { kind: 'player', protocol: protocols.length === 1 ? protocols[0]! : 'all' },
          start?.playersPlanned ?? 0,
        ),
      ],
    },
  ];
  for (const row of COUNTER_ROWS) {
    const samples = row.series.flatMap(([k, prom]) => {
      const sources: [string, Counters][] = prom.side === 'publishers' ? [[PUBLISH_PROTOCOL, c]] : viewers;
      return sources.map(([protocol, counters]) =>
        sample({ ...(prom.kind !== undefined ? { kind: prom.kind } : {}), protocol, ...prom.labels }, counters[k]),
      );
    });
    families.push({ name: row.name, help: row.help, type: 'counter', samples });
  }
  families.push({
    name: 'rtmpbench_failures_total',
    help: 'Sessions that failed or dropped, by reason ("player: no-video", "player dropped: closed"...)',
    type: 'counter',
    // Reasons from a closed set (allFailureKeys): an unexpected error's message never becomes a label.
    samples: Object.entries(closedFailureCounts(live.failures)).map(([reason, n]) => sample({ reason }, n)),
  });
  const gen = GENERATOR_FIGURES;
  const loop = EVENT_LOOP_FIGURES;
  families.push(
    figureFamily(gen.cpuSeconds.prom, 'counter', round6(live.generatorCpuSeconds)),
    figureFamily(gen.maxRssBytes.prom, 'gauge', point?.generatorRssBytes ?? 0),
    figureFamily(gen.workers.prom, 'gauge', start?.workers ?? 0),
    figureFamily(loop.utilization.prom, 'gauge', point?.generatorEventLoopUtilization ?? 0),
    figureFamily(loop.delayP99Ms.prom, 'gauge', (point?.generatorEventLoopDelayP99Ms ?? 0) / 1000),
  );
  if (live.serverCpuSeconds !== null) {
    const srv = SERVER_FIGURES;
    families.push(
      figureFamily(srv.cpuSeconds.prom, 'counter', round6(live.serverCpuSeconds)),
      figureFamily(srv.maxRssBytes.prom, 'gauge', point?.serverRssBytes ?? 0),
    );
  }
  for (const metric of METRICS) {
    families.push({
      name: latencyFamilyName(metric),
      help: `Latency: ${METRIC_INFO[metric].description} (seconds)`,
      type: 'histogram',
      samples: latencySamples(live, metric),
    });
  }
  return families;
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
