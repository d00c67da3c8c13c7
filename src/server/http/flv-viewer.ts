import type net from 'node:net';
import { closeReason, type CloseReason } from '../close-reason.js';
import type { ServerConfig } from '../config.js';
import { SendQueue, type IoCounters } from '../send-queue.js';
import { MessageClass, SharedMessage } from '../shared-message.js';
import { wsCloseFrame, WS_CLOSE_GOING_AWAY, WS_CLOSE_NORMAL, type FlvForm } from './flv-tags.js';

/** What an FLV viewer needs from the server around it. */
export interface FlvViewerContext {
  readonly config: ServerConfig;
  /** I/O counters of the HTTP outputs. */
  readonly io: IoCounters;
  onDrop(viewer: FlvViewer, msg: SharedMessage): void;
  /** Sequence headers and metadata to resend before the next keyframe after config was dropped. */
  pendingConfig(viewer: FlvViewer): readonly SharedMessage[];
  onClose(viewer: FlvViewer, reason: CloseReason): void;
}

let nextViewerId = 1;

/** Time a gracefully ended viewer gets to take its last bytes before its socket is destroyed. */
const END_GRACE_MS = 2000;

/**
 * One HTTP-FLV or WebSocket-FLV viewer, once its response headers (or the WebSocket upgrade)
 * are out: from then on its socket carries only what the stream's FLV fan-out offers its
 * SendQueue, the queue every RTMP player has, with the same bound and backpressure policy.
 * Messages wait in the queue until `flush()` (the fan-out flushes once per publisher read).
 */
export class FlvViewer {
  readonly id = nextViewerId++;
  readonly form: FlvForm;
  readonly key: string;
  readonly remote: string;
  readonly socket: net.Socket;
  readonly queue: SendQueue;
  readonly connectedAtMs = performance.now();
  private readonly ctx: FlvViewerContext;
  private closedFlag = false;

  constructor(socket: net.Socket, form: FlvForm, key: string, ctx: FlvViewerContext) {
    this.socket = socket;
    this.form = form;
    this.key = key;
    this.ctx = ctx;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    const cfg = ctx.config;
    socket.setNoDelay(cfg.tcpNodelay);
    // Options as a value (not a literal) so the queue may take more or fewer of them.
    const options = {
      policy: cfg.backpressure,
      maxQueuedBytes: cfg.maxQueuedBytes,
      disconnectGraceMs: cfg.disconnectGraceMs,
      merge: true,
      onOverflow: (bytes: number) =>
        this.close(closeReason('slow-player', `${bytes} bytes queued over the ${cfg.maxQueuedBytes}-byte bound`)),
      onDrop: (msg: SharedMessage) => ctx.onDrop(this, msg),
      pendingConfig: () => ctx.pendingConfig(this),
      onWriteError: (err: Error) => this.onSocketError(err as NodeJS.ErrnoException),
      io: ctx.io,
    };
    this.queue = new SendQueue(socket, options);
    socket.on('drain', () => this.queue.flush());
    socket.on('error', (err: NodeJS.ErrnoException) => this.onSocketError(err));
    socket.on('close', () => this.close(closeReason('peer-closed')));
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Bytes written to the viewer, response headers included. */
  bytesOut(): number {
    // A queue that writes to the socket's handle directly counts what Node's socket does not see.
    const direct = this.queue as unknown as { writer?: { raw?: boolean }; bytesWritten?: number };
    return this.socket.bytesWritten + (direct.writer?.raw === true ? (direct.bytesWritten ?? 0) : 0);
  }

  /** Queues constant bytes the viewer must get (the FLV file header): never dropped, never released. */
  sendConstant(bytes: Buffer): void {
    const msg = new SharedMessage(bytes, MessageClass.CONTROL, 0, null);
    this.queue.sendControl(msg);
    msg.release();
  }

  flush(): void {
    if (!this.closedFlag) this.queue.flush();
  }

  /**
   * The stream ended (or the server stops): what is queued goes out, then the end of the
   * response (over WebSocket, a close frame first).
   */
  end(reason: CloseReason): void {
    if (this.closedFlag) return;
    if (this.form === 'ws-flv')
      this.sendConstant(wsCloseFrame(reason.kind === 'shutdown' ? WS_CLOSE_GOING_AWAY : WS_CLOSE_NORMAL));
    this.close(reason, true);
  }

  close(reason: CloseReason, graceful = false): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    const socket = this.socket;
    if (graceful && !socket.destroyed) {
      this.queue.flush();
      socket.end();
      setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
    } else {
      socket.destroy();
    }
    this.queue.close();
    this.ctx.onClose(this, reason);
  }

  private onSocketError(err: NodeJS.ErrnoException): void {
    // A viewer that hung up while we wrote simply closed the connection.
    const gone = err.code === 'EPIPE' || err.code === 'ECONNRESET' || err.code === 'ECANCELED';
    this.close(gone ? closeReason('peer-closed', err.code) : closeReason('socket-error', err.message));
  }
}
