import net from 'node:net';
import type { FlvTag } from '../../src/media/flv-file.js';
import { ChunkReader } from '../../src/protocol/chunk-reader.js';
import { ChunkWriter } from '../../src/protocol/chunk-writer.js';
import {
  connectResultCommand,
  createStreamResultCommand,
  onStatusCommand,
  parseCommand,
  resultCommand,
  sampleAccessMessage,
  Status,
  type Command,
} from '../../src/protocol/commands.js';
import {
  CSID_AUDIO,
  CSID_DATA,
  CSID_VIDEO,
  MSG_AUDIO,
  MSG_COMMAND_AMF0,
  MSG_COMMAND_AMF3,
  MSG_VIDEO,
} from '../../src/protocol/constants.js';
import {
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  streamBeginMessage,
  streamEofMessage,
  windowAckSizeMessage,
} from '../../src/protocol/control.js';
import type { RtmpError } from '../../src/protocol/errors.js';
import { ServerHandshake, type DigestScheme } from '../../src/protocol/handshake.js';
import type { OutgoingMessage, RtmpMessage } from '../../src/protocol/message.js';

/**
 * The smallest RTMP server the codec can make: enough session logic for ffmpeg to publish
 * to it (everything received is recorded) or to play from it (a fixed list of tags is sent).
 * It tests the codec against real peers independently of the real server (test/interop), and
 * records real publish byte streams for the codec benchmark.
 */
export class MiniSession {
  clientScheme: DigestScheme | null = null;
  handshakeDone = false;
  /** Bytes received after the handshake, in the pieces the socket delivered. */
  readonly chunkStream: Buffer[] = [];
  readonly messages: RtmpMessage[] = [];
  readonly commands: Command[] = [];
  readonly errors: RtmpError[] = [];
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    private readonly socket: net.Socket,
    private readonly serveTags: readonly FlvTag[],
    private readonly chunkSize: number,
  ) {
    this.closed = new Promise((r) => (this.resolveClosed = r));
    const handshake = new ServerHandshake();
    const writer = new ChunkWriter();
    const reader = new ChunkReader({
      onMessage: (m) => {
        this.messages.push(m);
        if (m.typeId === MSG_COMMAND_AMF0 || m.typeId === MSG_COMMAND_AMF3)
          this.onCommand(parseCommand(m.payload, m.typeId), writer);
      },
      onError: (e) => {
        this.errors.push(e);
        socket.destroy();
      },
    });
    socket.on('data', (data: Buffer) => {
      if (!this.handshakeDone) {
        try {
          const step = handshake.push(data);
          for (const out of step.output) socket.write(out);
          this.clientScheme = handshake.clientScheme;
          if (!step.done) return;
          this.handshakeDone = true;
          if (step.remainder === null) return;
          data = step.remainder;
        } catch (e) {
          this.errors.push(e as RtmpError);
          socket.destroy();
          return;
        }
      }
      this.chunkStream.push(data);
      reader.push(data);
    });
    socket.on('error', () => {});
    socket.on('close', () => this.resolveClosed());
  }

  private send(writer: ChunkWriter, msg: OutgoingMessage): void {
    for (const b of writer.encode(msg).buffers) this.socket.write(b);
  }

  private onCommand(c: Command, writer: ChunkWriter): void {
    this.commands.push(c);
    switch (c.name) {
      case 'connect':
        this.send(writer, windowAckSizeMessage(2_500_000));
        this.send(writer, setPeerBandwidthMessage(2_500_000, 2));
        this.send(writer, setChunkSizeMessage(this.chunkSize));
        writer.setChunkSize(this.chunkSize);
        this.send(writer, connectResultCommand(c.transactionId));
        break;
      case 'createStream':
        this.send(writer, createStreamResultCommand(c.transactionId, 1));
        break;
      case 'releaseStream':
      case 'FCPublish':
      case 'getStreamLength':
        this.send(writer, resultCommand(c.transactionId, null));
        break;
      case 'publish':
        this.send(
          writer,
          onStatusCommand(1, { level: 'status', code: Status.PUBLISH_START, description: 'publishing' }),
        );
        break;
      case 'play':
        this.play(writer);
        break;
      default:
        break;
    }
  }

  private play(writer: ChunkWriter): void {
    this.send(writer, streamBeginMessage(1));
    this.send(writer, onStatusCommand(1, { level: 'status', code: Status.PLAY_RESET, description: 'reset' }));
    this.send(writer, onStatusCommand(1, { level: 'status', code: Status.PLAY_START, description: 'start' }));
    this.send(writer, sampleAccessMessage(1));
    for (const tag of this.serveTags) {
      const csid = tag.typeId === MSG_VIDEO ? CSID_VIDEO : tag.typeId === MSG_AUDIO ? CSID_AUDIO : CSID_DATA;
      this.send(writer, { csid, typeId: tag.typeId, streamId: 1, timestamp: tag.timestamp, payload: tag.payload });
    }
    this.send(writer, streamEofMessage(1));
    this.send(writer, onStatusCommand(1, { level: 'status', code: Status.PLAY_STOP, description: 'stopped' }));
    this.socket.end();
  }
}

export class MiniServer {
  readonly sessions: MiniSession[] = [];
  private readonly server: net.Server;
  private readonly waiting: ((s: MiniSession) => void)[] = [];

  constructor(serveTags: readonly FlvTag[] = [], chunkSize = 4096) {
    this.server = net.createServer((socket) => {
      const s = new MiniSession(socket, serveTags, chunkSize);
      this.sessions.push(s);
      this.waiting.shift()?.(s);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  private handedOut = 0;

  /** The next session not yet returned by this method, once it has connected. */
  nextSession(): Promise<MiniSession> {
    const index = this.handedOut++;
    const existing = this.sessions[index];
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
