import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { monotonicUs } from '../media/timing-mark.js';
import { ClientError, type ClientFailure } from './errors.js';
import { FlvViewerBase } from './flv-viewer-base.js';
import { httpFailureKind } from './http-client.js';
import { DEFAULT_VIEWER_TIMEOUT_MS, type Viewer, type ViewerOptions } from './viewer.js';

export type WsFlvViewerOptions = ViewerOptions;

/**
 * A WebSocket-FLV viewer: the FLV stream in binary WebSocket messages (one tag or several per
 * message, or a tag split over messages: the FLV reader takes any split), on a connection of
 * its own, without per-message compression.
 */
export class WsFlvViewer extends FlvViewerBase implements Viewer {
  readonly protocol = 'ws-flv' as const;
  private ws: WebSocket | null = null;

  private constructor(opts: WsFlvViewerOptions, openUs: number) {
    super(opts, openUs);
  }

  /** Connects and upgrades; resolves once the WebSocket is open. */
  static async open(opts: WsFlvViewerOptions): Promise<WsFlvViewer> {
    const v = new WsFlvViewer(opts, monotonicUs());
    await v.start(opts);
    return v;
  }

  private start(opts: WsFlvViewerOptions): Promise<void> {
    const t = this.timings;
    const secure = this.url.protocol === 'wss:';
    return new Promise<void>((resolve, reject) => {
      let opened = false;
      let failure: { kind: ClientFailure; message: string; status?: number | undefined } | null = null;
      const ws = new WebSocket(this.url, {
        perMessageDeflate: false,
        handshakeTimeout: opts.timeoutMs ?? DEFAULT_VIEWER_TIMEOUT_MS,
        rejectUnauthorized: opts.insecure !== true,
        // Our own connect, to time it (ws connects the same way: net.connect or tls.connect).
        createConnection: ((options: net.NetConnectOpts & tls.ConnectionOptions & { socketPath?: string }) => {
          const localAddress = opts.localAddress;
          const socket = secure
            ? tls.connect({ ...options, path: undefined, localAddress } as unknown as tls.ConnectionOptions)
            : net.connect({ ...options, path: options.socketPath, localAddress } as net.NetConnectOpts);
          socket.setNoDelay(true);
          // The upgrade request is written as soon as the connection is up.
          socket.once(secure ? 'secureConnect' : 'connect', () => (t.connectedUs = t.requestUs = monotonicUs()));
          return socket;
        }) as unknown as typeof net.createConnection,
      });
      this.ws = ws;
      ws.on('unexpected-response', (_req, res) => {
        failure = { kind: 'rejected', message: `HTTP ${res.statusCode} for ${this.url.href}`, status: res.statusCode };
        res.resume();
        ws.terminate();
      });
      ws.on('open', () => {
        opened = true;
        t.startedUs = monotonicUs();
        resolve();
      });
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) this.received(data);
      });
      ws.on('error', (err) => {
        const kind = httpFailureKind(err);
        failure ??= {
          kind: kind === 'local' ? 'closed' : kind === 'socket' && /timeout/i.test(err.message) ? 'timeout' : kind,
          message: err.message,
        };
      });
      ws.on('close', (code, reason) => {
        const f = failure ?? {
          kind: 'closed' as const,
          message: `the server closed the WebSocket (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`,
        };
        if (!opened) reject(new ClientError(f.kind, f.message, undefined, f.status));
        this.end(f.kind, f.message, opened);
      });
    });
  }

  protected release(): void {
    this.ws?.terminate();
  }
}
