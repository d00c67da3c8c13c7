/**
 * Fuzzing the built-in server with real sessions: what ffmpeg sends when it publishes and when
 * it plays is recorded once (a loopback server built from the codec, bench/lib/mini-server.ts),
 * then mutated copies are replayed, each on a connection of its own after a real handshake:
 * bits flipped, bytes set to 0x00 or 0xFF, random 32-bit words written, the stream cut short,
 * a piece of it sent again further on,
 * a few pieces of garbage in the handshake itself. Every copy publishes or plays a stream name
 * of its own, so copies never collide. HTTP requests (HTTP-FLV, HLS, a WebSocket upgrade with
 * frames after it) are mutated the same way. Everything is drawn from a seeded generator: a
 * run with the same seed sends the same bytes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { ClientHandshake } from '../../src/protocol/handshake.js';
import { seededRandom } from '../../src/metrics/robust-slope.js';
import { ROOT } from './env.js';
import { MiniServer } from './mini-server.js';
import { run, testSourceArgs } from './proc.js';

/** The stream name in the recordings; each replay writes a name of the same length over it. */
export const RECORDED_NAME = 'fuzzstream0000000';
const FIXTURES = join(ROOT, 'bench', '.fixtures');

export interface SessionRecordings {
  /** What ffmpeg sent after the handshake when it published 2 s of H.264/AAC. */
  publish: Buffer;
  /** What ffmpeg sent after the handshake when it asked to play. */
  play: Buffer;
}

async function recordFfmpeg(file: string, args: (url: string) => string[], wantsPlay: boolean): Promise<Buffer> {
  const path = join(FIXTURES, file);
  if (existsSync(path)) return readFileSync(path);
  const server = new MiniServer();
  const port = await server.listen();
  const session = server.nextSession();
  const result = await run('ffmpeg', args(`rtmp://127.0.0.1:${port}/live/${RECORDED_NAME}`), 60_000);
  const s = await session;
  await s.closed;
  await server.close();
  const bytes = Buffer.concat(s.chunkStream);
  const named = s.commands.some((c) => c.name === (wantsPlay ? 'play' : 'publish'));
  if (!named || bytes.indexOf(RECORDED_NAME) < 0)
    throw new Error(`recording ffmpeg (${file}) failed: ${result.stderr.slice(-1000)}`);
  mkdirSync(FIXTURES, { recursive: true });
  writeFileSync(path, bytes);
  return bytes;
}

/** ffmpeg's publish and play sessions, recorded once and cached under bench/.fixtures. */
export async function recordSessions(): Promise<SessionRecordings> {
  const publish = await recordFfmpeg(
    'ffmpeg-fuzz-publish-2s.bin',
    (url) => [...testSourceArgs({ seconds: 2, fps: 25, gopSeconds: 1, videoKbps: 300 }), '-f', 'flv', url],
    false,
  );
  // The mini server answers play with an empty stream and closes: ffmpeg's requests are what counts.
  const play = await recordFfmpeg(
    'ffmpeg-fuzz-play.bin',
    (url) => ['-hide_banner', '-loglevel', 'error', '-rw_timeout', '3000000', '-i', url, '-t', '1', '-f', 'null', '-'],
    true,
  );
  return { publish, play };
}

export type Random = () => number;
export { seededRandom };

const int = (random: Random, n: number) => Math.floor(random() * n);

/** A copy of `bytes` with every occurrence of `from` replaced by `to` (same length). */
export function renamed(bytes: Buffer, from: string, to: string): Buffer {
  if (from.length !== to.length) throw new RangeError('the new name must be as long as the recorded one');
  const out = Buffer.from(bytes);
  const needle = Buffer.from(from);
  for (let i = out.indexOf(needle); i >= 0; i = out.indexOf(needle, i + needle.length)) out.write(to, i, 'latin1');
  return out;
}

export const MUTATIONS = [
  'bit-flips',
  'bytes-00',
  'bytes-ff',
  'random-words',
  'truncate',
  'truncate-and-flips',
  'repeat-range',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

/**
 * One mutated copy. Offsets fall in the first `headBytes` (commands, headers: where parsers
 * decide) two times in three, anywhere otherwise.
 */
export function mutate(bytes: Buffer, random: Random, headBytes = 2048): { bytes: Buffer; mutation: Mutation } {
  const mutation = MUTATIONS[int(random, MUTATIONS.length)]!;
  const out = Buffer.from(bytes);
  const offset = () => int(random, random() < 2 / 3 ? Math.min(headBytes, out.length) : out.length);
  const times = 1 + int(random, 8);
  switch (mutation) {
    case 'bit-flips':
      for (let k = 0; k < times; k++) {
        const o = offset();
        out[o] = out[o]! ^ (1 << int(random, 8));
      }
      return { bytes: out, mutation };
    case 'bytes-00':
    case 'bytes-ff':
      for (let k = 0; k < times; k++) out[offset()] = mutation === 'bytes-00' ? 0x00 : 0xff;
      return { bytes: out, mutation };
    case 'random-words':
      for (let k = 0; k < 1 + int(random, 4); k++) {
        const o = Math.min(offset(), out.length - 4);
        if (o >= 0) out.writeUInt32BE(int(random, 2 ** 32), o);
      }
      return { bytes: out, mutation };
    case 'truncate':
      return { bytes: out.subarray(0, offset()), mutation };
    case 'repeat-range': {
      // A piece of the session sent again further on: commands twice, a message header repeated.
      const from = offset();
      const to = Math.min(out.length, from + 1 + int(random, 512));
      const at = from + int(random, out.length - from + 1);
      return { bytes: Buffer.concat([out.subarray(0, at), out.subarray(from, to), out.subarray(at)]), mutation };
    }
    case 'truncate-and-flips': {
      const cut = out.subarray(0, Math.max(1, offset()));
      for (let k = 0; k < times; k++) {
        const o = int(random, cut.length);
        cut[o] = cut[o]! ^ (1 << int(random, 8));
      }
      return { bytes: cut, mutation };
    }
  }
}

export interface ReplayOptions {
  host?: string;
  port: number;
  /** How long to stay after the last byte, waiting for the server to close first (ms). */
  lingerMs?: number;
  /** Bytes to send before `bytes` (a real RTMP handshake when `rtmpHandshake` is set). */
  rtmpHandshake?: { digest: boolean; garbleC1?: boolean } | null;
}

export type ReplayEnd = 'server-closed' | 'client-closed' | 'refused' | 'handshake-failed';

/**
 * Sends `bytes` on a fresh connection, in up to three pieces of random size (so the server's
 * parsers see them split), reading and discarding whatever comes back; resolves with who ended
 * the connection.
 */
export function replay(bytes: Buffer, random: Random, opts: ReplayOptions): Promise<ReplayEnd> {
  const lingerMs = opts.lingerMs ?? 150;
  return new Promise((resolve) => {
    const socket = net.connect({ host: opts.host ?? '127.0.0.1', port: opts.port });
    let settled = false;
    let timer: NodeJS.Timeout | null = null;
    const finish = (end: ReplayEnd) => {
      if (settled) return;
      settled = true;
      if (timer !== null) clearTimeout(timer);
      socket.destroy();
      resolve(end);
    };
    socket.on('error', () => finish(socket.connecting ? 'refused' : 'server-closed'));
    socket.on('close', () => finish('server-closed'));
    socket.on('end', () => finish('server-closed'));
    const sendBody = () => {
      const cuts = [int(random, bytes.length + 1), int(random, bytes.length + 1)].sort((a, b) => a - b);
      const pieces = [bytes.subarray(0, cuts[0]), bytes.subarray(cuts[0], cuts[1]), bytes.subarray(cuts[1])].filter(
        (p) => p.length > 0,
      );
      const next = () => {
        if (settled) return;
        const p = pieces.shift();
        if (p === undefined) {
          timer = setTimeout(() => finish('client-closed'), lingerMs);
          return;
        }
        socket.write(p, () => setImmediate(next));
      };
      next();
    };
    socket.once('connect', () => {
      const hs = opts.rtmpHandshake;
      if (hs === undefined || hs === null) {
        socket.on('data', () => {});
        sendBody();
        return;
      }
      const client = new ClientHandshake({ digest: hs.digest });
      const c0c1 = client.start();
      if (hs.garbleC1 === true) {
        // Garbage in the handshake itself: the rest is never sent.
        const bad = Buffer.from(c0c1);
        for (let k = 0; k < 1 + int(random, 16); k++) bad[int(random, bad.length)] = int(random, 256);
        socket.on('data', () => {});
        socket.write(bad.subarray(0, 1 + int(random, bad.length)));
        timer = setTimeout(() => finish('client-closed'), lingerMs);
        return;
      }
      socket.write(c0c1);
      let done = false;
      socket.on('data', (d: Buffer) => {
        if (done) return;
        try {
          const step = client.push(d);
          for (const out of step.output) socket.write(out);
          if (!step.done) return;
        } catch {
          finish('handshake-failed');
          return;
        }
        done = true;
        sendBody();
      });
    });
  });
}

/** HTTP requests the built-in server answers, as a player sends them; `{name}` is the stream. */
export function httpRequests(port: number): Record<'flv' | 'hls' | 'ws', string> {
  const host = `Host: 127.0.0.1:${port}\r\nUser-Agent: rtmpbench-fuzz\r\nAccept: */*\r\n`;
  return {
    flv: `GET /live/{name}.flv HTTP/1.1\r\n${host}Connection: keep-alive\r\n\r\n`,
    hls: `GET /live/{name}/index.m3u8?token=x HTTP/1.1\r\n${host}\r\nGET /live/{name}/abc-1.ts HTTP/1.1\r\n${host}\r\n`,
    ws: `GET /live/{name}.flv HTTP/1.1\r\n${host}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  };
}

/** Delivery-directive values, good and bad: near, far ahead, behind, malformed. */
const DIRECTIVE_VALUES = ['0', '1', '2', '3', '7', '40', '99999', '-1', 'x', '', '1.5', '1e3', '99999999999999999999'];

/**
 * An LL-HLS player's requests with random delivery directives: a blocking playlist reload
 * (`_HLS_msn`, `_HLS_part`) and a part request, which the server may hold; the client leaves
 * after its linger, often while held.
 */
export function llHlsRequests(port: number, random: Random): string {
  const host = `Host: 127.0.0.1:${port}\r\nUser-Agent: rtmpbench-fuzz\r\nAccept: */*\r\n`;
  const pick = () => DIRECTIVE_VALUES[int(random, DIRECTIVE_VALUES.length)]!;
  const query = random() < 0.8 ? `?_HLS_msn=${pick()}&_HLS_part=${pick()}` : `?_HLS_part=${pick()}`;
  return (
    `GET /live/{name}/index.m3u8${query} HTTP/1.1\r\n${host}\r\n` +
    `GET /live/{name}/abc-${pick()}.${pick()}.ts HTTP/1.1\r\n${host}\r\n`
  );
}

/** Client WebSocket frames (masked): a ping, a text message, a binary one, a close. */
export function webSocketFrames(random: Random): Buffer {
  const frame = (opcode: number, payload: Buffer) => {
    const mask = Buffer.from([int(random, 256), int(random, 256), int(random, 256), int(random, 256)]);
    const head =
      payload.length < 126
        ? Buffer.from([0x80 | opcode, 0x80 | payload.length])
        : Buffer.from([0x80 | opcode, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    const body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ mask[i % 4]!;
    return Buffer.concat([head, mask, body]);
  };
  return Buffer.concat([
    frame(0x9, Buffer.from('ping')),
    frame(0x1, Buffer.from('{"hello":1}')),
    frame(0x2, Buffer.alloc(300, 7)),
    frame(0x8, Buffer.from([0x03, 0xe8])),
  ]);
}

/** Unique names of the recorded name's length: fz + a counter, padded. */
export function fuzzName(prefix: string, i: number): string {
  const digits = String(i);
  return `${prefix}${'0'.repeat(Math.max(0, RECORDED_NAME.length - prefix.length - digits.length))}${digits}`.slice(
    -RECORDED_NAME.length,
  );
}
