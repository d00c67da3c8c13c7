import type { HistogramKey } from '../metrics/histograms.js';
import type { IntervalHistogram } from '../metrics/hlog.js';
import { leakVerdict } from '../metrics/leak.js';
import { theilSenSlope } from '../metrics/robust-slope.js';
import type { ProtocolKey } from '../protocol/delivery.js';
import { browserFigures, type BrowserData } from './browser.js';
import type { Counters } from './counters.js';
import { groupFigures, namedGroups } from './groups.js';
import { leakFigures } from './leak.js';
import type { Scenario } from './scenario.js';
import {
  buildSummary,
  hlsRequestRate,
  protocolFigures,
  protocolHttpErrors,
  type RunSummary,
  type SummaryInput,
} from './summary.js';
import { evaluateThresholds, parseThresholds } from './thresholds.js';
import type { TimelinePoint } from './timeline.js';

/**
 * Everything a run's summary is made from, whether it came from one run's workers or from
 * several shares of a run (`merge`): a merged run is a run whose data came from several places.
 * `summarizeRun` is the one function that turns it into summary.json.
 */
export interface RunData extends SummaryInput {
  /** The counters of each viewer protocol the run had (`counters` covers every viewer and publisher). */
  byProtocol: ReadonlyMap<ProtocolKey, Counters>;
  /** HTTP error answers viewers got, by "protocol status". */
  httpErrors: Record<string, number>;
  /** A histogram key's per-second intervals (the .hlog files): named groups' seconds come from them. */
  intervals: (key: HistogramKey) => IntervalHistogram[];
  /** Seconds of the run (the leak verdicts and the generator's memory slope read them). */
  timeline: readonly TimelinePoint[];
  /**
   * Browser viewers' counts by group and Chromium's cost by machine (load/browser/); their
   * distributions are in `histograms` (`browser.GROUP.METRIC`).
   */
  browser?: BrowserData;
}

/** The run's summary: the figures, each protocol's and group's apart, the leak verdicts, the thresholds judged. */
export function summarizeRun(d: RunData): RunSummary {
  const summary = buildSummary(d);
  // Per HLS viewer: the run's play time counts every protocol's viewers, the requests only HLS ones'.
  const hls = d.byProtocol.get('hls');
  if (hls !== undefined) Object.assign(summary.throughput, hlsRequestRate(hls));
  if (d.byProtocol.size > 1 || [...d.byProtocol.keys()].some((k) => k !== 'rtmp')) {
    summary.byProtocol = {};
    for (const [k, c] of d.byProtocol) {
      summary.byProtocol[k] = protocolFigures(
        k,
        c,
        d.histograms,
        summary.durationMs,
        d.expectedSource,
        protocolHttpErrors(d.httpErrors, k),
      );
    }
  }
  const groupIntervals = new Map(
    namedGroups(d.scenario).map((g): [HistogramKey, IntervalHistogram[]] => [
      `${g.name}.endToEnd`,
      d.intervals(`${g.name}.endToEnd`),
    ]),
  );
  const byGroup = groupFigures(d.scenario, d.histograms, groupIntervals, summary.durationMs / 1000);
  if (byGroup !== undefined) summary.byGroup = byGroup;
  if (d.browser !== undefined && Object.keys(d.browser.groups).length > 0)
    summary.browser = browserFigures(d.browser, d.histograms);
  memoryFigures(summary, d.scenario, d.timeline);
  summary.thresholds = evaluateThresholds(parseThresholds(d.scenario.thresholds), summary, d.histograms);
  return summary;
}

/**
 * From the per-second samples: whether the server's memory and descriptors grew with the
 * sessions that ended (the leak verdict), and how the generator's own memory moved.
 */
function memoryFigures(summary: RunSummary, s: Scenario, timeline: readonly TimelinePoint[]): void {
  const points = timeline.filter((p) => p.durationSec === undefined);
  const judge = (rss: (p: TimelinePoint) => number | null | undefined, fds: (p: TimelinePoint) => number | null) => {
    const samples = points
      .filter((p) => typeof rss(p) === 'number')
      .map((p) => ({ tSec: p.tSec, rssBytes: rss(p)!, fds: fds(p), sessionsEnded: p.sessionsEnded ?? 0 }));
    const options = {
      marginBytesPerSession: s.leak?.marginBytesPerSession ?? 2048,
      ...(s.leak?.warmupMs !== undefined ? { warmupSec: s.leak.warmupMs / 1000 } : {}),
    };
    return leakFigures(leakVerdict(samples, options));
  };
  if (summary.server !== undefined)
    summary.server.leak = judge(
      (p) => p.serverRssBytes,
      (p) => p.serverFds ?? null,
    );
  // The generator's memory, by the same rule: it should follow the sessions alive too.
  summary.generator.leak = judge(
    (p) => p.generatorRssBytes,
    () => null,
  );
  const after = points.filter(
    (p) => p.tSec * 1000 >= Math.max(s.warmupMs, s.durationMs / 4) && typeof p.generatorRssBytes === 'number',
  );
  // A slope over less than a minute is the heap settling, not a trend.
  if (after.length >= 60) {
    summary.generator.rssSlopeBytesPerMin = Math.round(
      theilSenSlope(
        after.map((p) => p.tSec / 60),
        after.map((p) => p.generatorRssBytes!),
      ),
    );
  }
}
