import type net from 'node:net';
import { isAmfObject, type AmfValue } from '../../src/protocol/amf-types.js';
import { Amf0Reader, AMF0_AVMPLUS_OBJECT } from '../../src/protocol/amf0.js';
import {
  connectResultCommand,
  createStreamResultCommand,
  errorCommand,
  onStatusCommand,
  parseCommand,
  resultCommand,
} from '../../src/protocol/commands.js';
import {
  EXTENDED_TIMESTAMP_MARK,
  HANDSHAKE_SIZE,
  MSG_ABORT,
  MSG_AUDIO,
  MSG_COMMAND_AMF0,
  MSG_COMMAND_AMF3,
  MSG_DATA_AMF0,
  MSG_DATA_AMF3,
  MSG_SET_CHUNK_SIZE,
  MSG_SET_PEER_BANDWIDTH,
  MSG_USER_CONTROL,
  MSG_VIDEO,
  MSG_WINDOW_ACK_SIZE,
  UC_PING_REQUEST,
  UC_SET_BUFFER_LENGTH,
} from '../../src/protocol/constants.js';
import {
  acknowledgementMessage,
  pingResponseMessage,
  setChunkSizeMessage,
  streamBeginMessage,
  windowAckSizeMessage,
} from '../../src/protocol/control.js';
import { type HandshakeStep, ServerHandshake } from '../../src/protocol/handshake.js';
import type { OutgoingMessage } from '../../src/protocol/message.js';
import { chunkMessage } from '../../src/lab/probe/wire/raw-chunks.js';
import type { Faults } from './scripted-faults.js';

/**
 * One connection of the scripted server: handshake, its own chunk reader and the commands,
 * each with the faults the server was given. The reader is its own, kept simple so that each
 * fault is one `if`: it is not the codec's reader, which has none of them.
 */

/** What a session needs of its server. */
export interface SessionHost {
  readonly faults: Faults;
  stream(name: string): Stream;
  relay(stream: Stream, typeId: number, clock: number, payload: Buffer): void;
  unpublish(stream: Stream, session: Session): void;
  forget(session: Session): void;
  /** Stops the whole server (a crash). */
  die(): void;
}

export interface Stream {
  name: string;
  publishers: Session[];
  players: { session: Session; streamId: number; gotVideo: boolean; gotAudio: boolean }[];
  firstTimestamp: number | null;
  lastTimestamp: number;
}

interface InStream {
  fmt: number;
  field: number;
  extended: boolean;
  clock: number;
  length: number;
  typeId: number;
  streamId: number;
  payload: Buffer | null;
  received: number;
}

export class Session {
  private hs = new ServerHandshake();
  private handshaking = true;
  private c0c1Seen = false;
  private pending = Buffer.alloc(0);
  private chunkSize = 128;
  private readonly inStreams = new Map<number, InStream>();
  private current: InStream | null = null;
  private chunkLeft = 0;
  private nextStreamId = 1;
  private windowAck = 0;
  private bytesIn = 0;
  private ackedAt = 0;
  readonly published = new Map<number, Stream>();
  private closed = false;

  constructor(
    private readonly server: SessionHost,
    readonly socket: net.Socket,
  ) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  private get f(): Faults {
    return this.server.faults;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [, s] of this.published) this.server.unpublish(s, this);
    this.published.clear();
    this.server.forget(this);
    this.socket.destroy();
  }

  send(msg: OutgoingMessage): void {
    if (this.closed) return;
    const f = this.f;
    this.socket.write(
      Buffer.concat(
        chunkMessage(msg, { chunkSize: f.outChunkSize ?? 4096, extendedOnType3: f.omitExtendedOnType3 !== true }),
      ),
    );
  }

  private onData(d: Buffer): void {
    if (this.closed) return;
    this.bytesIn += d.length;
    if (this.handshaking) {
      this.handshakeBytes(d);
      return;
    }
    this.chunks(d);
  }

  private handshakeBytes(d: Buffer): void {
    const f = this.f;
    let data = d;
    if (!this.c0c1Seen && data.length >= 1 + HANDSHAKE_SIZE) {
      this.c0c1Seen = true;
      if (f.rejectSimpleHandshake && data.readUInt32BE(5) === 0) return this.close();
      if (f.dropEarlyC2 && data.length > 1 + HANDSHAKE_SIZE) data = data.subarray(0, 1 + HANDSHAKE_SIZE);
    }
    let step: HandshakeStep;
    try {
      step = this.hs.push(data);
    } catch {
      return this.close();
    }
    for (let out of step.output) {
      if (f.unsignedS2 && this.hs.clientScheme !== null)
        out = Buffer.concat([out.subarray(0, 1 + HANDSHAKE_SIZE), Buffer.alloc(HANDSHAKE_SIZE, 7)]);
      this.socket.write(out);
    }
    if (!step.done) return;
    this.handshaking = false;
    if (step.remainder !== null && !f.dropAfterC2) this.chunks(Buffer.from(step.remainder));
  }

  /** The chunk reader, with its faults. */
  private chunks(d: Buffer): void {
    const f = this.f;
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, d]) : d;
    let pos = 0;
    for (;;) {
      if (this.current !== null && this.chunkLeft > 0) {
        const n = Math.min(this.chunkLeft, buf.length - pos);
        buf.copy(this.current.payload!, this.current.received, pos, pos + n);
        this.current.received += n;
        this.chunkLeft -= n;
        pos += n;
        if (this.chunkLeft > 0) break;
        const cs = this.current;
        if (!f.noInterleave || cs.received === cs.length) this.current = null;
        if (cs.received === cs.length) this.message(cs);
        continue;
      }
      if (buf.length - pos < 1) break;
      const start = pos;
      const b0 = buf[pos]!;
      let fmt = b0 >>> 6;
      let csid = b0 & 0x3f;
      let o = pos + 1;
      if (csid === 0) {
        if (buf.length - o < 1) break;
        csid = 64 + buf[o]!;
        o += 1;
      } else if (csid === 1) {
        if (buf.length - o < 2) break;
        csid = 64 + buf[o]! + buf[o + 1]! * 256;
        o += 2;
      }
      if (f.maxCsid !== undefined && csid > f.maxCsid) return this.close();
      if (f.noInterleave && this.current !== null && this.current.received > 0) {
        // Reads the next chunk as the rest of the current message, whatever its header says.
        fmt = 3;
      }
      const size = [11, 7, 3, 0][fmt]!;
      if (buf.length - o < size) {
        pos = start;
        break;
      }
      let cs =
        f.noInterleave && this.current !== null && this.current.received > 0 ? this.current : this.inStreams.get(csid);
      if (cs === undefined) {
        if (fmt !== 0) return this.close();
        cs = {
          fmt: 0,
          field: 0,
          extended: false,
          clock: 0,
          length: 0,
          typeId: 0,
          streamId: 0,
          payload: null,
          received: 0,
        };
        this.inStreams.set(csid, cs);
      }
      if (fmt <= 2) {
        cs.field = (buf[o]! << 16) | (buf[o + 1]! << 8) | buf[o + 2]!;
        cs.extended = cs.field === EXTENDED_TIMESTAMP_MARK;
      }
      // Without Abort handling, a header mid-message does not start a new one: its bytes continue the old.
      const continues = f.ignoreAbort === true && fmt !== 3 && cs.received > 0;
      if (fmt <= 1 && !continues) {
        cs.length = (buf[o + 3]! << 16) | (buf[o + 4]! << 8) | buf[o + 5]!;
        cs.typeId = buf[o + 6]!;
        if (f.maxMessageBytes !== undefined && cs.length > f.maxMessageBytes) return this.close();
      }
      if (fmt === 0) cs.streamId = buf.readUInt32LE(o + 7);
      o += size;
      if (cs.extended) {
        const expect =
          fmt !== 3
            ? true
            : f.readExtendedOnType3 === 'always'
              ? true
              : f.readExtendedOnType3 === 'never'
                ? false
                : null;
        if (buf.length - o < 4) {
          pos = start;
          break;
        }
        const v = buf.readUInt32BE(o);
        if (expect === true || (expect === null && v === cs.field)) {
          if (fmt !== 3) cs.field = v;
          o += 4;
        }
      }
      if (fmt !== 3 && cs.received > 0 && !continues) cs.received = 0;
      if (cs.received === 0) {
        if (fmt === 0) cs.clock = cs.field;
        else if (fmt === 3 && f.fmt3WithoutDelta) {
          // keeps the last message's timestamp
        } else cs.clock = f.deltaAsAbsolute && fmt !== 3 ? cs.field : cs.clock + cs.field;
        cs.payload = Buffer.alloc(cs.length);
      }
      this.current = cs;
      this.chunkLeft = Math.min(this.chunkSize, cs.length - cs.received);
      pos = o;
      if (this.chunkLeft === 0) {
        this.current = null;
        this.message(cs);
      }
    }
    this.pending = Buffer.from(buf.subarray(pos));
    if (this.windowAck > 0 && f.acks !== 'never') {
      const every = f.acks === 'every-4-windows' ? 4 * this.windowAck : this.windowAck;
      if (this.bytesIn - this.ackedAt >= every) {
        this.ackedAt = this.bytesIn;
        this.send(acknowledgementMessage(this.bytesIn));
      }
    }
  }

  private message(cs: InStream): void {
    const payload = cs.payload!;
    cs.payload = null;
    cs.received = 0;
    const f = this.f;
    const m = { typeId: cs.typeId, streamId: cs.streamId, clock: cs.clock, payload };
    switch (m.typeId) {
      case MSG_SET_CHUNK_SIZE: {
        const size = payload.readUInt32BE(0);
        if (f.maxInChunkSize !== undefined && size > f.maxInChunkSize) return this.close();
        if (f.minInChunkSize !== undefined && size < f.minInChunkSize) return this.close();
        if (!f.ignoreSetChunkSize) this.chunkSize = size;
        return;
      }
      case MSG_ABORT:
        if (!f.ignoreAbort) {
          const target = this.inStreams.get(payload.readUInt32BE(0));
          if (target !== undefined) {
            target.received = 0;
            target.payload = null;
          }
        }
        return;
      case MSG_WINDOW_ACK_SIZE:
        this.windowAck = payload.readUInt32BE(0);
        return;
      case MSG_SET_PEER_BANDWIDTH:
        if (f.closeOnPeerBandwidth) this.close();
        return;
      case MSG_USER_CONTROL: {
        const event = payload.readUInt16BE(0);
        if (event === UC_PING_REQUEST && f.ping !== 'ignore')
          this.send(
            pingResponseMessage(f.ping === 'wrong-time' ? payload.readUInt32BE(2) + 1 : payload.readUInt32BE(2)),
          );
        if (event === UC_SET_BUFFER_LENGTH && f.closeOnSetBufferLength0 && payload.readUInt32BE(2) === 0) this.close();
        return;
      }
      case MSG_COMMAND_AMF0:
      case MSG_COMMAND_AMF3:
        return this.command(m.typeId, m.streamId, payload);
      case MSG_VIDEO:
      case MSG_AUDIO:
      case MSG_DATA_AMF0:
      case MSG_DATA_AMF3: {
        const stream = this.published.get(m.streamId);
        if (stream !== undefined && (stream.publishers[0] === this || f.mixPublishers))
          this.server.relay(stream, m.typeId, m.clock, payload);
        return;
      }
      default:
        return;
    }
  }

  private command(typeId: number, streamId: number, payload: Buffer): void {
    const f = this.f;
    if (typeId === MSG_COMMAND_AMF3 && f.ignoreAmf3Commands) return;
    const body = typeId === MSG_COMMAND_AMF3 ? payload.subarray(1) : payload;
    const reader = new Amf0Reader(body);
    const values: AmfValue[] = [];
    while (reader.remaining > 0) {
      if (body[reader.offset] === AMF0_AVMPLUS_OBJECT) {
        if (f.dieOnAvmplus) return this.server.die();
        if (f.closeOnAvmplus) return this.close();
      }
      values.push(reader.readValue());
    }
    if (f.dieOnDate && values.some(hasDate)) return this.server.die();
    if (f.noDates && values.some(hasDate)) return this.close();
    const c = parseCommand(payload, typeId);
    const arg0 = c.args[0];
    switch (c.name) {
      case 'connect': {
        const obj = isAmfObject(c.commandObject) ? c.commandObject : {};
        if (f.rejectFourCcList && 'fourCcList' in obj)
          return this.send(errorCommand(c.transactionId, 'NetConnection.Connect.Rejected', 'no E-RTMP'));
        let enc = typeof obj.objectEncoding === 'number' ? obj.objectEncoding : 0;
        if (enc === 3 && f.objectEncoding === 'close') return this.close();
        if (f.objectEncoding === 'answer-0') enc = 0;
        this.send(windowAckSizeMessage(2_500_000));
        this.send(setChunkSizeMessage(f.outChunkSize ?? 4096));
        return this.send(connectResultCommand(c.transactionId, enc));
      }
      case 'createStream':
        return this.send(createStreamResultCommand(c.transactionId, this.nextStreamId++));
      case 'releaseStream':
        return this.send(resultCommand(c.transactionId, null));
      case 'FCPublish':
        if (f.closeOnFcPublish) this.close();
        return;
      case 'FCUnpublish':
        return;
      case 'publish': {
        const name = f.keepQueryInName ? String(arg0) : String(arg0).split('?')[0]!;
        const stream = this.server.stream(name);
        if (stream.publishers.length > 0 && !f.mixPublishers)
          return this.send(
            onStatusCommand(streamId, { level: 'error', code: 'NetStream.Publish.BadName', description: 'taken' }),
          );
        stream.publishers.push(this);
        this.published.set(streamId, stream);
        this.send(onStatusCommand(streamId, { level: 'status', code: 'NetStream.Publish.Start', description: name }));
        return;
      }
      case 'play': {
        const name = String(arg0);
        const start = typeof c.args[1] === 'number' ? c.args[1] : -2;
        if ((f.playStart === 'live-only' && start >= 0) || (f.playStart === 'refuse-minus-1' && start === -1)) {
          return this.send(
            onStatusCommand(streamId, { level: 'error', code: 'NetStream.Play.StreamNotFound', description: name }),
          );
        }
        const stream = this.server.stream(name);
        if (f.playNeedsPublisher && stream.publishers.length === 0)
          return this.send(
            onStatusCommand(streamId, { level: 'error', code: 'NetStream.Play.StreamNotFound', description: name }),
          );
        this.send(streamBeginMessage(streamId));
        this.send(onStatusCommand(streamId, { level: 'status', code: 'NetStream.Play.Start', description: name }));
        stream.players.push({ session: this, streamId, gotVideo: false, gotAudio: false });
        return;
      }
      case 'deleteStream': {
        if (f.ignoreDeleteStream) return;
        const id = typeof arg0 === 'number' ? arg0 : streamId;
        const s = this.published.get(id);
        if (s !== undefined) {
          this.published.delete(id);
          this.server.unpublish(s, this);
        }
        return;
      }
      default:
        if (!f.ignoreUnknownCommands && c.transactionId > 0)
          this.send(errorCommand(c.transactionId, 'NetConnection.Call.Failed', `no ${c.name}`));
    }
  }
}

export function hasDate(v: AmfValue): boolean {
  if (v instanceof Date) return true;
  if (Array.isArray(v)) return v.some(hasDate);
  if (isAmfObject(v)) return Object.values(v).some(hasDate);
  return false;
}
