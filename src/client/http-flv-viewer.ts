import { monotonicUs } from '../media/timing-mark.js';
import { ClientError } from './errors.js';
import { FlvViewerBase } from './flv-viewer-base.js';
import { type HttpFailure, ViewerHttpClient, type HttpGet } from './http-client.js';
import { DEFAULT_VIEWER_TIMEOUT_MS, type Viewer, type ViewerOptions } from './viewer.js';

export interface HttpFlvViewerOptions extends ViewerOptions {
  /** Longest silence in the stream before the viewer gives up (ms, default 30 s). */
  stallTimeoutMs?: number;
}

/**
 * An HTTP-FLV viewer: one GET of a live FLV stream on its own connection, the body read as it
 * arrives (the FLV reader skims each tag; marks are read as the RTMP player reads them).
 */
export class HttpFlvViewer extends FlvViewerBase implements Viewer {
  readonly protocol = 'http-flv' as const;
  /** HTTP status of the response (0 before). */
  status = 0;
  private readonly http: ViewerHttpClient;
  private request: HttpGet | null = null;

  private constructor(opts: HttpFlvViewerOptions, openUs: number) {
    super(opts, openUs);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_VIEWER_TIMEOUT_MS;
    this.http = new ViewerHttpClient(this.url.origin, {
      insecure: opts.insecure,
      connectTimeoutMs: timeoutMs,
      localAddress: opts.localAddress,
    });
  }

  /** Connects and requests the stream; resolves once the server answered 200. */
  static async open(opts: HttpFlvViewerOptions): Promise<HttpFlvViewer> {
    const v = new HttpFlvViewer(opts, monotonicUs());
    await v.start(opts.timeoutMs ?? DEFAULT_VIEWER_TIMEOUT_MS, opts.stallTimeoutMs ?? 30_000);
    return v;
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
          onData: (chunk) => this.received(chunk),
        },
        { headersTimeoutMs: timeoutMs, bodyTimeoutMs: stallTimeoutMs },
      );
      this.request.done.then(
        (r) => {
          if (!started) {
            this.end('rejected', `HTTP ${r.status} for ${this.url.href}`, false);
            reject(new ClientError('rejected', `HTTP ${r.status} for ${this.url.href}`, undefined, r.status));
          } else {
            this.end('closed', 'the server ended the stream');
          }
        },
        (e: HttpFailure) => {
          if (!started) {
            this.end(e.kind, e.message, false);
            reject(new ClientError(e.kind === 'local' ? 'closed' : e.kind, e.message, e.stage));
          } else {
            this.end(e.kind, e.message);
          }
        },
      );
    });
  }

  protected release(): void {
    this.request?.abort();
    this.http.close();
  }
}
