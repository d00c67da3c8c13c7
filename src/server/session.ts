import type { Socket } from 'node:net';
import type { BufferPool } from '../buffers/buffer-pool.js';
import { isAmfObject } from '../protocol/amf-types.js';
import { ChunkReader } from '../protocol/chunk-reader.js';
import { encodeMessageContiguous } from '../protocol/chunk-writer.js';
import {
  connectResultCommand,
  createStreamResultCommand,
  errorCommand,
  onFcPublishCommand,
  onFcUnpublishCommand,
  onStatusCommand,
  parseCommand,
  resultCommand,
  sampleAccessMessage,
  Status,
  type Command,
  type StatusInfo,
} from '../protocol/commands.js';
import {
  BANDWIDTH_LIMIT_DYNAMIC,
  MSG_AGGREGATE,
  MSG_AUDIO,
  MSG_COMMAND_AMF0,
  MSG_COMMAND_AMF3,
  MSG_DATA_AMF0,
  MSG_DATA_AMF3,
  MSG_USER_CONTROL,
  MSG_VIDEO,
  UC_PING_REQUEST,
  UC_PING_RESPONSE,
} from '../protocol/constants.js';
import {
  acknowledgementMessage,
  parseUserControl,
  pingRequestMessage,
  pingResponseMessage,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  streamBeginMessage,
  windowAckSizeMessage,
} from '../protocol/control.js';
import { splitAggregate } from '../protocol/decode.js';
import { isRtmpError, type RtmpError } from '../protocol/errors.js';
import { type HandshakeStep, ServerHandshake } from '../protocol/handshake.js';
import type { OutgoingMessage, RtmpMessage } from '../protocol/message.js';
import { flushesPerRead, type ServerConfig } from './config.js';
import { closeReason, type CloseReason } from './close-reason.js';
import { IntakeGate, type ReassemblyBudget } from './intake.js';
import { pingTimestamp } from './lag-probe.js';
import type { LiveStream, PlayerBinding } from './live-stream.js';
import type { Logger } from './logger.js';
import { SendQueue, type IoCounters } from './send-queue.js';
import { MessageClass, SharedMessage } from './shared-message.js';
import type { StreamRegistry } from './stream-registry.js';

export interface SessionContext {
  readonly config: ServerConfig;
  readonly pool: BufferPool;
  readonly logger: Logger;
  readonly registry: StreamRegistry;
  readonly io: IoCounters;
  /** Bytes of unfinished messages held by every connection (intake.ts). */
  readonly reassembly: ReassemblyBudget;
  onClose(session: Session, reason: CloseReason): void;
}

/** Most NetStreams one connection may create. */
const MAX_STREAMS_PER_SESSION = 16;

interface NetStreamRole {
  role: 'publisher' | 'player';
  stream: LiveStream;
  binding: PlayerBinding | null;
}

type SessionState = 'handshake' | 'open' | 'closed';

let nextSessionId = 1;

/** How a publish or play is refused: the status codes and the close kinds. */
const NET_STREAM_REFUSALS = {
  publish: {
    badName: Status.PUBLISH_BAD_NAME,
    badNameClose: 'bad-publish',
    unauthorized: Status.PUBLISH_UNAUTHORIZED,
    unauthorizedClose: 'publish-unauthorized',
  },
  play: {
    badName: Status.PLAY_FAILED,
    badNameClose: 'bad-play',
    unauthorized: Status.PLAY_UNAUTHORIZED,
    unauthorizedClose: 'play-unauthorized',
  },
} as const;

/** A socket's peer address, IPv4-mapped IPv6 addresses as IPv4 (one host, one count). */
export function sourceAddress(socket: Socket): string {
  const a = socket.remoteAddress ?? '?';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** Splits "name?a=b" into the name and its query. */
function splitQuery(s: string): { name: string; query: URLSearchParams } {
  const i = s.indexOf('?');
  return i < 0
    ? { name: s, query: new URLSearchParams() }
    : { name: s.slice(0, i), query: new URLSearchParams(s.slice(i + 1)) };
}

/**
 * One RTMP connection: handshake, then commands and media. Publishers feed a LiveStream;
 * players are bound to one through this session's SendQueue, which carries everything the
 * server writes to the peer. Any error closes this connection alone, with a logged reason.
 */
export class Session {
  readonly id = nextSessionId++;
  readonly socket: Socket;
  readonly remote: string;
  /** The peer's address (IPv4-mapped IPv6 addresses as IPv4): what per-address limits count. */
  readonly address: string;
  readonly queue: SendQueue;
  readonly connectedAtMs = performance.now();
  lastReceiveMs = performance.now();
  private readonly ctx: SessionContext;
  private state: SessionState = 'handshake';
  private handshake: ServerHandshake | null = new ServerHandshake();
  private readonly reader: ChunkReader;
  /** What the peer may send at its stage, and what it holds of unfinished messages. */
  readonly intake: IntakeGate;
  private handshakeTimer: NodeJS.Timeout | null;
  private app = '';
  private connectQuery = new URLSearchParams();
  private connected = false;
  private nextStreamId = 1;
  private readonly netStreams = new Map<number, NetStreamRole>();
  private readonly flushPerRead: boolean;

  constructor(socket: Socket, ctx: SessionContext) {
    this.flushPerRead = flushesPerRead(ctx.config);
    this.socket = socket;
    this.ctx = ctx;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.address = sourceAddress(socket);
    const cfg = ctx.config;
    this.queue = new SendQueue(socket, {
      policy: cfg.backpressure,
      maxQueuedBytes: cfg.maxQueuedBytes,
      disconnectGraceMs: cfg.disconnectGraceMs,
      onOverflow: (bytes) =>
        this.close(closeReason('slow-player', `${bytes} bytes queued over the ${cfg.maxQueuedBytes}-byte bound`)),
      onUnreadReplies: (bytes) =>
        this.close(closeReason('unread-replies', `${bytes} bytes waiting for a peer that does not read its answers`)),
      onDrop: (msg) => this.playedStream()?.countDrop(msg),
      pendingConfig: () => this.playedStream()?.configMessages() ?? [],
      burstBytes: cfg.burstBytes,
      maxLagMs: cfg.maxLagMs,
      makePing: (timestamp) => this.encodeControl(pingRequestMessage(timestamp)),
      onWriteError: (err: NodeJS.ErrnoException) => this.onSocketError(err),
      io: ctx.io,
    });
    this.intake = new IntakeGate(cfg, ctx.reassembly, (reason) => this.close(reason));
    this.reader = new ChunkReader(
      {
        onMessage: (m) => this.onMessage(m),
        onAcknowledgementDue: (seq) => this.sendControl(acknowledgementMessage(seq)),
        onError: (e) => this.close(this.describe(e)),
      },
      // Reads may come in one buffer reused for every read (shared reads): nothing is kept as a view.
      {
        allocator: ctx.pool,
        maxMessageBytes: cfg.maxMessageBytes,
        maxChunkStreams: cfg.maxChunkStreams,
        reusedReadBuffers: true,
        admission: this.intake,
      },
    );
    this.handshakeTimer = setTimeout(
      () => this.close(closeReason('handshake-timeout', `not complete after ${cfg.handshakeTimeoutMs} ms`)),
      cfg.handshakeTimeoutMs,
    );
    // Reads in buffers of their own (TLS, or shared reads off); shared reads come through receive().
    socket.on('data', (data: Buffer) => {
      if (this.state === 'closed') return;
      ctx.io.readAllocatedBytes += data.length;
      this.onData(data);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.onSocketError(err));
    socket.on('close', () => this.close(closeReason('peer-closed')));
  }

  private onSocketError(err: NodeJS.ErrnoException): void {
    // A peer that hung up while we wrote (EPIPE, ECONNRESET; ECANCELED for writes cut short by
    // our own close) simply closed the connection.
    const gone = err.code === 'EPIPE' || err.code === 'ECONNRESET' || err.code === 'ECANCELED';
    this.close(gone ? closeReason('peer-closed', err.code) : closeReason('socket-error', err.message));
  }

  /** Bytes from the peer in a buffer that is reused after this call (shared reads). */
  receive(data: Buffer): void {
    this.onData(data);
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** Which handshake the peer used (known once it is done). */
  handshakeKind: 'digest' | 'simple' | null = null;
  /** What the peer did last: publish, play, or neither (kept after the connection closes). */
  role: 'publisher' | 'player' | 'none' = 'none';
  /** NetStreams this session publishes on now (whatever it did after: a publisher may also play). */
  private publishing = 0;

  /** The stream this session publishes, if any (for idle checks). */
  publishedStream(): LiveStream | null {
    for (const r of this.netStreams.values()) if (r.role === 'publisher') return r.stream;
    return null;
  }

  playedStream(): LiveStream | null {
    for (const r of this.netStreams.values()) if (r.role === 'player') return r.stream;
    return null;
  }

  /** Bytes read from the peer, handshake included. */
  bytesIn(): number {
    return this.socket.bytesRead;
  }

  /** Bytes written to the peer, handshake included. */
  bytesOut(): number {
    // Node's count is the handle's own (plus what waits in Node's buffer), so it includes the
    // writer's direct handle writes: adding the writer's count would count them twice.
    return this.socket.bytesWritten;
  }

  ping(): void {
    if (this.state !== 'open') return;
    // A player of a live stream gets its ping with its next media write (and its answer also
    // tells how far behind it is: lag probes).
    if (this.playedStream()?.publishing === true && this.queue.requestPing(performance.now())) return;
    this.sendControl(pingRequestMessage(pingTimestamp(performance.now())));
  }

  private onData(data: Buffer): void {
    this.lastReceiveMs = performance.now();
    if (this.state === 'open') {
      this.reader.push(data);
      if (this.flushPerRead && this.publishing > 0) this.flushPublished();
      return;
    }
    if (this.state !== 'handshake' || this.handshake === null) return;
    let step: HandshakeStep;
    try {
      step = this.handshake.push(data);
    } catch (e) {
      this.close(this.describe(e));
      return;
    }
    for (const out of step.output) this.socket.write(out);
    if (!step.done) return;
    this.handshakeKind = this.handshake.clientScheme === null ? 'simple' : 'digest';
    this.handshake = null;
    this.state = 'open';
    this.ctx.logger.debug('handshake', { session: this.id, kind: this.handshakeKind });
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    if (step.remainder !== null) this.reader.push(step.remainder);
  }

  /** What this read brought for the streams this session publishes goes out now (batched reads). */
  private flushPublished(): void {
    for (const r of this.netStreams.values()) if (r.role === 'publisher') r.stream.flushBatch();
  }

  private onMessage(m: RtmpMessage): void {
    let kept = false;
    try {
      kept = this.dispatch(m);
    } catch (e) {
      this.close(this.describe(e));
    } finally {
      if (m.pooled && !kept) this.ctx.pool.release(m.payload);
    }
  }

  /** Handles one message; true when a pooled payload was kept (its release is then not ours). */
  private dispatch(m: RtmpMessage): boolean {
    switch (m.typeId) {
      case MSG_VIDEO:
      case MSG_AUDIO:
      case MSG_DATA_AMF0:
      case MSG_DATA_AMF3: {
        const role = this.netStreams.get(m.streamId);
        if (role?.role !== 'publisher') return false;
        if (m.typeId === MSG_DATA_AMF3) {
          const payload = m.payload[0] === 0 ? m.payload.subarray(1) : m.payload;
          role.stream.onPublisherMessage(MSG_DATA_AMF0, m.timestamp, payload);
          return false;
        }
        return role.stream.onPublisherMessage(m.typeId, m.timestamp, m.payload, m.pooled);
      }
      case MSG_AGGREGATE: {
        const role = this.netStreams.get(m.streamId);
        if (role?.role !== 'publisher') return false;
        for (const sub of splitAggregate(m.payload, m.timestamp))
          role.stream.onPublisherMessage(sub.typeId, sub.timestamp, sub.payload);
        return false;
      }
      case MSG_COMMAND_AMF0:
      case MSG_COMMAND_AMF3:
        this.onCommand(parseCommand(m.payload, m.typeId), m.streamId);
        return false;
      case MSG_USER_CONTROL: {
        const ev = parseUserControl(m.payload);
        if (ev.event === UC_PING_REQUEST && 'timestamp' in ev) this.sendControl(pingResponseMessage(ev.timestamp));
        else if (ev.event === UC_PING_RESPONSE && 'timestamp' in ev)
          this.queue.onPingAnswered(ev.timestamp, performance.now());
        return false;
      }
      default:
        // Acknowledgements, window and bandwidth messages, shared objects: nothing to do.
        return false;
    }
  }

  private onCommand(c: Command, streamId: number): void {
    const log = this.ctx.logger;
    if (log.enabled('debug')) log.debug('command', { session: this.id, name: c.name, tid: c.transactionId, streamId });
    switch (c.name) {
      case 'connect':
        this.onConnect(c);
        return;
      case 'createStream': {
        if (this.nextStreamId > MAX_STREAMS_PER_SESSION) {
          this.sendControl(
            errorCommand(c.transactionId, 'NetConnection.Call.Failed', 'too many streams on this connection'),
          );
          return;
        }
        this.sendControl(createStreamResultCommand(c.transactionId, this.nextStreamId++));
        return;
      }
      case 'releaseStream':
        if (c.transactionId > 0) this.sendControl(resultCommand(c.transactionId, null));
        return;
      case 'FCPublish':
        this.sendControl(onFcPublishCommand(typeof c.args[0] === 'string' ? c.args[0] : ''));
        return;
      case 'FCUnpublish':
        this.sendControl(onFcUnpublishCommand(typeof c.args[0] === 'string' ? c.args[0] : ''));
        return;
      case 'publish':
        this.onPublish(c, streamId);
        return;
      case 'play':
        this.onPlay(c, streamId);
        return;
      case 'deleteStream':
        this.endNetStream(typeof c.args[0] === 'number' ? c.args[0] : streamId);
        return;
      case 'closeStream':
        this.endNetStream(streamId);
        return;
      case 'getStreamLength':
        this.sendControl(resultCommand(c.transactionId, null, 0));
        return;
      case '_result':
      case '_error':
      case 'onStatus':
      case 'receiveAudio':
      case 'receiveVideo':
      case '_checkbw':
        return;
      default:
        if (c.transactionId > 0)
          this.sendControl(errorCommand(c.transactionId, 'NetConnection.Call.Failed', `Method not found (${c.name})`));
    }
  }

  private onConnect(c: Command): void {
    const obj = isAmfObject(c.commandObject) ? c.commandObject : {};
    const { name, query } = splitQuery(typeof obj.app === 'string' ? obj.app : '');
    this.app = name.replace(/\/+$/, '');
    this.connectQuery = query;
    if (typeof obj.tcUrl === 'string') {
      const q = splitQuery(obj.tcUrl).query;
      for (const [k, v] of q) if (!this.connectQuery.has(k)) this.connectQuery.set(k, v);
    }
    const cfg = this.ctx.config;
    this.sendControl(windowAckSizeMessage(cfg.windowAckSize));
    this.sendControl(setPeerBandwidthMessage(cfg.windowAckSize, BANDWIDTH_LIMIT_DYNAMIC));
    this.sendControl(setChunkSizeMessage(cfg.chunkSize));
    const objectEncoding = typeof obj.objectEncoding === 'number' ? obj.objectEncoding : 0;
    const extra = Array.isArray(obj.fourCcList) ? { fourCcList: obj.fourCcList } : {};
    this.sendControl(connectResultCommand(c.transactionId, objectEncoding, extra));
    this.connected = true;
    if (this.intake.stage === 'connecting') this.intake.stage = 'connected';
  }

  private tokenAccepted(required: string | undefined, nameQuery: URLSearchParams): boolean {
    if (required === undefined) return true;
    return nameQuery.get('token') === required || this.connectQuery.get('token') === required;
  }

  /** Sends an error status and closes: the peer learns why before the connection drops. */
  private reject(streamId: number, info: StatusInfo, reason: CloseReason): void {
    this.sendControl(onStatusCommand(streamId, info));
    this.queue.flush(true);
    this.close(reason, true);
  }

  /**
   * The stream key that a publish or play names, or null after refusing it: no connect yet, no
   * name, a stream id that is 0 or taken, or a missing or wrong token.
   */
  private netStreamKey(command: 'publish' | 'play', c: Command, streamId: number): string | null {
    const raw = typeof c.args[0] === 'string' ? c.args[0] : '';
    const { name, query } = splitQuery(raw);
    const refusal = NET_STREAM_REFUSALS[command];
    if (!this.connected || name.length === 0 || streamId === 0 || this.netStreams.has(streamId)) {
      this.reject(
        streamId,
        { level: 'error', code: refusal.badName, description: `cannot ${command} "${raw}" on stream ${streamId}` },
        closeReason(refusal.badNameClose),
      );
      return null;
    }
    const token = command === 'publish' ? this.ctx.config.publishToken : this.ctx.config.playToken;
    if (!this.tokenAccepted(token, query)) {
      this.reject(
        streamId,
        { level: 'error', code: refusal.unauthorized, description: `${command} token missing or wrong` },
        closeReason(refusal.unauthorizedClose),
      );
      return null;
    }
    return `${this.app}/${name}`;
  }

  private onPublish(c: Command, streamId: number): void {
    const key = this.netStreamKey('publish', c, streamId);
    if (key === null) return;
    const stream = this.ctx.registry.getOrCreate(key);
    if (stream.publishing) {
      this.ctx.registry.releaseIfIdle(stream);
      this.reject(
        streamId,
        { level: 'error', code: Status.PUBLISH_BAD_NAME, description: `${key} is already being published` },
        closeReason('duplicate-publisher'),
      );
      return;
    }
    this.netStreams.set(streamId, { role: 'publisher', stream, binding: null });
    this.role = 'publisher';
    this.publishing++;
    this.intake.stage = 'published';
    stream.startPublishing(this.id);
    this.sendControl(streamBeginMessage(streamId));
    this.sendControl(
      onStatusCommand(streamId, {
        level: 'status',
        code: Status.PUBLISH_START,
        description: `${key} is now published`,
      }),
    );
    this.ctx.logger.info('publish', { session: this.id, stream: key, remote: this.remote });
  }

  private onPlay(c: Command, streamId: number): void {
    const key = this.netStreamKey('play', c, streamId);
    if (key === null) return;
    const stream = this.ctx.registry.getOrCreate(key);
    const binding: PlayerBinding = { sessionId: this.id, streamId, queue: this.queue };
    this.netStreams.set(streamId, { role: 'player', stream, binding });
    this.role = 'player';
    this.sendControl(streamBeginMessage(streamId));
    this.sendControl(
      onStatusCommand(streamId, {
        level: 'status',
        code: Status.PLAY_RESET,
        description: `Playing and resetting ${key}`,
      }),
    );
    this.sendControl(
      onStatusCommand(streamId, { level: 'status', code: Status.PLAY_START, description: `Started playing ${key}` }),
    );
    // The lag probe's first ping goes with these answers, ahead of any media (lag-probe.ts).
    this.queue.requestPing(performance.now());
    this.sendControl(sampleAccessMessage(streamId));
    stream.addPlayer(binding);
    this.ctx.logger.info('play', { session: this.id, stream: key, remote: this.remote, waiting: !stream.publishing });
  }

  /** Ends whatever this session does on one NetStream (deleteStream, closeStream, close). */
  private endNetStream(streamId: number): void {
    const role = this.netStreams.get(streamId);
    if (role === undefined) return;
    this.netStreams.delete(streamId);
    if (role.role === 'publisher') {
      this.publishing--;
      role.stream.stopPublishing();
      if (this.state === 'open') {
        this.sendControl(
          onStatusCommand(streamId, {
            level: 'status',
            code: Status.UNPUBLISH_SUCCESS,
            description: `${role.stream.key} is now unpublished`,
          }),
        );
      }
      this.ctx.logger.info('unpublish', { session: this.id, stream: role.stream.key });
    } else if (role.binding !== null) {
      role.stream.removePlayer(role.binding);
    }
    this.ctx.registry.releaseIfIdle(role.stream);
  }

  /** Encodes a message for this peer and queues it; control messages are never dropped. */
  sendControl(msg: OutgoingMessage): void {
    if (this.state === 'closed') return;
    const shared = this.encodeControl(msg);
    this.queue.sendControl(shared);
    shared.release();
  }

  /** A control message in wire form (pooled; one reference, the caller's). */
  private encodeControl(msg: OutgoingMessage): SharedMessage {
    const pool = this.ctx.pool;
    return new SharedMessage(
      encodeMessageContiguous(msg, this.ctx.config.chunkSize, pool),
      MessageClass.CONTROL,
      0,
      pool,
    );
  }

  /** A protocol or limit error closes the connection under its code; anything else is ours. */
  private describe(e: unknown): CloseReason {
    if (isRtmpError(e)) return closeReason((e as RtmpError).code, (e as RtmpError).message);
    return closeReason('internal-error', (e as Error)?.message ?? String(e));
  }

  /**
   * Closes the connection once, releasing everything it holds. `graceful` lets queued bytes
   * (a rejection status, end-of-stream) reach the peer first.
   */
  close(reason: CloseReason, graceful = false): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    for (const streamId of [...this.netStreams.keys()]) this.endNetStream(streamId);
    this.reader.destroy();
    if (graceful && !this.socket.destroyed) {
      this.queue.flush(true);
      this.socket.end();
      const t = setTimeout(() => this.socket.destroy(), 2000);
      t.unref();
    } else {
      this.socket.destroy();
    }
    this.queue.close();
    this.ctx.onClose(this, reason);
  }
}
