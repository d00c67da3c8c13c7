import { FlvFileSource } from '../../media/flv-source.js';
import { monotonicUs } from '../../media/timing-mark.js';
import type { BrowserProtocol } from '../../protocol/delivery.js';
import type { Scenario } from '../../results/scenario.js';
import { DEFAULT_PLAY_URLS, fillPlayUrl, streamUrl } from '../play-urls.js';
import type { ShardOf } from '../plan.js';
import { BrowserViewers, type BrowserResults } from './browser-viewers.js';

/**
 * The browser viewers of one run: Chromium started before the run's clock (its start-up is no
 * part of the run, and a missing browser refuses the run before any socket opens), the viewers
 * joining once the streams exist (the warm-up's end, at least JOIN_AFTER_MS after the start),
 * drained every second, and closed when the workers end. A share of a run spread over machines
 * opens its part of them, dealt as the simulated viewers are (load/plan.ts): a stream's viewers
 * on the machine that publishes it when there are as many streams as machines, else round-robin.
 */

/** Browser viewers join no earlier than this after the run's start: the published streams exist by then. */
const JOIN_AFTER_MS = 2000;

/** A group's key in results (browser.KEY): its name, or its protocol's key. */
function browserGroupKey(g: { protocol: BrowserProtocol; name?: string | undefined }): string {
  return g.name ?? { hls: 'hls', 'll-hls': 'llHls', 'http-flv': 'httpFlv', 'ws-flv': 'wsFlv' }[g.protocol];
}

/** Where a browser viewer of `protocol` plays on the built-in server (LL-HLS: the same playlist). */
function defaultUrl(protocol: BrowserProtocol): string {
  return DEFAULT_PLAY_URLS[protocol === 'll-hls' ? 'hls' : protocol];
}

export class BrowserRun {
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();
  private joining: Promise<void> = Promise.resolve();
  private stopped = false;

  /** How far the source's frames are shown after their decode time (B-frames), ms; 0 without a clip. */
  private readonly reorderMs: number;

  private constructor(
    private readonly viewers: BrowserViewers,
    private readonly scenario: Scenario,
    private readonly targetUrl: string,
    private readonly httpPort: number | undefined,
    private readonly shardOf: ShardOf | undefined,
  ) {
    const source = scenario.media.source;
    this.reorderMs = source === 'synthetic' ? 0 : new FlvFileSource(source).maxCompositionMs;
  }

  /** Chromium, ready; null when the scenario has no browser viewers. */
  static async prepare(
    s: Scenario,
    targetUrl: string,
    httpPort: number | undefined,
    shardOf?: ShardOf,
  ): Promise<BrowserRun | null> {
    if (s.browsers === undefined || s.browsers.length === 0) return null;
    return new BrowserRun(await BrowserViewers.launch(), s, targetUrl, httpPort, shardOf);
  }

  /** Joins the viewers at their time (from the run's start, on the host's clock) and drains them every second. */
  begin(startAtUs: number): void {
    const joinAtMs = Math.max(JOIN_AFTER_MS, this.scenario.warmupMs);
    const delayMs = Math.max(0, (startAtUs - monotonicUs()) / 1000 + joinAtMs);
    this.timer = setTimeout(() => {
      this.joining = this.join();
      this.timer = setInterval(() => {
        // One tick at a time: a slow drain delays the next rather than piling up.
        this.ticking = this.ticking.then(() => (this.stopped ? undefined : this.viewers.tick()));
      }, 1000);
    }, delayMs);
  }

  /** Ends the viewers; what they measured. */
  async end(): Promise<BrowserResults> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.joining;
    await this.ticking;
    return this.viewers.close();
  }

  private async join(): Promise<void> {
    const s = this.scenario;
    const streams = s.streamNames;
    const m = this.shardOf;
    const here = (i: number) =>
      m === undefined || (streams.length >= m.count ? i % streams.length : i) % m.count === m.index;
    for (const g of s.browsers ?? []) {
      const url = fillPlayUrl(g.url ?? defaultUrl(g.protocol), this.targetUrl, this.httpPort);
      for (let i = 0; i < g.perStream * streams.length; i++) {
        if (this.stopped) return;
        if (!here(i)) continue;
        await this.viewers.add({
          group: browserGroupKey(g),
          protocol: g.protocol,
          url: streamUrl(url, streams[i % streams.length]!),
          reorderMs: this.reorderMs,
        });
      }
    }
  }
}
