import http from 'node:http';
import type net from 'node:net';
import { TsMuxer } from '../../src/media/ts-muxer.js';
import { SyntheticSource } from '../../src/media/synthetic.js';
import { monotonicUs, stampSendTime } from '../../src/media/timing-mark.js';

/**
 * A live HLS origin in this process, for viewer tests that need control a real server does
 * not give: a synthetic marked stream paced in real time (send time stamped as it is muxed),
 * cut into MPEG-TS segments at keyframes by our muxer, a sliding-window playlist with
 * program date-times, and hooks to fail requests, freeze the playlist or end it.
 */

export interface LiveHlsOptions {
  fps?: number;
  gopSeconds?: number;
  /** Segments kept in the playlist. */
  window?: number;
  /** Serve a master playlist at /master.m3u8 naming these variant bandwidths (all the same media). */
  variants?: number[];
}

export interface ServedRequest {
  path: string;
  atUs: number;
  status: number;
  /** For playlists: the newest segment listed. */
  newestMsn?: number;
}

interface Segment {
  msn: number;
  durationS: number;
  pdtMs: number;
  data: Buffer;
}

export class LiveHls {
  readonly requests: ServedRequest[] = [];
  /** Status to answer the next requests whose path matches, once each. */
  readonly failNext: { match: RegExp; status: number }[] = [];
  /** Extra ms before answering segment requests. */
  segmentDelayMs = 0;
  port = 0;
  private readonly server: http.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly source: SyntheticSource;
  private readonly muxer = new TsMuxer();
  private readonly window: number;
  private readonly variants: number[];
  private readonly segments: Segment[] = [];
  private current: Buffer[] = [];
  private currentStartMs = 0;
  private currentStartWallMs = 0;
  private nextMsn = 0;
  private frame = 0;
  private audio = 0;
  private startUs = 0;
  private timer: NodeJS.Timeout | null = null;
  private frozen = false;
  private ended = false;

  constructor(opts: LiveHlsOptions = {}) {
    this.source = new SyntheticSource({
      videoBitrate: 400_000,
      fps: opts.fps ?? 25,
      gopSeconds: opts.gopSeconds ?? 1,
      audioBitrate: 64_000,
    });
    this.window = opts.window ?? 6;
    this.variants = opts.variants ?? [];
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Starts producing; resolves once `preroll` segments are listed. */
  async start(preroll = 0): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
    this.muxer.videoMessage(0, this.source.videoSequenceHeader());
    this.muxer.audioMessage(0, this.source.audioSequenceHeader()!);
    this.startUs = monotonicUs();
    this.timer = setInterval(() => this.pump(), 5);
    while (this.segments.length < preroll) await new Promise((r) => setTimeout(r, 20));
    return this.port;
  }

  get newestMsn(): number {
    return this.segments[this.segments.length - 1]?.msn ?? -1;
  }

  /** Keeps producing media but stops listing new segments (the playlist stops changing). */
  freeze(): void {
    this.frozen = true;
  }

  /** Stops producing; the playlist ends (EXT-X-ENDLIST) with the segments made so far. */
  end(): void {
    this.ended = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  async close(): Promise<void> {
    this.end();
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }

  private pump(): void {
    const now = monotonicUs();
    const s = this.source;
    while (this.startUs + s.videoDueOffsetUs(this.frame) <= now) {
      while (this.startUs + s.audioDueOffsetUs(this.audio) <= this.startUs + s.videoDueOffsetUs(this.frame)) {
        const a = s.audioFrameAt(this.audio++)!;
        if (this.current.length > 0) this.current.push(Buffer.from(this.muxer.audioMessage(a.timestampMs, a.payload)));
      }
      const intended = this.startUs + s.videoDueOffsetUs(this.frame);
      const f = s.videoFrame(this.frame, intended);
      stampSendTime(f.payload, f.markOffset, s.codec, monotonicUs());
      if (f.keyframe) this.cut(f.timestampMs);
      this.current.push(Buffer.from(this.muxer.videoMessage(f.timestampMs, f.payload)));
      this.frame++;
    }
  }

  /** Closes the segment being made (if any) and starts the next with PAT/PMT. */
  private cut(atMs: number): void {
    if (this.current.length > 0 && !this.frozen) {
      this.segments.push({
        msn: this.nextMsn++,
        durationS: (atMs - this.currentStartMs) / 1000,
        pdtMs: this.currentStartWallMs,
        data: Buffer.concat(this.current),
      });
      while (this.segments.length > this.window) this.segments.shift();
    }
    this.current = [Buffer.from(this.muxer.tables())];
    this.currentStartMs = atMs;
    this.currentStartWallMs = Date.now();
  }

  private playlist(): string {
    const segs = this.segments;
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      `#EXT-X-TARGETDURATION:${Math.max(1, Math.ceil(Math.max(0, ...segs.map((x) => x.durationS))))}`,
      `#EXT-X-MEDIA-SEQUENCE:${segs[0]?.msn ?? 0}`,
    ];
    for (const x of segs) {
      lines.push(
        `#EXT-X-PROGRAM-DATE-TIME:${new Date(x.pdtMs).toISOString()}`,
        `#EXTINF:${x.durationS.toFixed(3)},`,
        `seg${x.msn}.ts`,
      );
    }
    if (this.ended) lines.push('#EXT-X-ENDLIST');
    return `${lines.join('\n')}\n`;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = req.url ?? '';
    const at = monotonicUs();
    const fail = this.failNext.findIndex((f) => f.match.test(path));
    if (fail >= 0) {
      const status = this.failNext.splice(fail, 1)[0]!.status;
      this.requests.push({ path, atUs: at, status });
      res.writeHead(status).end();
      return;
    }
    if (path === '/master.m3u8' && this.variants.length > 0) {
      this.requests.push({ path, atUs: at, status: 200 });
      const body = `${['#EXTM3U', ...this.variants.flatMap((b, i) => [`#EXT-X-STREAM-INF:BANDWIDTH=${b}`, `v${i}/index.m3u8`])].join('\n')}\n`;
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' }).end(body);
      return;
    }
    if (path.endsWith('index.m3u8')) {
      this.requests.push({ path, atUs: at, status: 200, newestMsn: this.newestMsn });
      res
        .writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'no-cache' })
        .end(this.playlist());
      return;
    }
    const m = /seg(\d+)\.ts$/.exec(path);
    const seg = m === null ? undefined : this.segments.find((x) => x.msn === Number(m[1]));
    if (seg === undefined) {
      this.requests.push({ path, atUs: at, status: 404 });
      res.writeHead(404).end();
      return;
    }
    this.requests.push({ path, atUs: at, status: 200 });
    const send = () => res.writeHead(200, { 'content-type': 'video/mp2t' }).end(seg.data);
    if (this.segmentDelayMs > 0) setTimeout(send, this.segmentDelayMs);
    else send();
  }
}
