import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import {
  browserHistogramKey,
  newHistogram,
  recordUs,
  type BrowserMetricName,
  type Histogram,
  type HistogramKey,
} from '../../metrics/histograms.js';
import { ClockOffsetEstimator } from '../../metrics/clock-offset.js';
import { groupPssBytes, ProcessGroupSampler } from '../../metrics/process-group.js';
import { monotonicUs } from '../../media/timing-mark.js';
import type { BrowserProtocol } from '../../protocol/delivery.js';
import { MAX_BROWSER_ERRORS, type BrowserData, type BrowserGroupTotals } from '../../results/browser.js';
import {
  HLS_JS_PATH,
  MPEGTS_JS_PATH,
  PAGE_HTML,
  PAGE_PATH,
  PAGE_SCRIPT,
  type PageConfig,
  type PageDrain,
  type PageFrame,
} from './player-page.js';
import { BrowserUnavailable, loadBrowserKit, type BrowserKit } from './browser-kit.js';

/**
 * Real players as viewers: each a page of headless Chromium (Debian's, through playwright-core)
 * playing one stream with hls.js or mpegts.js, drained every second of what it recorded (see
 * player-page.ts), its page clock mapped onto the host's by the drains themselves.
 *
 * Connections: Chromium opens at most 6 HTTP/1.1 connections per host and profile. Each
 * viewer's connections are counted (CONNECTIONS_PER_VIEWER) and each browser context (a profile
 * of its own, with its own connection pool) holds only as many viewers as its 6 connections
 * allow, so no viewer waits for another's connection. HTTP/2 over TLS would lift the limit, but
 * neither the built-in server nor nginx-rtmp's HLS nor node-media-server serves it, and the
 * simulated viewers beside them speak HTTP/1.1, one connection each: contexts keep the two alike.
 */

/** Chromium's limit of HTTP/1.1 connections per host and profile. */
const CONNECTIONS_PER_HOST = 6;
/**
 * Connections one viewer holds at once: an HTTP-FLV stream holds one; hls.js fetches the
 * playlist and a segment at once (two); LL-HLS adds a blocking reload beside a part and a
 * preload hint (three). WebSockets are not drawn from the HTTP pool, but are kept to the same
 * count so one context never holds more viewers than an HTTP one.
 */
const CONNECTIONS_PER_VIEWER: Record<BrowserProtocol, number> = { hls: 2, 'll-hls': 3, 'http-flv': 1, 'ws-flv': 1 };
/** Marks of frames that do not sit at their media time by more than this (and the stream's reordering) are off the timeline. */
const OFF_TIMELINE_US = 10_000;
/** A media time that moves back, or jumps ahead by more than this, starts a new timeline (a new publication). */
const TIMELINE_JUMP_MS = 1000;
/** Marked frames whose median sets a timeline's offset. */
const TIMELINE_FRAMES = 15;
const DRAIN_TIMEOUT_MS = 5000;

export interface BrowserViewerSpec {
  /** The group the viewer reports under. */
  group: string;
  protocol: BrowserProtocol;
  /** What it plays: an http(s):// playlist or FLV URL, or a ws:// FLV URL. */
  url: string;
  /**
   * How far a frame may be shown after its decode time (B-frames: the stream's largest composition
   * offset), ms. A mark holds the decode-ordered send time and is matched by presentation time, so
   * its offset from the media time may vary by this much (0, the default: a stream without B-frames).
   */
  reorderMs?: number;
}

/** What a page's player is for a protocol. */
function playerOf(protocol: BrowserProtocol): PageConfig['player'] {
  return protocol === 'hls' || protocol === 'll-hls' ? 'hls.js' : 'mpegts.js';
}

/** A group's counts, and its distributions (µs) by BROWSER_METRICS. */
interface Group {
  totals: BrowserGroupTotals;
  h: Record<BrowserMetricName, Histogram>;
  errors: Set<string>;
}

/** What the browser viewers of a run measured: counts and cost (counters.json), histograms (histograms.json). */
export interface BrowserResults {
  data: BrowserData;
  histograms: Map<HistogramKey, Histogram>;
}

class Viewer {
  readonly clock = new ClockOffsetEstimator();
  last: PageDrain | null = null;
  startedUs = 0;
  /**
   * The marks' offset from the media times on this viewer's timeline (media µs − intended µs):
   * the median of its first TIMELINE_FRAMES marked frames (a player may nudge its first frame's
   * time), then every frame is judged against it.
   */
  private timelineUs: number | null = null;
  private readonly firstOffsets: number[] = [];
  private lastMediaMs = -Infinity;
  private lastShownMs = -1;
  /** The first rendered frame (page ms shown, media ms), until the second tells when the clock ran. */
  private first: [number, number] | null = null;
  private held = false;
  private readonly toleranceUs: number;
  constructor(
    readonly spec: BrowserViewerSpec,
    readonly page: PageLike,
  ) {
    this.toleranceUs = OFF_TIMELINE_US + (spec.reorderMs ?? 0) * 1000;
  }

  /** Takes a drain's frames into the group (latency from the page clock mapped to ours). */
  take(d: PageDrain, g: Group): void {
    const offset = this.clock.estimate();
    for (const f of d.frames) this.frame(f, g, offset?.offsetUs ?? null);
    if (d.playerLatencyMs >= 0) recordUs(g.h.playerEstimate, d.playerLatencyMs * 1000);
    g.totals.rendered += d.framesOverflow;
    this.last = d;
  }

  /** The first frames of a timeline: their median is its offset; those off it are counted. */
  private judgeFirst(g: Group): void {
    const sorted = [...this.firstOffsets].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    // The first is not judged: hls.js moves a stream's first frame onto the playlist's timeline
    // (measured: 23 ms, the frame's own mark found with it), so its media time is the player's.
    for (let i = 1; i < this.firstOffsets.length; i++)
      if (Math.abs(this.firstOffsets[i]! - median) > this.toleranceUs) g.totals.offTimeline++;
    this.timelineUs = median;
    this.firstOffsets.length = 0;
  }

  /** A new timeline (media time went back or jumped): what the last one had is judged, the next starts afresh. */
  newTimeline(g: Group): void {
    if (this.firstOffsets.length > 0) this.judgeFirst(g);
    this.timelineUs = null;
  }

  private frame(f: PageFrame, g: Group, offsetUs: number | null): void {
    const [shownMs, mediaMs, markUs, intendedUs, , parsedMs] = f;
    g.totals.rendered++;
    if (this.first === null) this.first = [shownMs, mediaMs];
    else if (!this.held && mediaMs > this.first[1]) {
      // The media clock ran from (shown − media advanced): how long after the first frame was shown.
      this.held = true;
      recordUs(g.h.startHold, (shownMs - (mediaMs - this.first[1]) - this.first[0]) * 1000);
    }
    if (mediaMs < this.lastMediaMs || mediaMs > this.lastMediaMs + TIMELINE_JUMP_MS) this.newTimeline(g);
    else if (this.lastShownMs >= 0 && shownMs > this.lastShownMs) {
      // The media clock's pace against the page's, stalls included (a jump or a seek is not play).
      const tot = g.totals;
      tot.playedClockMs = (tot.playedClockMs ?? 0) + shownMs - this.lastShownMs;
      tot.playedMediaMs = (tot.playedMediaMs ?? 0) + mediaMs - this.lastMediaMs;
    }
    this.lastMediaMs = mediaMs;
    this.lastShownMs = shownMs;
    if (markUs < 0) return;
    g.totals.marked++;
    recordUs(g.h.buffer, (shownMs - parsedMs) * 1000);
    const t = mediaMs * 1000 - intendedUs;
    if (this.timelineUs === null) {
      this.firstOffsets.push(t);
      if (this.firstOffsets.length === TIMELINE_FRAMES) this.judgeFirst(g);
    } else if (Math.abs(t - this.timelineUs) > this.toleranceUs) g.totals.offTimeline++;
    if (offsetUs === null) return;
    recordUs(g.h.latency, shownMs * 1000 - offsetUs - markUs);
  }
}

/** The part of a playwright page this uses. */
interface PageLike {
  evaluate(expr: string): Promise<unknown>;
  close(): Promise<void>;
}

interface ContextLike {
  newPage(): Promise<PageLike & { goto(url: string): Promise<unknown> }>;
  route(pattern: string, handler: (route: RouteLike) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

interface RouteLike {
  request(): { url(): string };
  fulfill(r: { status: number; contentType: string; body: string | Buffer }): Promise<void>;
}

export interface BrowserViewersOptions {
  /** The chromium executable (default: `chromium` on the PATH). */
  executable?: string;
}

/** The browser viewers of a run: one Chromium, contexts by connection budget, a page per viewer. */
export class BrowserViewers {
  private readonly groups = new Map<string, Group>();
  private readonly viewers: Viewer[] = [];
  private readonly contexts = new Map<string, { context: ContextLike; room: number }[]>();
  private readonly cost: ProcessGroupSampler;
  private readonly baseCpuSeconds: number;
  private readonly basePssBytes: number;
  private peakPssBytes = 0;
  private readonly openedUs = monotonicUs();
  private viewerSeconds = 0;
  private lastTickUs = monotonicUs();
  private closed = false;

  private constructor(
    private readonly kit: BrowserKit,
    private readonly assets: Map<string, string>,
  ) {
    this.cost = new ProcessGroupSampler(kit.pid);
    const s = this.cost.sample();
    this.baseCpuSeconds = s?.cpuSeconds ?? 0;
    this.basePssBytes = groupPssBytes(kit.pid) ?? 0;
  }

  /** Starts Chromium; refuses (UsageError) when it, playwright-core or a player is missing. */
  static async launch(opts: BrowserViewersOptions = {}): Promise<BrowserViewers> {
    const assets = playerAssets();
    const kit = await loadBrowserKit(opts.executable);
    return new BrowserViewers(kit, assets);
  }

  /** Opens a page playing `spec` (in a context with a free connection budget). */
  async add(spec: BrowserViewerSpec): Promise<void> {
    const g = this.group(spec);
    g.totals.viewers++;
    try {
      await this.open(spec);
    } catch (e) {
      g.errors.add(`open: ${(e as Error).message.split('\n')[0]}`);
    }
  }

  private async open(spec: BrowserViewerSpec): Promise<void> {
    const context = await this.contextFor(spec);
    const page = await context.newPage();
    const origin = new URL(spec.url.replace(/^ws/, 'http')).origin;
    await page.goto(`${origin}${PAGE_PATH}`);
    await page.evaluate(PAGE_SCRIPT);
    const v = new Viewer(spec, page);
    // A few exchanges before the player starts, so the first drain's frames have a mapping.
    for (let i = 0; i < 5; i++) await this.exchange(v);
    const config: PageConfig = {
      player: playerOf(spec.protocol),
      url: spec.url,
      lowLatency: spec.protocol === 'll-hls',
    };
    v.startedUs = monotonicUs();
    await page.evaluate(`window.__rb.start(${JSON.stringify(config)})`);
    this.viewers.push(v);
  }

  /** Drains every page (each drain an exchange of clocks) and samples Chromium's cost; call every second. */
  async tick(): Promise<void> {
    const now = monotonicUs();
    this.viewerSeconds += (this.viewers.length * (now - this.lastTickUs)) / 1e6;
    this.lastTickUs = now;
    await Promise.all(this.viewers.map((v) => this.drain(v)));
    this.cost.sample();
    const pss = groupPssBytes(this.kit.pid);
    if (pss !== null) this.peakPssBytes = Math.max(this.peakPssBytes, pss);
  }

  /** Ends every player, closes Chromium, and returns what the groups measured and what Chromium cost. */
  async close(): Promise<BrowserResults> {
    if (this.closed) return { data: { groups: {}, machines: [] }, histograms: new Map() };
    await this.tick();
    const s = this.cost.sample();
    this.closed = true;
    await Promise.all(this.viewers.map((v) => v.page.evaluate('window.__rb.stop()').catch(() => undefined)));
    await this.kit.close();
    for (const v of this.viewers) this.finish(v);
    const cpuSeconds = Math.max(0, (s?.cpuSeconds ?? this.baseCpuSeconds) - this.baseCpuSeconds);
    const pssAboveBareBytes = Math.max(0, this.peakPssBytes - this.basePssBytes);
    const n = this.viewers.length;
    const cores = this.viewerSeconds > 0 ? cpuSeconds / this.viewerSeconds : 0;
    const holds = Math.floor(
      Math.min(
        cores > 0 ? os.availableParallelism() / cores : Infinity,
        n > 0 && pssAboveBareBytes > 0 ? ((os.totalmem() - this.basePssBytes) * n) / pssAboveBareBytes : Infinity,
      ),
    );
    const data: BrowserData = {
      groups: {},
      machines: [
        {
          viewers: n,
          cpuSeconds: Math.round(cpuSeconds * 1000) / 1000,
          viewerSeconds: Math.round(this.viewerSeconds * 1000) / 1000,
          pssAboveBareBytes,
          holds: Number.isFinite(holds) ? holds : null,
        },
      ],
    };
    const histograms = new Map<HistogramKey, Histogram>();
    for (const [name, g] of this.groups) {
      data.groups[name] = { ...g.totals, errors: [...g.errors].slice(0, MAX_BROWSER_ERRORS) };
      for (const [metric, h] of Object.entries(g.h) as [BrowserMetricName, Histogram][])
        if (h.totalCount > 0) histograms.set(browserHistogramKey(name, metric), h);
    }
    return { data, histograms };
  }

  /** Seconds since launch, µs clock. */
  get openForSec(): number {
    return (monotonicUs() - this.openedUs) / 1e6;
  }

  private group(spec: BrowserViewerSpec): Group {
    let g = this.groups.get(spec.group);
    if (g === undefined) {
      g = {
        totals: {
          protocol: spec.protocol,
          viewers: 0,
          playing: 0,
          rendered: 0,
          marked: 0,
          offTimeline: 0,
          rebuffers: 0,
          rebufferMs: 0,
          stalled: 0,
          dropped: 0,
          decoded: 0,
          kbpsSum: 0,
          kbpsViewers: 0,
          playedClockMs: 0,
          playedMediaMs: 0,
          clockBoundUs: 0,
          errors: [],
        },
        h: {
          firstFrame: newHistogram(),
          startHold: newHistogram(),
          latency: newHistogram(),
          buffer: newHistogram(),
          playerEstimate: newHistogram(),
        },
        errors: new Set(),
      };
      this.groups.set(spec.group, g);
    }
    return g;
  }

  private async contextFor(spec: BrowserViewerSpec): Promise<ContextLike> {
    const perContext = Math.max(1, Math.floor(CONNECTIONS_PER_HOST / CONNECTIONS_PER_VIEWER[spec.protocol]));
    const list = this.contexts.get(spec.group) ?? [];
    this.contexts.set(spec.group, list);
    let slot = list.find((c) => c.room > 0);
    if (slot === undefined) {
      const context = (await this.kit.newContext()) as ContextLike;
      await context.route('**/__rtmpbench/**', (route) => this.serve(route));
      slot = { context, room: perContext };
      list.push(slot);
    }
    slot.room--;
    return slot.context;
  }

  /** The page and the players' files, from rtmpbench itself (no CDN), on the stream's origin. */
  private async serve(route: RouteLike): Promise<void> {
    const path = new URL(route.request().url()).pathname;
    const body = this.assets.get(path);
    if (body === undefined) return route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' });
    const type = path.endsWith('.html') ? 'text/html' : 'text/javascript';
    return route.fulfill({ status: 200, contentType: type, body });
  }

  private async exchange(v: Viewer): Promise<void> {
    const sentUs = monotonicUs();
    const remoteMs = (await v.page.evaluate('performance.now()')) as number;
    v.clock.add({ sentUs, receivedUs: monotonicUs(), remoteUs: remoteMs * 1000 });
  }

  private async drain(v: Viewer): Promise<void> {
    const g = this.groups.get(v.spec.group)!;
    try {
      const sentUs = monotonicUs();
      const d = (await withTimeout(v.page.evaluate('window.__rb.drain()'), DRAIN_TIMEOUT_MS)) as PageDrain;
      v.clock.add({ sentUs, receivedUs: monotonicUs(), remoteUs: d.nowMs * 1000 });
      v.take(d, g);
    } catch (e) {
      if (!this.closed) g.errors.add(`drain: ${(e as Error).message.split('\n')[0]}`);
    }
  }

  private finish(v: Viewer): void {
    const g = this.groups.get(v.spec.group)!;
    const t = g.totals;
    v.newTimeline(g);
    const d = v.last;
    const bound = v.clock.estimate()?.boundUs;
    if (bound !== undefined) t.clockBoundUs = Math.max(t.clockBoundUs, bound);
    if (d === null) return;
    for (const e of d.errors) g.errors.add(e);
    if (d.firstFrameMs >= 0) {
      t.playing++;
      recordUs(g.h.firstFrame, (d.firstFrameMs - d.startMs) * 1000);
    }
    t.rebuffers += d.rebuffers;
    t.rebufferMs += d.rebufferMs;
    t.stalled += d.stalled;
    t.dropped += d.dropped;
    t.decoded += d.decoded;
    const sec = d.nowMs / 1000 - d.startMs / 1000;
    if (sec > 0) {
      t.kbpsSum += (d.bytes * 8) / 1000 / sec;
      t.kbpsViewers++;
    }
  }
}

/** hls.js and mpegts.js from the installed packages, and the page; refuses when a player is missing. */
function playerAssets(): Map<string, string> {
  const require = createRequire(import.meta.url);
  const read = (spec: string, pkg: string) => {
    try {
      return readFileSync(require.resolve(spec), 'utf8');
    } catch {
      throw new BrowserUnavailable(`browser viewers need the npm package ${pkg} (npm install ${pkg})`);
    }
  };
  return new Map([
    [PAGE_PATH, PAGE_HTML],
    [HLS_JS_PATH, read('hls.js/dist/hls.min.js', 'hls.js')],
    [MPEGTS_JS_PATH, read('mpegts.js/dist/mpegts.js', 'mpegts.js')],
  ]);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
