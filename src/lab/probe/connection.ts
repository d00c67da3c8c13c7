import net from 'node:net';
import tls from 'node:tls';
import type { RtmpUrl } from '../../client/url.js';
import type { AmfValue } from '../../protocol/amf-types.js';
import { encodeAmf0 } from '../../protocol/amf0.js';
import { parseCommand, statusInfo, type Command } from '../../protocol/commands.js';
import {
  CSID_COMMAND,
  HANDSHAKE_SIZE,
  MSG_COMMAND_AMF0,
  MSG_COMMAND_AMF3,
  MSG_USER_CONTROL,
  RTMP_VERSION,
  UC_PING_REQUEST,
} from '../../protocol/constants.js';
import {
  acknowledgementMessage,
  parseUserControl,
  pingResponseMessage,
  setChunkSizeMessage,
} from '../../protocol/control.js';
import { ClientHandshake, findDigest, type DigestScheme } from '../../protocol/handshake.js';
import type { OutgoingMessage } from '../../protocol/message.js';
import { StepError } from './errors.js';
import { ChunkTrace, type TracedMessage } from './wire/chunk-trace.js';
import { chunkMessage, type RawChunkOptions } from './wire/raw-chunks.js';

/**
 * One connection of a probe to the server under test: a socket whose every byte the probe
 * controls (handshake forms, chunk headers, chunk sizes) and whose every byte from the server
 * is traced (chunk-trace.ts). Every wait has a deadline and ends early when the server closes
 * the connection; the probe's context closes all its connections when the probe ends.
 */

export interface ProbeTarget {
  url: RtmpUrl;
  insecure: boolean;
}

export type HandshakeForm = 'digest' | 'simple' | 'zero';

export interface HandshakeOptions {
  /** digest (Flash Player 9, ffmpeg), simple (version field zero), zero (C1 all zeros but its time). */
  form?: HandshakeForm;
  scheme?: DigestScheme;
  /** Send C2 (a copy of C1) with C0 and C1, before S1 arrived. */
  c2Early?: boolean;
  /** Bytes to send in the same write as C2 (the first chunks). */
  withC2?: Buffer;
}

/** What the server's S0, S1 and S2 said. */
export interface HandshakeFacts {
  s0: number;
  s1Time: number;
  /** S1 bytes 4..7: zero for a simple handshake, a server version with a digest. */
  s1Version: string;
  /** S1 carries a valid server digest (Flash Media Server style). */
  serverDigest: boolean;
  /** The offset scheme of S1's digest, or null. */
  s1Scheme: DigestScheme | null;
  /** S2 is what the form we used expects: C1 echoed (simple), or signed against our digest. */
  s2Valid: boolean;
  /** S2 is a byte-for-byte echo of C1. */
  s2EchoesC1: boolean;
  handshakeMs: number;
}

export interface ConnectOptions {
  /** Extra properties of the command object (objectEncoding, fourCcList...). */
  properties?: Record<string, AmfValue>;
  /** Values after the command object (optional user arguments). */
  args?: AmfValue[];
  /** 17: send connect as an AMF3 command message (format byte 0, then AMF0). */
  typeId?: number;
}

export interface SendOptions extends Partial<RawChunkOptions> {
  /** Chunk stream id (default: the message's own). */
  csid?: number;
}

/** Messages a connection keeps for waits: enough for every probe, bounded. */
const MAX_MESSAGES = 20_000;

let nextConnectionId = 1;

export class ProbeConnection {
  readonly id = nextConnectionId++;
  readonly messages: TracedMessage[] = [];
  readonly trace: ChunkTrace;
  /** Why the connection ended: null while it is open. */
  closedBy: string | null = null;
  /** Outgoing chunk size (what the server believes after our Set Chunk Size). */
  chunkSize = 128;
  facts: HandshakeFacts | null = null;
  /** NetStreams this connection published on, unpublished before it closes. */
  readonly published = new Set<number>();
  private raw: Buffer[] = [];
  private rawBytes = 0;
  private handshaking = true;
  private readonly waiters = new Set<() => void>();
  private nextTid = 2;
  private bytesIn = 0;
  private ackedAt = 0;
  private bytesOut = 0;

  private constructor(
    readonly target: ProbeTarget,
    readonly socket: net.Socket,
  ) {
    this.trace = new ChunkTrace((m) => this.onMessage(m));
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (e: Error) => this.ended(`socket error: ${e.message}`));
    socket.on('close', () => this.ended('the server closed the connection'));
  }

  /** TCP (or TLS) connection to the target, without a handshake. */
  static dial(target: ProbeTarget, timeoutMs: number): Promise<ProbeConnection> {
    const { host, port, protocol } = target.url;
    return new Promise((resolve, reject) => {
      const socket =
        protocol === 'rtmps'
          ? tls.connect({
              host,
              port,
              servername: net.isIP(host) ? undefined : host,
              rejectUnauthorized: !target.insecure,
            })
          : net.connect({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new StepError('TCP connection', `no TCP connection to ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new StepError('TCP connection', `cannot connect to ${host}:${port}: ${e.message}`));
      });
      socket.once(protocol === 'rtmps' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ProbeConnection(target, socket));
      });
    });
  }

  get closed(): boolean {
    return this.closedBy !== null;
  }

  /** Called before each write with its size (the probe's budget of bytes; it may throw). */
  onWrite: ((bytes: number) => void) | null = null;

  write(data: Buffer | readonly Buffer[]): void {
    if (this.closed) return;
    const list = Buffer.isBuffer(data) ? [data] : data;
    let bytes = 0;
    for (const b of list) bytes += b.length;
    this.onWrite?.(bytes);
    this.bytesOut += bytes;
    for (const b of list) this.socket.write(b);
  }

  /** Bytes this connection has sent (handshake included). */
  get sentBytes(): number {
    return this.bytesOut;
  }

  // ---- handshake phase ----

  /** Bytes the server sent before the chunk stream started (handshake phase), all of them. */
  rawReceived(): Buffer {
    if (this.raw.length > 1) this.raw = [Buffer.concat(this.raw)];
    return this.raw[0] ?? Buffer.alloc(0);
  }

  /** Waits until the server sent at least `n` handshake-phase bytes. */
  waitRaw(n: number, timeoutMs: number, what: string): Promise<Buffer> {
    return this.waitFor(() => (this.rawBytes >= n ? this.rawReceived() : undefined), timeoutMs, what);
  }

  /** Shakes hands in the given form and records what S0/S1/S2 said. */
  async handshake(timeoutMs: number, opts: HandshakeOptions = {}): Promise<HandshakeFacts> {
    const form = opts.form ?? 'digest';
    const started = performance.now();
    const hs = new ClientHandshake({
      digest: form === 'digest',
      ...(opts.scheme !== undefined ? { scheme: opts.scheme } : {}),
      ...(form === 'zero' ? { randomBytes: (n: number) => Buffer.alloc(n) } : {}),
    });
    const c0c1 = hs.start();
    const c1 = Buffer.from(c0c1.subarray(1));
    this.write(opts.c2Early ? Buffer.concat([c0c1, c1]) : c0c1);
    const s = await this.waitRaw(1 + 2 * HANDSHAKE_SIZE, timeoutMs, 'S0, S1 and S2');
    const s0s1s2 = s.subarray(0, 1 + 2 * HANDSHAKE_SIZE);
    const rest = s.subarray(1 + 2 * HANDSHAKE_SIZE);
    if (s0s1s2[0] !== RTMP_VERSION) throw new StepError('S0', `S0 is ${s0s1s2[0]}, not ${RTMP_VERSION}`);
    const step = hs.push(Buffer.from(s0s1s2));
    const s1 = s0s1s2.subarray(1, 1 + HANDSHAKE_SIZE);
    const s2 = s0s1s2.subarray(1 + HANDSHAKE_SIZE);
    if (!opts.c2Early)
      this.write(opts.withC2 !== undefined ? Buffer.concat([...step.output, opts.withC2]) : step.output);
    else if (opts.withC2 !== undefined) this.write(opts.withC2);
    this.facts = {
      s0: s0s1s2[0]!,
      s1Time: s1.readUInt32BE(0),
      s1Version: [...s1.subarray(4, 8)].join('.'),
      serverDigest: hs.serverDigest,
      s1Scheme: findDigest(Buffer.from(s1), 'server', [8, 772]),
      s2Valid: hs.serverResponseValid,
      s2EchoesC1: s2.equals(c1),
      handshakeMs: performance.now() - started,
    };
    this.handshaking = false;
    this.raw = [];
    if (rest.length > 0) this.feed(Buffer.from(rest));
    return this.facts;
  }

  // ---- chunk phase ----

  /** Sends a message as chunks of the current chunk size (fmt 0 unless told otherwise). */
  send(msg: OutgoingMessage, opts: SendOptions = {}): void {
    const m = opts.csid !== undefined ? { ...msg, csid: opts.csid } : msg;
    this.write(chunkMessage(m, { chunkSize: this.chunkSize, ...opts }));
  }

  /** Announces and switches the outgoing chunk size (any value up to 0x7fffffff). */
  setChunkSize(size: number): void {
    this.send(setChunkSizeMessage(size));
    this.chunkSize = size;
  }

  /** connect with the URL's app and tcUrl; resolves with the server's _result (or throws). */
  async connect(timeoutMs: number, opts: ConnectOptions = {}): Promise<Command> {
    const reply = await this.command(
      'connect',
      connectObject(this.target, opts.properties),
      opts.args ?? [],
      0,
      timeoutMs,
      opts.typeId ?? MSG_COMMAND_AMF0,
      1,
    );
    if (reply.name !== '_result') throw new StepError('connect', `connect was refused: ${describeReply(reply)}`);
    return reply;
  }

  /** Sends a command and resolves with its _result or _error. */
  command(
    name: string,
    commandObject: AmfValue,
    args: AmfValue[],
    streamId: number,
    timeoutMs: number,
    typeId = MSG_COMMAND_AMF0,
    tid = this.nextTid++,
  ): Promise<Command> {
    this.sendCommand(name, commandObject, args, streamId, typeId, tid);
    return this.waitReply(tid, timeoutMs, `the answer to ${name}`);
  }

  /** Sends a command without waiting (notifications, or answers waited for elsewhere). Returns its transaction id. */
  sendCommand(
    name: string,
    commandObject: AmfValue,
    args: AmfValue[],
    streamId = 0,
    typeId = MSG_COMMAND_AMF0,
    tid = this.nextTid++,
  ): number {
    const body = encodeAmf0(name, tid, commandObject, ...args);
    this.sendCommandBody(body, streamId, typeId);
    return tid;
  }

  /** Sends a command body as it is (crafted AMF), as type 20 or 17 (format byte added). */
  sendCommandBody(body: Buffer, streamId = 0, typeId = MSG_COMMAND_AMF0): void {
    const payload = typeId === MSG_COMMAND_AMF3 ? Buffer.concat([Buffer.from([0]), body]) : body;
    this.send({ csid: CSID_COMMAND, typeId, streamId, timestamp: 0, payload });
  }

  /** A fresh transaction id (for crafted command bodies). */
  transactionId(): number {
    return this.nextTid++;
  }

  /** The server's _result or _error for a transaction id. */
  waitReply(tid: number, timeoutMs: number, what: string): Promise<Command> {
    return this.waitCommand(
      (c) => (c.name === '_result' || c.name === '_error') && c.transactionId === tid,
      timeoutMs,
      what,
    ).then((r) => r.command);
  }

  async createStream(timeoutMs: number): Promise<number> {
    const r = await this.command('createStream', null, [], 0, timeoutMs);
    const id = r.args[0];
    if (r.name !== '_result' || typeof id !== 'number')
      throw new StepError('createStream', `createStream was refused: ${describeReply(r)}`);
    return id;
  }

  /** The first command (on any stream) that `match` accepts, with the message that carried it. */
  waitCommand(
    match: (c: Command, m: TracedMessage) => boolean,
    timeoutMs: number,
    what: string,
    from = 0,
  ): Promise<{ command: Command; message: TracedMessage }> {
    return this.waitMessage(
      (m) => {
        const c = commandOf(m);
        return c !== null && match(c, m);
      },
      timeoutMs,
      what,
      from,
    ).then((m) => ({ command: commandOf(m)!, message: m }));
  }

  /** The first onStatus whose code `match` accepts (on `streamId` when given). */
  async waitStatus(
    match: (code: string, level: string) => boolean,
    timeoutMs: number,
    what: string,
    streamId?: number,
    from = 0,
  ): Promise<{ code: string; level: string; description: string; message: TracedMessage }> {
    const { command, message } = await this.waitCommand(
      (c, m) => {
        if (c.name !== 'onStatus' || (streamId !== undefined && m.streamId !== streamId && m.streamId !== 0))
          return false;
        const info = statusInfo(c);
        return info !== null && match(info.code, info.level);
      },
      timeoutMs,
      what,
      from,
    );
    const info = statusInfo(command)!;
    return { ...info, message };
  }

  /** Status codes received so far (on `streamId` when given), in order. */
  statusCodes(streamId?: number): string[] {
    const out: string[] = [];
    for (const m of this.messages) {
      const c = commandOf(m);
      if (c?.name !== 'onStatus' || (streamId !== undefined && m.streamId !== streamId && m.streamId !== 0)) continue;
      const info = statusInfo(c);
      if (info !== null) out.push(info.code);
    }
    return out;
  }

  /** The first message (from index `from`) that `match` accepts. */
  waitMessage(match: (m: TracedMessage) => boolean, timeoutMs: number, what: string, from = 0): Promise<TracedMessage> {
    let i = from;
    return this.waitFor(
      () => {
        for (; i < this.messages.length; i++) if (match(this.messages[i]!)) return this.messages[i]!;
        return undefined;
      },
      timeoutMs,
      what,
    );
  }

  /** Resolves true when the server closes the connection within `timeoutMs`, else false. */
  waitClosed(timeoutMs: number): Promise<boolean> {
    return this.waitFor(() => (this.closed ? true : undefined), timeoutMs, 'the connection to close', true).then(
      () => true,
      () => false,
    );
  }

  /** Waits `ms`, or less if the connection closes. */
  pause(ms: number): Promise<void> {
    return this.waitClosed(ms).then(() => undefined);
  }

  /**
   * Resolves with what `check` returns once it returns something; rejects with a StepError
   * after `timeoutMs`, or at once when the connection closes first (unless `closeIsAnswer`).
   */
  waitFor<T>(check: () => T | undefined, timeoutMs: number, what: string, closeIsAnswer = false): Promise<T> {
    return new Promise((resolve, reject) => {
      const first = check();
      if (first !== undefined) return resolve(first);
      if (this.closed && !closeIsAnswer) return reject(new StepError(what, `${what}: ${this.closedBy} first`));
      const waiter = () => {
        const v = check();
        if (v !== undefined) {
          finish();
          resolve(v);
        } else if (this.closed && !closeIsAnswer) {
          finish();
          reject(new StepError(what, `${what}: ${this.closedBy} first`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new StepError(what, `${what}: nothing within ${timeoutMs} ms`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
    });
  }

  /**
   * Ends the connection: NetStreams it published are unpublished first (deleteStream), so the
   * server is not left with a stale publisher, then the socket closes.
   */
  close(): void {
    if (this.closed) return;
    for (const streamId of this.published) {
      this.sendCommand('FCUnpublish', null, [], 0);
      this.sendCommand('deleteStream', null, [streamId], 0);
    }
    this.published.clear();
    this.closedBy = 'closed by the probe';
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 500).unref();
    this.wake();
  }

  /** Drops the connection at once, without unpublishing (a publisher that vanishes). */
  destroy(): void {
    if (this.closed) return;
    this.closedBy = 'closed by the probe';
    this.socket.destroy();
    this.wake();
  }

  private onData(d: Buffer): void {
    if (this.handshaking) {
      this.raw.push(d);
      this.rawBytes += d.length;
      this.bytesIn += d.length;
      this.wake();
      return;
    }
    this.feed(d);
  }

  private feed(d: Buffer): void {
    this.bytesIn += d.length;
    if (!this.trace.push(d)) {
      this.ended(`the server's chunk stream could not be read: ${this.trace.error?.message ?? ''}`);
      this.socket.destroy();
      return;
    }
    const window = this.trace.stats.windowAckSize;
    if (window > 0 && this.bytesIn - this.ackedAt >= window) {
      this.ackedAt = this.bytesIn;
      this.send(acknowledgementMessage(this.bytesIn >>> 0));
    }
    this.wake();
  }

  private onMessage(m: TracedMessage): void {
    if (this.messages.length < MAX_MESSAGES) this.messages.push(m);
    if (m.typeId === MSG_USER_CONTROL && m.payload.length >= 6) {
      try {
        const ev = parseUserControl(m.payload);
        if (ev.event === UC_PING_REQUEST && 'timestamp' in ev) this.send(pingResponseMessage(ev.timestamp));
      } catch {
        /* a malformed event is the probe's to judge, not the connection's */
      }
    }
  }

  private ended(reason: string): void {
    if (this.closedBy === null) this.closedBy = reason;
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** The command object of connect: the URL's app and tcUrl, and `properties`. */
export function connectObject(
  target: ProbeTarget,
  properties: Record<string, AmfValue> = {},
): Record<string, AmfValue> {
  const { app, tcUrl } = target.url;
  return { app, type: 'nonprivate', flashVer: 'FMLE/3.0 (compatible; rtmpbench probe)', tcUrl, ...properties };
}

/** The command a message carries, or null (not a command, or not decodable). */
export function commandOf(m: TracedMessage): Command | null {
  if (m.typeId !== MSG_COMMAND_AMF0 && m.typeId !== MSG_COMMAND_AMF3) return null;
  try {
    return parseCommand(m.payload, m.typeId);
  } catch {
    return null;
  }
}

export function describeReply(c: Command): string {
  const info = statusInfo(c);
  return info !== null ? `${c.name} ${info.code}${info.description ? ` (${info.description})` : ''}` : c.name;
}
