import type { Socket } from 'node:net';
import { Client, buildConnector, type Dispatcher } from 'undici';
import { monotonicUs } from '../media/timing-mark.js';
import type { ClientFailure, ClientStep } from './errors.js';

/**
 * One simulated viewer's HTTP connection: an undici `Client` of its own (one keep-alive
 * connection, no pipelining), never a pool shared between viewers, so the server sees one
 * client per viewer as it would with real players. Responses stream to a sink as undici reads
 * them (views of its reads, no buffering here); TCP (and TLS) connect times are recorded.
 */

export interface HttpBodySink {
  /** The request is being written to the connection (it is up). */
  onRequestStart?: ((atUs: number) => void) | undefined;
  /** Status and headers of the final response (after any 1xx). */
  onHeaders?(status: number, headers: Record<string, string | string[] | undefined>): void;
  /** A piece of the body of a 2xx response (bodies of other statuses are read and dropped). */
  onData(chunk: Buffer): void;
}

export interface HttpResult {
  status: number;
  /** Monotonic µs: request handed to the connection, headers read, body complete. */
  requestUs: number;
  headersUs: number;
  endUs: number;
  bodyBytes: number;
}

export interface HttpRequestOptions {
  /** Deadline for the response headers (ms). */
  headersTimeoutMs: number;
  /** Longest silence inside the body (ms); 0 for none. */
  bodyTimeoutMs: number;
  headers?: Record<string, string> | undefined;
}

export interface HttpGet {
  /** Resolves with the response (any status); rejects with an `HttpFailure` when no response came. */
  readonly done: Promise<HttpResult>;
  /** Stops the request; `done` rejects with kind `local`. */
  abort(): void;
}

export class HttpFailure extends Error {
  constructor(
    readonly kind: ClientFailure | 'local',
    message: string,
    override readonly cause?: unknown,
    /** The HTTP status of an answer that refused the request (kind `rejected`). */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HttpFailure';
  }

  /** Which wait ran out, for a timeout (always the generator's own deadline). */
  get stage(): ClientStep | undefined {
    const code = (this.cause as { code?: string } | undefined)?.code;
    return code === 'UND_ERR_CONNECT_TIMEOUT'
      ? 'tcp connect'
      : code === 'UND_ERR_HEADERS_TIMEOUT'
        ? 'response headers'
        : code === 'UND_ERR_BODY_TIMEOUT'
          ? 'response body'
          : undefined;
  }
}

/** Maps undici and socket errors to the client failure kinds the generator counts. */
export function httpFailureKind(err: unknown): ClientFailure | 'local' {
  const code = (err as { code?: string } | null)?.code ?? '';
  switch (code) {
    case 'UND_ERR_ABORTED':
      return 'local';
    case 'ECONNREFUSED':
      return 'refused';
    case 'EADDRNOTAVAIL':
    case 'EADDRINUSE':
      return 'address';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'dns';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ETIMEDOUT':
      return 'timeout';
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
      return 'closed';
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_STATUS':
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'UND_ERR_INFO':
      return 'protocol';
    default:
      return /CERT|TLS|SSL/.test(code) ? 'tls' : code.startsWith('HPE_') ? 'protocol' : 'socket';
  }
}

export interface ViewerHttpClientOptions {
  insecure?: boolean | undefined;
  connectTimeoutMs: number;
  /** Source address of its connections. */
  localAddress?: string | undefined;
}

export class ViewerHttpClient {
  readonly origin: string;
  /** Connections opened so far (a keep-alive connection is reused until the server closes it). */
  connections = 0;
  /** Duration of the first connect (TCP, and TLS), µs; 0 before. */
  firstConnectUs = 0;
  /** Monotonic µs when the first connection was up; 0 before. */
  firstConnectedAtUs = 0;
  private readonly client: Client;
  private closed = false;

  constructor(origin: string, opts: ViewerHttpClientOptions) {
    this.origin = origin;
    const connector = buildConnector({ rejectUnauthorized: opts.insecure !== true, timeout: opts.connectTimeoutMs });
    this.client = new Client(origin, {
      pipelining: 1,
      // The client hands it to the connector with each connect.
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
      connect: (options, callback) => {
        const t0 = monotonicUs();
        connector(options, (err, socket) => {
          if (err === null) {
            const now = monotonicUs();
            this.connections++;
            if (this.firstConnectedAtUs === 0) {
              this.firstConnectedAtUs = now;
              this.firstConnectUs = now - t0;
            }
            (socket as Socket).setNoDelay(true);
            callback(null, socket);
          } else {
            callback(err, null);
          }
        });
      },
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A GET of `path` (with query) on this viewer's connection. */
  get(path: string, sink: HttpBodySink, opts: HttpRequestOptions): HttpGet {
    const url = this.origin + path;
    const result: HttpResult = { status: 0, requestUs: 0, headersUs: 0, endUs: 0, bodyBytes: 0 };
    let controller: Dispatcher.DispatchController | null = null;
    let aborted = false;
    let settle!: { resolve: (r: HttpResult) => void; reject: (e: HttpFailure) => void };
    const done = new Promise<HttpResult>((resolve, reject) => (settle = { resolve, reject }));
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (aborted) c.abort(new HttpFailure('local', 'aborted'));
        result.requestUs = monotonicUs();
        sink.onRequestStart?.(result.requestUs);
      },
      onResponseStart(_c, status, headers) {
        if (status < 200) return;
        result.status = status;
        result.headersUs = monotonicUs();
        sink.onHeaders?.(status, headers);
      },
      onResponseData(_c, chunk) {
        result.bodyBytes += chunk.length;
        if (result.status >= 200 && result.status < 300) sink.onData(chunk);
      },
      onResponseEnd() {
        result.endUs = monotonicUs();
        settle.resolve(result);
      },
      onResponseError(_c, err) {
        const kind = aborted ? 'local' : httpFailureKind(err);
        settle.reject(err instanceof HttpFailure ? err : new HttpFailure(kind, `GET ${url}: ${err.message}`, err));
      },
    };
    if (this.closed) {
      settle.reject(new HttpFailure('local', 'the viewer is closed'));
    } else {
      this.client.dispatch(
        {
          path,
          method: 'GET',
          headers: opts.headers ?? null,
          headersTimeout: opts.headersTimeoutMs,
          bodyTimeout: opts.bodyTimeoutMs,
          blocking: true,
        },
        handler,
      );
    }
    return {
      done,
      abort: () => {
        if (aborted) return;
        aborted = true;
        (controller as Dispatcher.DispatchController | null)?.abort(new HttpFailure('local', 'aborted'));
      },
    };
  }

  /** Closes the connection at once (requests in flight fail with kind `local`). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy(new HttpFailure('local', 'closed')).catch(() => {});
  }
}
