import net from 'node:net';
import tls from 'node:tls';
import type { BufferAllocator } from '../protocol/allocator.js';
import type { AmfValue } from '../protocol/amf-types.js';
import { ChunkReader } from '../protocol/chunk-reader.js';
import { RingQueue } from '../buffers/ring-queue.js';
import { ChunkWriter } from '../protocol/chunk-writer.js';
import { commandMessage, connectCommand, parseCommand, statusInfo, type Command } from '../protocol/commands.js';
import {
  MSG_AUDIO,
  MSG_COMMAND_AMF0,
  MSG_COMMAND_AMF3,
  MSG_DATA_AMF0,
  MSG_DATA_AMF3,
  MSG_USER_CONTROL,
  MSG_VIDEO,
  UC_PING_REQUEST,
} from '../protocol/constants.js';
import {
  acknowledgementMessage,
  parseUserControl,
  pingResponseMessage,
  setChunkSizeMessage,
  type UserControlEvent,
} from '../protocol/control.js';
import { type HandshakeStep, ClientHandshake } from '../protocol/handshake.js';
import type { OutgoingMessage, RtmpMessage } from '../protocol/message.js';
import { monotonicUs } from '../media/timing-mark.js';
import { ClientError, type ClientClose, type ClientFailure, type ClientStep } from './errors.js';
import { isClientStep } from '../protocol/errors.js';
import type { RtmpUrl } from './url.js';

export interface StatusEvent {
  streamId: number;
  level: string;
  code: string;
  description: string;
}

export interface ClientOptions {
  url: RtmpUrl;
  /** Accept any TLS certificate (self-signed test servers). */
  insecure?: boolean;
  /** Digest (Flash Player 9) handshake; default true, as ffmpeg and librtmp do. */
  digest?: boolean;
  /** Outgoing chunk size, announced after connect (default 4096, as ffmpeg and OBS use). */
  chunkSize?: number;
  /** Deadline for TCP connect, handshake and the connect command together. */
  timeoutMs?: number;
  /** Source address of the TCP connection (several spread sessions over more ephemeral ports). */
  localAddress?: string;
  /** Deliver at most this many bytes of each audio/video payload (players that only read marks). */
  skimMedia?: number;
  allocator?: BufferAllocator;
  maxMessageBytes?: number;
  /**
   * Read into this buffer (shared by every connection of a thread) instead of a new buffer per
   * read: no allocation per read. Plain TCP only; bytes are handled before the next read.
   */
  sharedReadBuffer?: Buffer;
  /**
   * Answer the server's ping requests (default true, as ffmpeg, librtmp and GStreamer do); false
   * makes a client that stays silent, which a server must not take for one that falls behind.
   */
  answerPings?: boolean;
}

/** Phases of opening a connection, in µs of the monotonic clock. */
export interface ConnectTimings {
  tcpConnectUs: number;
  handshakeUs: number;
  connectCommandUs: number;
}

interface Pending {
  resolve: (c: Command) => void;
  reject: (e: Error) => void;
}

interface StatusWaiter {
  /** Resolves and returns true when the event is the one waited for. */
  check: (s: StatusEvent) => boolean;
  reject: (e: Error) => void;
}

const nowUs = monotonicUs;

/** TLS connect options; tls.connect hands `localAddress` to its socket's connect (its type does not list it). */
function tlsOptions(url: RtmpUrl, opts: ClientOptions): tls.ConnectionOptions {
  const o: tls.ConnectionOptions & { localAddress?: string | undefined } = {
    host: url.host,
    port: url.port,
    servername: net.isIP(url.host) ? undefined : url.host,
    rejectUnauthorized: !opts.insecure,
    localAddress: opts.localAddress,
  };
  return o;
}

/**
 * One client connection to an RTMP server: TCP (or TLS), handshake and the connect command,
 * then NetStream commands and media. Hot-path events are plain callback fields, not emitters.
 */
export class ClientConnection {
  readonly url: RtmpUrl;
  readonly socket: net.Socket;
  readonly timings: ConnectTimings = { tcpConnectUs: 0, handshakeUs: 0, connectCommandUs: 0 };
  /** Audio, video and data messages of NetStreams. */
  onMedia: (m: RtmpMessage) => void = () => {};
  onStatus: (s: StatusEvent) => void = () => {};
  onUserControl: (e: UserControlEvent) => void = () => {};
  /** Protocol control messages (acknowledgement, window size, bandwidth, chunk size). */
  onControl: (m: RtmpMessage) => void = () => {};
  /** Every read from the socket, by size (for read-rate limiting). */
  onRead: ((bytes: number) => void) | null = null;
  /** Where received bytes go: the handshake first, then the chunk reader. */
  private handleBytes: (data: Buffer) => void = () => {};
  /** Called once when the connection ends, with why. */
  onClose: (reason: ClientClose) => void = () => {};
  private readonly writer: ChunkWriter;
  private readonly reader: ChunkReader;
  private nextTransactionId = 2;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private readonly statusWaiters: StatusWaiter[] = [];
  private readonly answerPings: boolean;

  private constructor(url: RtmpUrl, socket: net.Socket, opts: ClientOptions) {
    this.url = url;
    this.answerPings = opts.answerPings ?? true;
    this.socket = socket;
    this.writer = new ChunkWriter({ chunkSize: 128, compressHeaders: true });
    const readerOptions: ConstructorParameters<typeof ChunkReader>[1] = {};
    if (opts.allocator !== undefined) readerOptions.allocator = opts.allocator;
    if (opts.maxMessageBytes !== undefined) readerOptions.maxMessageBytes = opts.maxMessageBytes;
    if (opts.skimMedia !== undefined) readerOptions.skimMedia = opts.skimMedia;
    if (opts.sharedReadBuffer !== undefined && url.protocol === 'rtmp') readerOptions.reusedReadBuffers = true;
    this.reader = new ChunkReader(
      {
        onMessage: (m) => this.onMessage(m),
        onAcknowledgementDue: (seq) => this.send(acknowledgementMessage(seq)),
        onError: (e) => this.fail('protocol', `the server broke the protocol: ${e.message}`),
      },
      readerOptions,
    );
  }

  /** Connects, shakes hands and sends connect; resolves when the server accepted it. */
  static open(opts: ClientOptions): Promise<ClientConnection> {
    const url = opts.url;
    const started = nowUs();
    return new Promise((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err: Error | null, conn?: ClientConnection) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err !== null) {
          socket.destroy();
          reject(err);
        } else {
          resolve(conn!);
        }
      };
      const shared = opts.sharedReadBuffer;
      let conn: ClientConnection | null = null;
      const onread = (n: number, buf: Uint8Array): boolean => {
        conn?.received(Buffer.from(buf.buffer, buf.byteOffset, n));
        return true;
      };
      const socket: net.Socket =
        url.protocol === 'rtmps'
          ? tls.connect(tlsOptions(url, opts))
          : shared !== undefined
            ? net.connect({
                host: url.host,
                port: url.port,
                localAddress: opts.localAddress,
                onread: { buffer: shared, callback: onread },
              })
            : net.connect({ host: url.host, port: url.port, localAddress: opts.localAddress });
      socket.setNoDelay(true);
      const c = new ClientConnection(url, socket, opts);
      conn = c;
      const timeoutMs = opts.timeoutMs ?? 10_000;
      // The generator's deadline, not the server's: it names the step still waited for.
      timer = setTimeout(() => {
        const t = c.timings;
        const stage: ClientStep =
          t.tcpConnectUs === 0 ? 'tcp connect' : t.handshakeUs === 0 ? 'handshake' : 'connect command';
        finish(
          new ClientError(
            'timeout',
            `no connection to ${url.host}:${url.port} within ${timeoutMs} ms (still in ${stage})`,
            stage,
          ),
        );
      }, timeoutMs);
      if (url.protocol === 'rtmps' || shared === undefined) socket.on('data', (d: Buffer) => c.received(d));
      socket.once('error', (err: NodeJS.ErrnoException) => {
        const reason: ClientFailure =
          err.code === 'ECONNREFUSED'
            ? 'refused'
            : err.code === 'ENOTFOUND'
              ? 'dns'
              : err.code === 'EADDRNOTAVAIL' || err.code === 'EADDRINUSE'
                ? 'address'
                : url.protocol === 'rtmps'
                  ? 'tls'
                  : 'socket';
        finish(new ClientError(reason, `cannot connect to ${url.protocol}://${url.host}:${url.port}: ${err.message}`));
      });
      socket.once('close', () =>
        finish(new ClientError('closed', `${url.host}:${url.port} closed the connection during setup`)),
      );
      socket.once(url.protocol === 'rtmps' ? 'secureConnect' : 'connect', () => {
        const connected = nowUs();
        c.timings.tcpConnectUs = connected - started;
        const hs = new ClientHandshake({ digest: opts.digest ?? true });
        socket.write(hs.start());
        c.handleBytes = (data: Buffer) => {
          let step: HandshakeStep;
          try {
            step = hs.push(data);
          } catch (e) {
            finish(
              new ClientError('handshake', `handshake with ${url.host}:${url.port} failed: ${(e as Error).message}`),
            );
            return;
          }
          for (const out of step.output) socket.write(out);
          if (!step.done) return;
          c.timings.handshakeUs = nowUs() - connected;
          c.attach();
          if (step.remainder !== null) c.reader.push(step.remainder);
          const commandSent = nowUs();
          c.connectCommand(opts.chunkSize ?? 4096)
            .then(() => {
              c.timings.connectCommandUs = nowUs() - commandSent;
              finish(null, c);
            })
            .catch((e: Error) => finish(e));
        };
      });
    });
  }

  /** Bytes from the socket (a 'data' event, or an onread callback with the shared buffer). */
  private received(data: Buffer): void {
    this.onRead?.(data.length);
    this.handleBytes(data);
  }

  private attach(): void {
    this.socket.removeAllListeners('close');
    this.socket.removeAllListeners('error');
    this.handleBytes = (d: Buffer) => this.reader.push(d);
    this.socket.on('error', (err: NodeJS.ErrnoException) =>
      this.fail(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'closed' : 'socket', err.message),
    );
    this.socket.on('close', () => this.fail('closed', 'the server closed the connection'));
  }

  private async connectCommand(chunkSize: number): Promise<void> {
    const done = this.await(1);
    this.send(
      connectCommand(
        {
          app: this.url.app,
          tcUrl: this.url.tcUrl,
          flashVer: 'FMLE/3.0 (compatible; rtmpbench)',
          fpad: false,
          capabilities: 15,
          audioCodecs: 4071,
          videoCodecs: 252,
          videoFunction: 1,
          objectEncoding: 0,
        },
        1,
      ),
    );
    const result = await done;
    if (result.name === '_error') {
      const info = statusInfo(result);
      throw new ClientError(
        'rejected',
        `the server refused connect: ${info?.code ?? ''} ${info?.description ?? ''}`.trim(),
      );
    }
    if (chunkSize !== 128) {
      this.send(setChunkSizeMessage(chunkSize));
      this.writer.setChunkSize(chunkSize);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes waiting in the socket (for publishers that must not queue without bound). */
  get writableLength(): number {
    return this.socket.writableLength;
  }

  /** Sends one message; returns write()'s verdict (false: wait for 'drain'). */
  send(msg: OutgoingMessage): boolean {
    if (this.closed) return false;
    return this.socket.write(this.writer.encodeFlat(msg));
  }

  private readonly inFlight = new RingQueue<Buffer>(16);
  private inFlightPool: BufferAllocator | null = null;
  private readonly onWritten = (): void => {
    const b = this.inFlight.shift();
    if (b !== undefined) this.inFlightPool?.release(b);
  };

  /**
   * Sends one message encoded into a buffer from `pool` (one copy of the payload), given back
   * to the pool once the socket has written it. The payload may be reused after the call.
   */
  sendPooled(msg: OutgoingMessage, pool: BufferAllocator): boolean {
    if (this.closed) return false;
    const wire = this.writer.encodeFlat(msg, pool);
    this.inFlightPool = pool;
    this.inFlight.push(wire);
    return this.socket.write(wire, this.onWritten);
  }

  /** Sends a command and resolves with the server's _result or _error. */
  call(
    name: string,
    commandObject: AmfValue,
    args: AmfValue[] = [],
    streamId = 0,
    timeoutMs = 10_000,
  ): Promise<Command> {
    const tid = this.nextTransactionId++;
    const done = this.await(tid, timeoutMs, name);
    this.send(commandMessage(name, tid, commandObject, args, streamId));
    return done;
  }

  async createStream(): Promise<number> {
    const r = await this.call('createStream', null);
    const id = r.args[0];
    if (r.name !== '_result' || typeof id !== 'number') {
      throw new ClientError('rejected', `createStream failed: ${statusInfo(r)?.description ?? r.name}`);
    }
    return id;
  }

  /** releaseStream, FCPublish, createStream, publish; resolves on NetStream.Publish.Start. */
  async publish(name: string, timeoutMs = 10_000): Promise<number> {
    this.send(commandMessage('releaseStream', this.nextTransactionId++, null, [name]));
    this.send(commandMessage('FCPublish', this.nextTransactionId++, null, [name]));
    return this.startStream('publish', name, [name, 'live'], 'NetStream.Publish.Start', timeoutMs);
  }

  /** createStream, play; resolves on NetStream.Play.Start. */
  async play(name: string, timeoutMs = 10_000): Promise<number> {
    return this.startStream('play', name, [name, -1000, -1, true], 'NetStream.Play.Start', timeoutMs);
  }

  /** createStream, then `command` on the new stream; resolves with its id on `startCode`. */
  private async startStream(
    command: 'publish' | 'play',
    name: string,
    args: AmfValue[],
    startCode: string,
    timeoutMs: number,
  ): Promise<number> {
    const streamId = await this.createStream();
    const status = this.waitStatus(
      (s) => s.streamId === streamId && (s.code === startCode || s.level === 'error'),
      timeoutMs,
      command,
    );
    this.send(commandMessage(command, this.nextTransactionId++, null, args, streamId));
    const s = await status;
    if (s.code !== startCode)
      throw new ClientError('rejected', `${command} "${name}" refused: ${s.code} ${s.description}`.trim());
    return streamId;
  }

  /** Awaits `step` (a publish or play that opens a client); closes the connection if it fails. */
  async closeOnFailure<T>(step: Promise<T>): Promise<T> {
    try {
      return await step;
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Resolves with the first status event that `match` accepts. */
  waitStatus(
    match: (s: StatusEvent) => boolean,
    timeoutMs: number,
    command: ClientStep = 'command',
  ): Promise<StatusEvent> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new ClientError('closed', 'the connection is closed'));
        return;
      }
      const waiter: StatusWaiter = {
        check: (s) => {
          if (!match(s)) return false;
          clearTimeout(timer);
          resolve(s);
          return true;
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const i = this.statusWaiters.indexOf(waiter);
        if (i >= 0) this.statusWaiters.splice(i, 1);
        reject(new ClientError('timeout', `no answer to ${command} from the server within ${timeoutMs} ms`, command));
      }, timeoutMs);
      this.statusWaiters.push(waiter);
    });
  }

  /**
   * Closes the connection. `graceful` sends a FIN after queued bytes and keeps reading until
   * the server closes too (its last replies still count in `socket.bytesRead`).
   */
  close(graceful = false): void {
    if (this.closed) return;
    if (graceful && !this.socket.destroyed) {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
      this.fail('local', 'closed by the client', false);
    } else {
      this.fail('local', 'closed by the client');
    }
  }

  /** The answer to transaction `tid`; rejected with a timeout naming `command` when none comes within `timeoutMs`. */
  private await(tid: number, timeoutMs = 10_000, command = 'connect command'): Promise<Command> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(tid);
        // The step a failure is counted by: a call of its own, or any other command.
        reject(
          new ClientError(
            'timeout',
            `no answer to ${command} from the server within ${timeoutMs} ms`,
            isClientStep(command) ? command : 'command',
          ),
        );
      }, timeoutMs);
      const settle = () => clearTimeout(timer);
      this.pending.set(tid, {
        resolve: (c) => {
          settle();
          resolve(c);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      });
    });
  }

  private onMessage(m: RtmpMessage): void {
    const t = m.typeId;
    if (t === MSG_VIDEO || t === MSG_AUDIO || t === MSG_DATA_AMF0 || t === MSG_DATA_AMF3) {
      this.onMedia(m);
      return;
    }
    try {
      if (t === MSG_COMMAND_AMF0 || t === MSG_COMMAND_AMF3) {
        this.onCommand(parseCommand(m.payload, t), m.streamId);
      } else if (t === MSG_USER_CONTROL) {
        const ev = parseUserControl(m.payload);
        if (ev.event === UC_PING_REQUEST && 'timestamp' in ev && this.answerPings)
          this.send(pingResponseMessage(ev.timestamp));
        this.onUserControl(ev);
      } else {
        this.onControl(m);
      }
    } catch (e) {
      this.fail('protocol', `malformed message from the server: ${(e as Error).message}`);
    }
  }

  private onCommand(c: Command, streamId: number): void {
    if (c.name === '_result' || c.name === '_error') {
      const p = this.pending.get(c.transactionId);
      if (p !== undefined) {
        this.pending.delete(c.transactionId);
        p.resolve(c);
      }
      return;
    }
    if (c.name === 'onStatus') {
      const info = statusInfo(c);
      if (info === null) return;
      const ev: StatusEvent = { streamId, ...info };
      for (let i = 0; i < this.statusWaiters.length; i++) {
        if (this.statusWaiters[i]!.check(ev)) {
          this.statusWaiters.splice(i, 1);
          i--;
        }
      }
      this.onStatus(ev);
      return;
    }
    // onBWDone, onFCPublish, |RtmpSampleAccess and the like: nothing to do.
  }

  private fail(reason: ClientFailure | 'local', message: string, destroy = true): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.destroy();
    if (destroy && !this.socket.destroyed) this.socket.destroy();
    const err = new ClientError(reason === 'local' ? 'closed' : reason, message);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const w of this.statusWaiters.splice(0)) w.reject(err);
    this.onClose({ kind: reason, message });
  }
}
