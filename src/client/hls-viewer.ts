import { parsePlaylist, resolveUri, type MediaPlaylist, type Playlist, type Variant } from '../media/m3u8.js';
import { parseMp4Init } from '../media/mp4-init.js';
import { monotonicUs, type TimingMark } from '../media/timing-mark.js';
import { ClientError, type ClientClose, type ClientFailure } from './errors.js';
import {
  positionAfter,
  segmentUnit,
  nextDirective,
  startPosition,
  unitAt,
  withDirective,
  type HlsUnit,
  type PartPosition,
} from './hls-parts.js';
import { PlayoutClock } from './hls-playout.js';
import { SegmentFrames, type SegmentFrame } from './hls-segment.js';
import { HttpFailure, ViewerHttpClient, type HttpGet, type HttpResult } from './http-client.js';
import { SequenceTracker } from './sequence-tracker.js';
import {
  DEFAULT_VIEWER_TIMEOUT_MS,
  newViewerCounters,
  newViewerTimings,
  type FrameSink,
  type Viewer,
  type ViewerCounters,
  type ViewerFrame,
  type ViewerOptions,
  type ViewerTimings,
} from './viewer.js';

/**
 * An HLS viewer that behaves like a real player (hls.js with its defaults):
 * - follows a master playlist to one variant (the first, as hls.js starts, unless told);
 * - starts at the live edge: the segment holding the point `liveSyncSegments` target durations
 *   (default 3, or the server's HOLD-BACK) before the end of the playlist;
 * - reloads the media playlist on RFC 8216's schedule: a target duration after the start of a
 *   load that found it changed, half of one after a load that did not;
 * - downloads segments one after the other (MPEG-TS or fMP4 with their init section) on a
 *   connection of its own, apart from the playlist's, and reads marks as they stream in;
 * - reports each frame when its segment has downloaded (`arrivalUs`), with when a buffering
 *   player would show it (`playoutUs`) and when its segment was first listed (`listedUs`).
 *
 * Where the playlist offers low-latency HLS (EXT-X-SERVER-CONTROL with CAN-BLOCK-RELOAD, and
 * parts), it plays as hls.js does in low-latency mode: it starts PART-HOLD-BACK behind the end
 * (loading from the nearest part before it that starts with a keyframe, playing from the point:
 * the playout clock starts there, at the first part's arrival), keeps one blocking playlist reload
 * outstanding (`_HLS_msn`/`_HLS_part` for the part after the last one listed, the next one sent
 * as soon as the last one answers), and downloads parts one after the other as they are listed
 * (whole segments where no parts are listed). hls.js reads preload hints but does not fetch them;
 * with `preloadHints` this viewer does, as Apple's players do: the hinted part is requested at
 * once and the server holds it until it is complete. Frames then arrive per part; `listedUs` is
 * when their part was first listed (0 for a hinted part, fetched before any listing).
 * Every request counts (`stats.requests`, `onRequest`): LL-HLS's cost on a server is its request rate.
 * Playlist and segment fetch times, playlist age, throughput and HTTP errors by status go to
 * the event callbacks and `stats`.
 */

export interface HlsFrame extends ViewerFrame {
  /** Monotonic µs at which a buffering player would show the frame. */
  playoutUs: number;
  /** Media sequence number of the frame's segment. */
  msn: number;
  /**
   * Monotonic µs when a playlist listing the frame's segment was first read; 0 when the
   * segment was already in the first playlist this viewer read (when it appeared is unknown).
   */
  listedUs: number;
}

/** What a request was for: a (master or media) playlist, an init section, a segment. */
export type HlsRequestKind = 'playlist' | 'init' | 'segment' | 'part';

export interface HlsPlaylistLoad {
  /** From the request going out to the whole body, µs. */
  fetchUs: number;
  changed: boolean;
  segments: number;
  /**
   * How old the newest segment's end was at the read, by the playlist's program date-time
   * (wall clock), µs; -1 without one. `onPlaylistAge` gives the same from the marks.
   */
  dateAgeUs: number;
}

export interface HlsSegmentLoad {
  msn: number;
  /** Index of the part (LL-HLS); -1 for a whole segment. */
  part: number;
  /** A part fetched from the preload hint (its fetch time includes the server's wait for it). */
  hinted: boolean;
  uri: string;
  durationS: number;
  /** From the request going out to the last byte, µs. */
  fetchUs: number;
  bytes: number;
  bytesPerSec: number;
  videoFrames: number;
  /** Monotonic µs when it was first listed; 0 when it was in the first playlist read. */
  listedUs: number;
}

export interface HlsEvents {
  onPlaylist?: (load: HlsPlaylistLoad) => void;
  /**
   * How old the newest listed segment was when a playlist was read: from the send time of its
   * last frame (later of intended and actual, from its mark) to the read, µs. Reported once
   * that segment has been downloaded, for every read whose newest segment it was.
   */
  onPlaylistAge?: (ageUs: number) => void;
  onSegment?: (load: HlsSegmentLoad) => void;
  /** A request went out. */
  onRequest?: (kind: HlsRequestKind) => void;
  /** A response with an error status (or a request that got none: status 0). */
  onHttpError?: (status: number, kind: HlsRequestKind) => void;
}

export interface HlsStats {
  /** Requests of every kind. */
  requests: number;
  playlistLoads: number;
  /** Playlist loads with delivery directives (LL-HLS blocking reloads). */
  blockingReloads: number;
  /** Parts downloaded (LL-HLS); `segments` counts whole segments. */
  parts: number;
  /** Preload-hinted parts the server did not have (the segment ended before them). */
  hintMisses: number;
  playlistUnchanged: number;
  segments: number;
  segmentBytes: number;
  /** Segments that left the playlist before this viewer got to them. */
  segmentsSkipped: number;
  /** Segments that could not be read (their frames are lost). */
  segmentErrors: number;
  /** Responses by error status. */
  httpErrors: Record<number, number>;
  /** Requests that got no response, by failure kind. */
  requestFailures: Partial<Record<ClientFailure, number>>;
  rebuffers: number;
  rebufferUs: number;
}

export interface HlsViewerOptions extends ViewerOptions, HlsEvents {
  /** Start this many target durations behind the live edge (default 3, as hls.js). */
  liveSyncSegments?: number;
  /** Variant of a master playlist: 'first' (default), 'highest' or 'lowest' bandwidth, or an index. */
  variant?: 'first' | 'highest' | 'lowest' | number;
  /** Bytes of each access unit or sample kept to find marks (default 2048). */
  keepBytes?: number;
  /** Give up when the playlist has not changed for this long (ms, default 30 s). */
  stallTimeoutMs?: number;
  /** Give up after this many playlist loads in a row fail (default 5). */
  maxPlaylistErrors?: number;
  /** Speak LL-HLS where the playlist offers it (default true). */
  lowLatency?: boolean;
  /** LL-HLS: fetch the preload-hinted part before it is listed (default false, as hls.js). */
  preloadHints?: boolean;
}

const PENDING_AGES = 64;
const MAX_SEGMENT_FAILURES = 3;

export class HlsViewer implements Viewer {
  readonly protocol = 'hls' as const;
  readonly url: string;
  readonly timings: ViewerTimings;
  readonly counters: ViewerCounters = newViewerCounters();
  readonly stats: HlsStats = {
    requests: 0,
    playlistLoads: 0,
    blockingReloads: 0,
    parts: 0,
    hintMisses: 0,
    playlistUnchanged: 0,
    segments: 0,
    segmentBytes: 0,
    segmentsSkipped: 0,
    segmentErrors: 0,
    httpErrors: {},
    requestFailures: {},
    rebuffers: 0,
    rebufferUs: 0,
  };
  onFrame: FrameSink | null;
  onEnd: ((end: ClientClose) => void) | null = null;
  /** The media playlist's URL (after a master playlist). */
  mediaUrl = '';
  private readonly opts: HlsViewerOptions;
  private readonly timeoutMs: number;
  private readonly playlistHttp: ViewerHttpClient;
  private readonly segmentHttp = new Map<string, ViewerHttpClient>();
  private readonly requests = new Set<HttpGet>();
  private readonly tracker: SequenceTracker;
  private readonly segmentFrames: SegmentFrames;
  private readonly playout = new PlayoutClock();
  private readonly frame: HlsFrame = {
    arrivalUs: 0,
    timestampMs: 0,
    keyframe: false,
    mark: null,
    playoutUs: 0,
    msn: 0,
    listedUs: 0,
  };
  private readonly mark: TimingMark = { intendedUs: 0, sentUs: 0, seq: 0, epoch: 0 };

  private playlist: MediaPlaylist | null = null;
  private playlistText = '';
  private readonly listedAt = new Map<number, number>();
  private nextMsn = -1;
  private lastMsn = -1;
  private mapUri = '';
  /** Byte-range ends per URI, for ranges that continue the previous one. */
  private rangeEnd = new Map<string, number>();
  private downloading = false;
  private reloadTimer: NodeJS.Timeout | null = null;
  private playlistErrors = 0;
  private segmentFailures = 0;
  private lastChangeUs = 0;
  private readonly pendingAges: { msn: number; readUs: number }[] = [];
  private ended = false;
  /** Playing low-latency HLS: parts and blocking reloads. */
  private ll = false;
  /** LL-HLS: the next part to download. */
  private pos: PartPosition = { msn: 0, part: 0 };
  /** LL-HLS: a hinted part was missing; no hint until the playlist changes. */
  private hintsPaused = false;
  private unitsFetched = 0;

  private constructor(opts: HlsViewerOptions, openUs: number) {
    this.opts = opts;
    this.url = opts.url;
    this.timings = newViewerTimings(openUs);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_VIEWER_TIMEOUT_MS;
    this.onFrame = opts.onFrame ?? null;
    this.onEnd = opts.onEnd ?? null;
    this.playlistHttp = new ViewerHttpClient(new URL(opts.url).origin, {
      insecure: opts.insecure,
      connectTimeoutMs: this.timeoutMs,
      localAddress: opts.localAddress,
    });
    this.tracker = new SequenceTracker(this.counters);
    this.segmentFrames = new SegmentFrames(opts.keepBytes ?? 2048);
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Loads the (master and) media playlist; resolves once the viewer knows where to start. */
  static async open(opts: HlsViewerOptions): Promise<HlsViewer> {
    const v = new HlsViewer(opts, monotonicUs());
    try {
      await v.start();
    } catch (e) {
      v.end('local', 'failed to start', false);
      if (e instanceof ClientError) throw e;
      const f = e instanceof HttpFailure ? e : new HttpFailure('protocol', (e as Error).message);
      throw new ClientError(f.kind === 'local' ? 'closed' : f.kind, f.message, f.stage, f.status);
    }
    return v;
  }

  close(): void {
    this.end('local', 'closed by the viewer');
  }

  private async start(): Promise<void> {
    const t = this.timings;
    let url = this.url;
    let first = await this.fetchText(url, 'playlist', (atUs) => {
      t.requestUs = atUs;
      t.connectedUs = this.playlistHttp.firstConnectedAtUs;
    });
    let parsed: Playlist = parsePlaylist(first.text);
    if (parsed.kind === 'master') {
      url = resolveUri(this.pickVariant(parsed.variants).uri, url);
      first = await this.fetchText(url, 'playlist');
      parsed = parsePlaylist(first.text);
      if (parsed.kind !== 'media')
        throw new ClientError('protocol', `${url} is a master playlist inside a master playlist`);
    }
    this.mediaUrl = url;
    t.startedUs = monotonicUs();
    this.lastChangeUs = t.startedUs;
    this.playlistLoaded(parsed, first.text, first.result);
    const ll = this.opts.lowLatency !== false && parsed.serverControl?.canBlockReload === true;
    if (ll && parsed.partTargetS !== null && !parsed.endList) {
      this.ll = true;
      const holdBackS = parsed.serverControl?.partHoldBackS ?? 3 * parsed.partTargetS;
      const start = startPosition(parsed, holdBackS);
      this.pos = { msn: start.msn, part: start.part };
      // hls.js loads from the keyframe and plays from the point hold-back behind the end.
      this.playout.seekIntoFirst(start.seekS * 1000);
      this.scheduleBlocking(true);
    } else {
      this.nextMsn = this.startMsn(parsed);
      this.scheduleReload(first.result.requestUs, true);
    }
    this.pump();
  }

  private pickVariant(variants: Variant[]): Variant {
    const choice = this.opts.variant ?? 'first';
    if (typeof choice === 'number') {
      const v = variants[choice];
      if (v === undefined)
        throw new ClientError(
          'rejected',
          `the master playlist has ${variants.length} variants; variant ${choice} was asked for`,
        );
      return v;
    }
    if (choice === 'first') return variants[0]!;
    const sorted = [...variants].sort((a, b) => a.bandwidth - b.bandwidth);
    return choice === 'lowest' ? sorted[0]! : sorted[sorted.length - 1]!;
  }

  /** The segment a live player starts with: the one holding the point hold-back before the end. */
  private startMsn(p: MediaPlaylist): number {
    const segments = p.segments;
    if (segments.length === 0) return p.mediaSequence;
    if (p.endList) return segments[0]!.msn;
    const holdBackS = p.serverControl?.holdBackS ?? (this.opts.liveSyncSegments ?? 3) * p.targetDurationS;
    let total = 0;
    for (const s of segments) total += s.durationS;
    const target = Math.max(0, total - holdBackS);
    let at = 0;
    for (const s of segments) {
      if (at + s.durationS > target) return s.msn;
      at += s.durationS;
    }
    return segments[segments.length - 1]!.msn;
  }

  private playlistLoaded(p: MediaPlaylist, text: string, r: HttpResult): void {
    const changed = text !== this.playlistText;
    this.playlistText = text;
    this.playlist = p;
    this.stats.playlistLoads++;
    if (!changed) this.stats.playlistUnchanged++;
    else this.lastChangeUs = r.endUs;
    const segments = p.segments;
    const first = this.stats.playlistLoads === 1;
    const listedUs = first ? 0 : r.endUs;
    const listed = (key: number) => {
      if (!this.listedAt.has(key)) this.listedAt.set(key, listedUs);
    };
    for (const s of segments) {
      listed(unitKey(s.msn, -1));
      for (let i = 0; i < s.parts.length; i++) listed(unitKey(s.msn, i));
    }
    const pending = (segments[segments.length - 1]?.msn ?? p.mediaSequence - 1) + 1;
    for (let i = 0; i < p.pendingParts.length; i++) listed(unitKey(pending, i));
    const oldest = unitKey((segments[0]?.msn ?? p.mediaSequence) - 8, -1);
    for (const key of this.listedAt.keys()) if (key < oldest) this.listedAt.delete(key);
    if (changed) this.hintsPaused = false;
    const newest = segments[segments.length - 1];
    let dateAgeUs = -1;
    if (newest !== undefined) {
      if (newest.programDateTimeMs !== null)
        dateAgeUs = (Date.now() - newest.programDateTimeMs - newest.durationS * 1000) * 1000;
      if (this.pendingAges.length >= PENDING_AGES) this.pendingAges.shift();
      this.pendingAges.push({ msn: newest.msn, readUs: r.endUs });
    }
    this.opts.onPlaylist?.({ fetchUs: r.endUs - r.requestUs, changed, segments: segments.length, dateAgeUs });
  }

  private scheduleReload(loadStartUs: number, changed: boolean): void {
    const p = this.playlist;
    if (this.ended || p === null || p.endList) return;
    const intervalUs = (changed ? 1 : 0.5) * p.targetDurationS * 1e6;
    const waitMs = Math.max(0, (loadStartUs + intervalUs - monotonicUs()) / 1000);
    this.reloadTimer = setTimeout(() => void this.reload(), waitMs);
  }

  /** LL-HLS: the next blocking reload at once after one that brought news, else after half a part target. */
  private scheduleBlocking(advanced: boolean): void {
    const p = this.playlist;
    if (this.ended || p === null || p.endList) return;
    const waitMs = advanced ? 0 : ((p.partTargetS ?? p.targetDurationS) * 1000) / 2;
    this.reloadTimer = setTimeout(() => void this.reload(), waitMs);
  }

  private async reload(): Promise<void> {
    this.reloadTimer = null;
    if (this.ended) return;
    const startUs = monotonicUs();
    let changed = false;
    const blocking = this.ll && this.playlist !== null;
    const url = blocking ? withDirective(this.mediaUrl, nextDirective(this.playlist!)) : this.mediaUrl;
    try {
      if (blocking) this.stats.blockingReloads++;
      const { text, result } = await this.fetchText(url, 'playlist');
      if (this.ended) return;
      const p = parsePlaylist(text);
      if (p.kind !== 'media') throw new HttpFailure('protocol', `${this.mediaUrl} turned into a master playlist`);
      changed = text !== this.playlistText;
      this.playlistLoaded(p, text, result);
      this.playlistErrors = 0;
      this.pump();
    } catch (e) {
      if (this.ended) return;
      if (++this.playlistErrors >= (this.opts.maxPlaylistErrors ?? 5)) {
        const f = e instanceof HttpFailure ? e : new HttpFailure('protocol', (e as Error).message);
        this.end(
          f.kind === 'local' ? 'closed' : f.kind,
          `the playlist failed ${this.playlistErrors} times in a row: ${f.message}`,
        );
        return;
      }
    }
    if (monotonicUs() - this.lastChangeUs > (this.opts.stallTimeoutMs ?? 30_000) * 1000) {
      this.end(
        'timeout',
        `the playlist has not changed for ${Math.round((monotonicUs() - this.lastChangeUs) / 1e6)} s`,
      );
      return;
    }
    if (blocking) this.scheduleBlocking(changed);
    else this.scheduleReload(startUs, changed);
  }

  /** Downloads the next segment (or part) when it is listed and nothing is downloading. */
  private pump(): void {
    if (this.ll) {
      this.pumpParts();
      return;
    }
    const p = this.playlist;
    if (this.ended || this.downloading || p === null) return;
    const segments = p.segments;
    if (segments.length === 0) return;
    const first = segments[0]!.msn;
    if (this.nextMsn < first) {
      // Fell behind the playlist's window: jump to its start (the frames between are lost).
      this.stats.segmentsSkipped += first - this.nextMsn;
      this.nextMsn = first;
    }
    const seg = segments[this.nextMsn - first];
    if (seg === undefined) {
      if (p.endList && this.nextMsn > segments[segments.length - 1]!.msn) this.end('closed', 'the playlist ended');
      return;
    }
    this.downloading = true;
    this.download(segmentUnit(seg), seg.msn === this.lastMsn + 1 && !seg.discontinuity).then(
      () => {
        this.downloading = false;
        this.segmentFailures = 0;
        this.nextMsn = seg.msn + 1;
        this.pump();
      },
      (e: unknown) =>
        this.skipFailed(e, 'segments', seg.uri, () => {
          this.nextMsn = seg.msn + 1;
        }),
    );
  }

  /**
   * A unit that got no response (or an unreadable init section) is skipped, as players do after
   * their retries (`skip` moves past it); several in a row end the viewer.
   */
  private skipFailed(e: unknown, what: 'segments' | 'parts', uri: string, skip: () => void): void {
    this.downloading = false;
    if (this.ended) return;
    const f = e instanceof HttpFailure ? e : new HttpFailure('protocol', (e as Error).message);
    if (++this.segmentFailures >= MAX_SEGMENT_FAILURES) {
      this.end(
        f.kind === 'local' ? 'closed' : f.kind,
        `${this.segmentFailures} ${what} in a row failed, the last ${uri}: ${f.message}`,
      );
      return;
    }
    this.stats.segmentErrors++;
    skip();
    this.pump();
  }

  /** LL-HLS: downloads the next part (or segment) when it is listed, or hinted, and nothing is downloading. */
  private pumpParts(): void {
    const p = this.playlist;
    if (this.ended || this.downloading || p === null) return;
    const found = unitAt(p, this.pos, this.opts.preloadHints === true && !this.hintsPaused);
    if (found === null) {
      if (p.endList) this.end('closed', 'the playlist ended');
      return;
    }
    this.stats.segmentsSkipped += found.skipped;
    const unit = found.unit;
    this.pos = found.pos;
    const continuous = this.unitsFetched > 0 && found.skipped === 0 && !unit.discontinuity;
    this.downloading = true;
    this.download(unit, continuous).then(
      (got) => {
        this.downloading = false;
        this.segmentFailures = 0;
        if (got) this.pos = positionAfter(unit);
        else if (unit.hinted) this.hintsPaused = true;
        this.pump();
      },
      (e: unknown) =>
        this.skipFailed(e, 'parts', unit.uri, () => {
          this.pos = positionAfter(unit);
        }),
    );
  }

  /**
   * Downloads a segment or part and hands out its frames; false when a hinted part was not
   * there (the segment ended before it), which is no error.
   */
  private async download(seg: HlsUnit, continuous: boolean): Promise<boolean> {
    const url = resolveUri(seg.uri, this.mediaUrl);
    if (seg.map !== null) {
      const mapUrl = resolveUri(seg.map.uri, this.mediaUrl);
      if (mapUrl !== this.mapUri) {
        const init = await this.fetchBody(mapUrl, 'init', this.rangeHeader(mapUrl, seg.map.byteRange));
        if (init === null) return true;
        this.segmentFrames.setInit(parseMp4Init(init));
        this.mapUri = mapUrl;
      }
    }
    const frames = this.segmentFrames;
    frames.begin();
    const http = this.httpFor(url);
    const u = new URL(url);
    const get = http.get(
      u.pathname + u.search,
      { onData: (chunk) => frames.push(chunk) },
      this.requestOptions(this.rangeHeader(url, seg.byteRange)),
    );
    const kind: HlsRequestKind = seg.part < 0 ? 'segment' : 'part';
    const r = await this.track(get, kind);
    if (this.ended) return true;
    this.counters.bytesReceived += r.bodyBytes;
    if (seg.hinted && (r.status === 404 || r.status === 503)) {
      this.stats.hintMisses++;
      return false;
    }
    if (r.status < 200 || r.status >= 300) {
      this.httpError(r.status, kind);
      return true;
    }
    if (!frames.end()) {
      this.stats.segmentErrors++;
      return true;
    }
    if (seg.part < 0) this.stats.segments++;
    else this.stats.parts++;
    this.stats.segmentBytes += r.bodyBytes;
    this.unitsFetched++;
    this.deliver(seg, r, frames, continuous);
    return true;
  }

  /** Hands out a downloaded segment's (or part's) frames, in decode order. */
  private deliver(seg: HlsUnit, r: HttpResult, frames: SegmentFrames, continuous: boolean): void {
    const c = this.counters;
    const t = this.timings;
    const arrivalUs = r.endUs;
    const listedUs = seg.hinted ? 0 : (this.listedAt.get(unitKey(seg.msn, seg.part)) ?? 0);
    c.audioFrames += frames.audioFrames;
    c.mediaBytes += frames.mediaBytes;
    const n = frames.count;
    let lastSendUs = -1;
    if (n > 0) {
      let minPts = Infinity;
      for (let i = 0; i < n; i++) minPts = Math.min(minPts, frames.frames[i]!.ptsMs);
      this.playout.beginSegment(minPts, seg.durationS, arrivalUs, continuous);
      this.stats.rebuffers = this.playout.rebuffers;
      this.stats.rebufferUs = this.playout.rebufferUs;
      if (t.firstFrameUs === 0) t.firstFrameUs = arrivalUs;
      const out = this.frame;
      out.arrivalUs = arrivalUs;
      out.msn = seg.msn;
      out.listedUs = listedUs;
      for (let i = 0; i < n; i++) {
        const f: SegmentFrame = frames.frames[i]!;
        c.videoFrames++;
        if (f.keyframe) {
          c.keyframes++;
          if (t.firstKeyframeUs === 0) t.firstKeyframeUs = arrivalUs;
        }
        if (f.hasMark) {
          c.marks++;
          this.tracker.track(f.seq, f.epoch);
          const send = Math.min(f.sentUs, f.intendedUs);
          if (send > lastSendUs) lastSendUs = send;
        }
        const sink = this.onFrame;
        if (sink !== null) {
          out.timestampMs = Math.round(f.dtsMs);
          out.keyframe = f.keyframe;
          out.playoutUs = this.playout.at(f.ptsMs);
          if (f.hasMark) {
            const m = this.mark;
            m.intendedUs = f.intendedUs;
            m.sentUs = f.sentUs;
            m.seq = f.seq;
            m.epoch = f.epoch;
            out.mark = m;
          } else {
            out.mark = null;
          }
          sink(out);
        }
      }
    }
    this.lastMsn = seg.msn;
    // A playlist's age is known once its newest segment is in whole.
    if (seg.part < 0) this.settleAges(seg.msn, lastSendUs);
    this.opts.onSegment?.({
      msn: seg.msn,
      part: seg.part,
      hinted: seg.hinted,
      uri: seg.uri,
      durationS: seg.durationS,
      fetchUs: r.endUs - r.requestUs,
      bytes: r.bodyBytes,
      bytesPerSec: r.endUs > r.requestUs ? (r.bodyBytes * 1e6) / (r.endUs - r.requestUs) : 0,
      videoFrames: n,
      listedUs,
    });
  }

  /** Playlist reads whose newest segment is now known: their age from its last frame's send time. */
  private settleAges(msn: number, lastSendUs: number): void {
    const pending = this.pendingAges;
    let keep = 0;
    for (let i = 0; i < pending.length; i++) {
      const a = pending[i]!;
      if (a.msn === msn) {
        if (lastSendUs > 0) this.opts.onPlaylistAge?.(a.readUs - lastSendUs);
      } else if (a.msn > msn) {
        pending[keep++] = a;
      }
    }
    pending.length = keep;
  }

  private rangeHeader(
    url: string,
    range: { length: number; offset: number } | null,
  ): Record<string, string> | undefined {
    if (range === null) return undefined;
    const start = range.offset >= 0 ? range.offset : (this.rangeEnd.get(url) ?? 0);
    this.rangeEnd.set(url, start + range.length);
    return { range: `bytes=${start}-${start + range.length - 1}` };
  }

  private requestOptions(headers?: Record<string, string>) {
    return { headersTimeoutMs: this.timeoutMs, bodyTimeoutMs: this.timeoutMs, headers };
  }

  private httpFor(url: string): ViewerHttpClient {
    const origin = new URL(url).origin;
    let c = this.segmentHttp.get(origin);
    if (c === undefined) {
      c = new ViewerHttpClient(origin, {
        insecure: this.opts.insecure,
        connectTimeoutMs: this.timeoutMs,
        localAddress: this.opts.localAddress,
      });
      this.segmentHttp.set(origin, c);
    }
    return c;
  }

  /** A playlist's text; an error status or no response throws an HttpFailure. */
  private async fetchText(
    url: string,
    kind: HlsRequestKind,
    onRequest?: (atUs: number) => void,
  ): Promise<{ text: string; result: HttpResult }> {
    const chunks: Buffer[] = [];
    const u = new URL(url);
    const http = u.origin === this.playlistHttp.origin ? this.playlistHttp : this.httpFor(url);
    const get = http.get(
      u.pathname + u.search,
      { onRequestStart: onRequest, onData: (c) => chunks.push(c) },
      this.requestOptions(),
    );
    const result = await this.track(get, kind);
    this.counters.bytesReceived += result.bodyBytes;
    if (result.status !== 200) {
      this.httpError(result.status, kind);
      throw new HttpFailure('rejected', `HTTP ${result.status} for ${url}`, undefined, result.status);
    }
    return { text: Buffer.concat(chunks).toString('utf8'), result };
  }

  /** A small body (init section); null after an error status. */
  private async fetchBody(url: string, kind: HlsRequestKind, headers?: Record<string, string>): Promise<Buffer | null> {
    const chunks: Buffer[] = [];
    const u = new URL(url);
    const get = this.httpFor(url).get(
      u.pathname + u.search,
      { onData: (c) => chunks.push(c) },
      this.requestOptions(headers),
    );
    const r = await this.track(get, kind);
    this.counters.bytesReceived += r.bodyBytes;
    if (r.status < 200 || r.status >= 300) {
      this.httpError(r.status, kind);
      return null;
    }
    return Buffer.concat(chunks);
  }

  /** Awaits a request, counting one that got no response. */
  private async track(get: HttpGet, kind: HlsRequestKind): Promise<HttpResult> {
    this.requests.add(get);
    this.stats.requests++;
    this.opts.onRequest?.(kind);
    try {
      return await get.done;
    } catch (e) {
      const f = e as HttpFailure;
      if (f.kind !== 'local') {
        this.stats.requestFailures[f.kind] = (this.stats.requestFailures[f.kind] ?? 0) + 1;
        this.opts.onHttpError?.(0, kind);
      }
      throw e;
    } finally {
      this.requests.delete(get);
    }
  }

  private httpError(status: number, kind: HlsRequestKind): void {
    this.stats.httpErrors[status] = (this.stats.httpErrors[status] ?? 0) + 1;
    this.opts.onHttpError?.(status, kind);
  }

  private end(kind: ClientClose['kind'], message: string, notify = true): void {
    if (this.ended) return;
    this.ended = true;
    if (this.reloadTimer !== null) clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
    for (const r of this.requests) r.abort();
    this.playlistHttp.close();
    for (const c of this.segmentHttp.values()) c.close();
    if (notify) this.onEnd?.({ kind, message });
  }
}

/** Parts per segment the listing keys leave room for. */
const PARTS_PER_SEGMENT_KEY = 4096;

/** A key for when a segment (part -1) or part was first listed. */
function unitKey(msn: number, part: number): number {
  return msn * PARTS_PER_SEGMENT_KEY + part + 1;
}
