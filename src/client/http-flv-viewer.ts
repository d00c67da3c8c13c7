import { monotonicUs } from '../media/timing-mark.js';
import { ClientError, type ClientClose } from './errors.js';
import { FlvFrames } from './flv-frames.js';
import { HttpFailure, ViewerHttpClient, type HttpGet } from './http-client.js';
import {
  DEFAULT_VIEWER_TIMEOUT_MS,
  newViewerCounters,
  newViewerTimings,
  type FrameSink,
  type Viewer,
  type ViewerCounters,
  type ViewerOptions,
  type ViewerTimings,
} from './viewer.js';

export interface HttpFlvViewerOptions extends ViewerOptions {
  /** Longest silence in the stream before the viewer gives up (ms, default 30 s). */
  stallTimeoutMs?: number;
}

/**
 * An HTTP-FLV viewer: one GET of a live FLV stream on its own connection, the body read as it
 * arrives (the FLV reader skims each tag; marks are read as the RTMP player reads them).
 */
export class HttpFlvViewer implements Viewer {
  readonly protocol = 'http-flv' as const;
  readonly url: URL;
  readonly timings: ViewerTimings;
  readonly counters: ViewerCounters = newViewerCounters();
  onEnd: ((end: ClientClose) => void) | null = null;
  /** HTTP status of the response (0 before). */
  status = 0;
  private readonly http: ViewerHttpClient;
  private readonly frames: FlvFrames;
  private request: HttpGet | null = null;
  private ended = false;

  private constructor(opts: HttpFlvViewerOptions, openUs: number) {
    this.url = new URL(opts.url);
    this.timings = newViewerTimings(openUs);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_VIEWER_TIMEOUT_MS;
    this.http = new ViewerHttpClient(this.url.origin, { insecure: opts.insecure, connectTimeoutMs: timeoutMs });
    this.frames = new FlvFrames(this.counters, this.timings);
    this.frames.onFrame = opts.onFrame ?? null;
    this.onEnd = opts.onEnd ?? null;
    this.frames.onBroken = (e) => this.end('protocol', `the FLV stream broke: ${e.message}`);
  }

  get onFrame(): FrameSink | null {
    return this.frames.onFrame;
  }

  set onFrame(sink: FrameSink | null) {
    this.frames.onFrame = sink;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Connects and requests the stream; resolves once the server answered 200. */
  static async open(opts: HttpFlvViewerOptions): Promise<HttpFlvViewer> {
    const v = new HttpFlvViewer(opts, monotonicUs());
    await v.start(opts.timeoutMs ?? DEFAULT_VIEWER_TIMEOUT_MS, opts.stallTimeoutMs ?? 30_000);
    return v;
  }

  close(): void {
    this.end('local', 'closed by the viewer');
  }

  private start(timeoutMs: number, stallTimeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let started = false;
      const t = this.timings;
      this.request = this.http.get(
        this.url.pathname + this.url.search,
        {
          onRequestStart: (atUs) => {
            t.connectedUs = this.http.firstConnectedAtUs;
            t.requestUs = atUs;
          },
          onHeaders: (status) => {
            this.status = status;
            if (status === 200) {
              t.startedUs = monotonicUs();
              started = true;
              resolve();
            }
          },
          onData: (chunk) => {
            if (!this.ended) this.frames.push(chunk);
          },
        },
        { headersTimeoutMs: timeoutMs, bodyTimeoutMs: stallTimeoutMs },
      );
      this.request.done.then(
        (r) => {
          if (!started) {
            this.end('rejected', `HTTP ${r.status} for ${this.url.href}`, false);
            reject(new ClientError('rejected', `HTTP ${r.status} for ${this.url.href}`));
          } else {
            this.end('closed', 'the server ended the stream');
          }
        },
        (e: HttpFailure) => {
          if (!started) {
            this.end(e.kind, e.message, false);
            reject(new ClientError(e.kind === 'local' ? 'closed' : e.kind, e.message));
          } else {
            this.end(e.kind, e.message);
          }
        },
      );
    });
  }

  /** Stops everything; tells `onEnd` unless opening failed (`open` rejects then). */
  private end(kind: ClientClose['kind'], message: string, notify = true): void {
    if (this.ended) return;
    this.ended = true;
    this.request?.abort();
    this.http.close();
    this.frames.destroy();
    if (notify) this.onEnd?.({ kind, message });
  }
}
