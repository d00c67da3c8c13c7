import net from 'node:net';
import { Amf0Reader, encodeAmf0 } from '../../src/protocol/amf0.js';
import { onStatusCommand, rewriteSetDataFrame } from '../../src/protocol/commands.js';
import { MSG_AUDIO, MSG_DATA_AMF0, MSG_DATA_AMF3, MSG_VIDEO } from '../../src/protocol/constants.js';
import { streamEofMessage } from '../../src/protocol/control.js';
import type { Faults } from './scripted-faults.js';
import { hasDate, Session, type SessionHost, type Stream } from './scripted-session.js';

export type { Faults } from './scripted-faults.js';

/**
 * A tiny RTMP relay built from the codec that misbehaves on purpose, one fault at a time: the
 * peer the probes' pass/fail logic is proven against (a probe must not pass a server that has
 * the bug it looks for). With no fault it relays correctly (scripted-session.ts holds a connection's handshake,
 * chunk reader and commands; scripted-faults.ts the faults).
 */

const TWO_POW_32 = 2 ** 32;

export class ScriptedServer implements SessionHost {
  private readonly listener: net.Server;
  private readonly sessions = new Set<Session>();
  private readonly streams = new Map<string, Stream>();
  port = 0;

  constructor(readonly faults: Faults = {}) {
    this.listener = net.createServer((socket) => {
      socket.setNoDelay(true);
      this.sessions.add(new Session(this, socket));
    });
  }

  get url(): string {
    return `rtmp://127.0.0.1:${this.port}/live`;
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.listener.listen(0, '127.0.0.1', () => r()));
    this.port = (this.listener.address() as net.AddressInfo).port;
    return this;
  }

  stream(name: string): Stream {
    let s = this.streams.get(name);
    if (s === undefined) {
      s = { name, publishers: [], players: [], firstTimestamp: null, lastTimestamp: -1 };
      this.streams.set(name, s);
    }
    return s;
  }

  relay(stream: Stream, typeId: number, clock: number, payload: Buffer): void {
    const f = this.faults;
    if (f.dropPast2pow32 && clock >= TWO_POW_32) return;
    const ts = clock % TWO_POW_32;
    if (f.dropBackwards && (typeId === MSG_VIDEO || typeId === MSG_AUDIO) && ts < stream.lastTimestamp) return;
    if (typeId === MSG_VIDEO || typeId === MSG_AUDIO) stream.lastTimestamp = ts;
    stream.firstTimestamp ??= ts;
    let out = payload;
    if (typeId === MSG_DATA_AMF3) {
      if (f.dropAmf3Data) return;
      typeId = MSG_DATA_AMF0;
      out = out.subarray(1);
    }
    if (typeId === MSG_DATA_AMF0) {
      const values = (() => {
        try {
          return new Amf0Reader(out).readAll();
        } catch {
          return [];
        }
      })();
      if (f.metadata === 'drop' || (f.noDates && values.some(hasDate))) return;
      if (f.metadata === 'rewrite' && values[0] === '@setDataFrame')
        out = encodeAmf0('onMetaData', { width: 640, height: 360, server: 'scripted' });
      else if (f.metadata !== 'keep-set-data-frame') out = rewriteSetDataFrame(out);
    }
    if (typeId === MSG_VIDEO && f.dropEnhancedVideo !== undefined && (out[0]! & 0x80) !== 0) {
      const packetType = out[0]! & 0x0f;
      if (
        f.dropEnhancedVideo === 'all' ||
        (f.dropEnhancedVideo === 'multitrack' && packetType === 6) ||
        (f.dropEnhancedVideo === 'modex' && packetType === 7)
      )
        return;
    }
    if (f.corruptMedia && (typeId === MSG_VIDEO || typeId === MSG_AUDIO) && out.length > 1000) {
      out = Buffer.from(out);
      out[out.length - 1] = out[out.length - 1]! ^ 0xff;
    }
    const timestamp = f.rebase ? ts - stream.firstTimestamp : ts;
    for (const p of stream.players) {
      if (typeId === MSG_AUDIO) {
        if (f.audioWaitsForVideo && !p.gotVideo) continue;
        p.gotAudio = true;
      }
      if (typeId === MSG_VIDEO) {
        if (f.videoWaitsForAudio && !p.gotAudio) continue;
        if (out[0]! >>> 4 === 1) p.gotVideo = true;
      }
      p.session.send({
        csid: typeId === MSG_AUDIO ? 4 : typeId === MSG_VIDEO ? 6 : 5,
        typeId,
        streamId: p.streamId,
        timestamp,
        payload: out,
      });
    }
  }

  unpublish(stream: Stream, session: Session): void {
    stream.publishers = stream.publishers.filter((p) => p !== session);
    if (stream.publishers.length > 0) return;
    stream.firstTimestamp = null;
    stream.lastTimestamp = -1;
    if (this.faults.dropPlayersOnUnpublish) {
      stream.players = [];
      return;
    }
    if (this.faults.silentUnpublish) return;
    for (const p of stream.players) {
      p.session.send(streamEofMessage(p.streamId));
      p.session.send(
        onStatusCommand(p.streamId, {
          level: 'status',
          code: 'NetStream.Play.UnpublishNotify',
          description: stream.name,
        }),
      );
    }
  }

  forget(session: Session): void {
    this.sessions.delete(session);
    for (const s of this.streams.values()) s.players = s.players.filter((p) => p.session !== session);
  }

  /** Stops answering at once: every connection and the listener close (a crashed server). */
  die(): void {
    this.listener.close();
    for (const s of [...this.sessions]) s.close();
  }

  async close(): Promise<void> {
    for (const s of [...this.sessions]) s.close();
    await new Promise((r) => this.listener.close(r));
  }
}

/** A scripted server on a free loopback port. */
export function scriptedServer(faults: Faults = {}): Promise<ScriptedServer> {
  return new ScriptedServer(faults).listen();
}

/** A server that accepts connections and never answers a byte (sockets tracked, closed by `close`). */
export async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  return {
    url: `rtmp://127.0.0.1:${port}/live`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
}
