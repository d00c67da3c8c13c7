/**
 * The physical floor of fan-out: a relay that writes each read of the publisher, byte for
 * byte, to every viewer socket. Nothing on that path knows RTMP: no parsing, no encoding, no
 * queues, no policy. What it costs is what any Node process must pay to move the same bytes
 * to the same sockets, so the built-in server's CPU divided by this relay's says how much of
 * the fan-out cost is ours and how much is the kernel's and Node's.
 *
 *   node dist/bench/floor-relay.js --port 1935 [--host 127.0.0.1] [--writes raw|node]
 *
 * `--writes raw` (default) writes to each socket's handle directly, as the built-in server
 * does (src/server/socket-writer.ts); `node` goes through `socket.write()`.
 *
 * Sessions are set up with just enough RTMP for rtmpbench's Publisher and Player (handshake,
 * connect, createStream, publish or play). For viewers to read the publisher's bytes as they
 * are, its messages must stand alone: every chunk header fmt 0 or 3, one message after the
 * other, the chunk size it announced — what bench/lib/fmt0-publisher.ts sends. A viewer joins
 * at the next read that starts on a message boundary (the one thing the relay follows, once
 * per read, not per viewer). It prints `listening rtmp://HOST:PORT` when ready and stops on
 * SIGINT/SIGTERM.
 */
import net from 'node:net';
import { ChunkReader } from '../src/protocol/chunk-reader.js';
import { ChunkWriter } from '../src/protocol/chunk-writer.js';
import {
  connectResultCommand,
  createStreamResultCommand,
  onStatusCommand,
  parseCommand,
  resultCommand,
  Status,
} from '../src/protocol/commands.js';
import { MSG_COMMAND_AMF0, MSG_COMMAND_AMF3, MSG_SET_CHUNK_SIZE } from '../src/protocol/constants.js';
import { setChunkSizeMessage, streamBeginMessage } from '../src/protocol/control.js';
import { type HandshakeStep, ServerHandshake } from '../src/protocol/handshake.js';
import type { OutgoingMessage } from '../src/protocol/message.js';
import { SocketWriter, WriteResult } from '../src/server/socket-writer.js';
import { argValue } from './lib/env.js';

const STREAM_ID = 1;

/**
 * Follows where messages begin in a stream of fmt-0 messages (each a fmt-0 chunk and its fmt-3
 * continuations, not interleaved), so a joiner can start at a message boundary.
 */
class BoundaryTracker {
  /** Bytes of the current message still to come (chunk headers included); 0 at a boundary. */
  private remaining = 0;
  /** Header bytes seen of a message header split across reads. */
  private readonly header = Buffer.alloc(16);
  private headerBytes = 0;

  constructor(private chunkSize: number) {}

  setChunkSize(size: number): void {
    this.chunkSize = size;
  }

  get atBoundary(): boolean {
    return this.remaining === 0 && this.headerBytes === 0;
  }

  push(data: Buffer): void {
    let o = 0;
    while (o < data.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, data.length - o);
        this.remaining -= n;
        o += n;
        continue;
      }
      // A message header: basic header (fmt 0, one byte), 11 bytes, extended timestamp maybe.
      this.header[this.headerBytes++] = data[o++]!;
      if (this.headerBytes === 1 && this.header[0]! >> 6 !== 0)
        throw new Error('floor relay: the publisher must send fmt-0 message headers (bench/lib/fmt0-publisher.ts)');
      if (this.headerBytes < 12) continue;
      const extended = this.header.readUIntBE(1, 3) === 0xffffff;
      if (extended && this.headerBytes < 16) continue;
      const length = this.header.readUIntBE(4, 3);
      const chunks = Math.max(1, Math.ceil(length / this.chunkSize));
      this.remaining = length + (chunks - 1) * (extended ? 5 : 1);
      this.headerBytes = 0;
    }
  }
}

interface Viewer {
  socket: net.Socket;
  writer: SocketWriter | null;
  active: boolean;
}

class FloorRelay {
  private readonly viewers: Viewer[] = [];
  private joining: Viewer[] = [];
  private tracker: BoundaryTracker | null = null;
  private publisherChunkSize = 128;
  private readonly raw: boolean;
  private readonly server: net.Server;

  constructor(raw: boolean) {
    this.raw = raw;
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve) =>
      this.server.listen(port, host, () => resolve((this.server.address() as net.AddressInfo).port)),
    );
  }

  close(): void {
    for (const v of this.viewers) v.socket.destroy();
    this.server.close();
  }

  private accept(socket: net.Socket): void {
    socket.on('error', () => {});
    const handshake = new ServerHandshake();
    const writer = new ChunkWriter();
    const send = (m: OutgoingMessage) => {
      for (const b of writer.encode(m).buffers) socket.write(b);
    };
    let role: 'none' | 'publisher' | 'viewer' = 'none';
    const reader = new ChunkReader({
      onMessage: (m) => {
        if (m.typeId === MSG_SET_CHUNK_SIZE) this.publisherChunkSize = m.payload.readUInt32BE(0) & 0x7fffffff;
        if (m.typeId !== MSG_COMMAND_AMF0 && m.typeId !== MSG_COMMAND_AMF3) return;
        const c = parseCommand(m.payload, m.typeId);
        if (c.name === 'connect') send(connectResultCommand(c.transactionId));
        else if (c.name === 'createStream') send(createStreamResultCommand(c.transactionId, STREAM_ID));
        else if (c.name === 'releaseStream' || c.name === 'FCPublish') send(resultCommand(c.transactionId, null));
        else if (c.name === 'publish') {
          role = 'publisher';
          send(onStatusCommand(STREAM_ID, { level: 'status', code: Status.PUBLISH_START, description: 'publishing' }));
          this.tracker = new BoundaryTracker(this.publisherChunkSize);
        } else if (c.name === 'play') {
          role = 'viewer';
          send(setChunkSizeMessage(this.publisherChunkSize));
          send(streamBeginMessage(STREAM_ID));
          send(onStatusCommand(STREAM_ID, { level: 'status', code: Status.PLAY_START, description: 'playing' }));
          this.joining.push({
            socket,
            writer: this.raw ? new SocketWriter(socket, { onComplete: () => {} }) : null,
            active: false,
          });
        }
      },
      onError: () => socket.destroy(),
    });
    let open = false;
    socket.on('data', (data: Buffer) => {
      if (role === 'publisher') {
        this.relay(data);
        return;
      }
      if (role === 'viewer') return; // acknowledgements and pings: not needed here
      if (!open) {
        let step: HandshakeStep;
        try {
          step = handshake.push(data);
        } catch {
          socket.destroy(); // not an RTMP peer (a port probe, say)
          return;
        }
        for (const out of step.output) socket.write(out);
        if (!step.done) return;
        open = true;
        if (step.remainder === null) return;
        data = step.remainder;
      }
      reader.push(data);
    });
    socket.on('close', () => {
      const i = this.viewers.findIndex((v) => v.socket === socket);
      if (i >= 0) this.viewers.splice(i, 1);
      this.joining = this.joining.filter((v) => v.socket !== socket);
    });
  }

  /** The hot path: one read of the publisher, to every viewer. */
  private relay(data: Buffer): void {
    const tracker = this.tracker!;
    if (this.joining.length > 0 && tracker.atBoundary) {
      for (const v of this.joining) this.viewers.push(v);
      this.joining = [];
    }
    tracker.push(data);
    const viewers = this.viewers;
    if (this.raw) {
      for (let i = 0; i < viewers.length; i++) {
        // A pending write keeps `data` alive through the request; nothing else to track here.
        if (viewers[i]!.writer!.write(data) === WriteResult.FAILED) viewers[i]!.socket.destroy();
      }
    } else {
      for (let i = 0; i < viewers.length; i++) viewers[i]!.socket.write(data);
    }
  }
}

const relay = new FloorRelay((argValue('writes') ?? 'raw') === 'raw');
const host = argValue('host') ?? '127.0.0.1';
const port = await relay.listen(host, Number(argValue('port') ?? 1935));
console.log(`listening rtmp://${host}:${port}`);
const stop = () => {
  relay.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
