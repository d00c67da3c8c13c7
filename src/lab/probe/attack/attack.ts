import net from 'node:net';
import { once } from 'node:events';
import { round2 } from '../../../metrics/round.js';
import type { AttackFigures, AttackResponse, AttackStop, ProbeEvidence } from '../../../results/probe.js';
import type { ProbeConnection, ProbeTarget } from '../connection.js';
import type { ProbeContext, ProbeVerdict } from '../context.js';
import { ProbeError, why } from '../errors.js';
import { HealthyStream } from './healthy-stream.js';
import { ServerWatch } from './server-watch.js';

/**
 * One attack on the server, bounded: it opens at most `plan.connections` connections, sends at
 * most `plan.bytes` bytes on them, runs at most the settings' time, and stops as soon as the
 * server's RSS grew past the settings' bound. Beside it, a healthy publisher and viewer; before
 * and halfway through it, a fresh connection's handshake and connect are timed. When it ends,
 * its connections close, and the figures (ATTACK_FIGURES) and the verdict are the same for every
 * attack: fail when the server's RSS passed the bound, when the healthy viewer lost a frame or
 * its connection; else pass, saying what the server did (ATTACK_RESPONSES).
 */

export interface AttackPlan {
  /** Most connections the attack opens (no more than the settings' connections). */
  connections: number;
  /** Most bytes the attack's connections send. */
  bytes: number;
  /** Video frame size of the healthy stream (default 1500 bytes). */
  frameBytes?: number;
  /**
   * Set-up once the healthy stream plays, before the attack's clock starts (what the attack
   * needs to know of the stream, e.g. an LL-HLS playlist's next part).
   */
  prepare?: (streamName: string) => Promise<void>;
}

/** How often a waiting attack looks at its bounds. */
const CHECK_MS = 25;
/** What one write of a bulk send hands the socket before waiting for it to drain. */
const SLICE_BYTES = 256 * 1024;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A raw socket of an attack (HTTP requests, bytes that are not RTMP), and whether the server closed it. */
interface RawPeer {
  socket: net.Socket;
  closedByServer: boolean;
  ours: boolean;
}

export class Attack {
  readonly conns: ProbeConnection[] = [];
  private readonly raws: RawPeer[] = [];
  /** Connection attempts that failed or timed out (dial, handshake, connect). */
  refused = 0;
  bytes = 0;
  /** What stopped the attack (its time, its bytes, the server's RSS), or null while it runs. */
  stoppedBy: Exclude<AttackStop, 'connections'> | null = null;
  /** It opened every connection its plan allows. */
  private full = false;
  private readonly startedAt = performance.now();
  private readonly endsAt: number;
  private endedAt: number | null = null;

  constructor(
    readonly ctx: ProbeContext,
    readonly plan: AttackPlan,
    private readonly watch: ServerWatch | null,
    /** The stream the healthy publisher sends (attacks that play it). */
    readonly healthyName: string,
  ) {
    this.endsAt = this.startedAt + ctx.attack.durationMs;
  }

  /** Whether the attack must stop: its time ran out, or it reached a bound. */
  get stopped(): boolean {
    if (this.stoppedBy !== null) return true;
    if (this.watch?.overBound) this.stoppedBy = 'rss';
    else if (this.ctx.over || performance.now() >= this.endsAt) this.stoppedBy = 'time';
    return this.stoppedBy !== null;
  }

  get opened(): number {
    return this.conns.length + this.raws.length;
  }

  /**
   * Room for one more connection. At its connection bound the attack opens no more, and the
   * connections it has go on (until its time, its bytes or the server's RSS stop it).
   */
  private room(): boolean {
    if (this.stopped) return false;
    if (this.opened < this.plan.connections) return true;
    this.full = true;
    return false;
  }

  /** Why the attack ended: what stopped it, else its connection bound when it reached it, else its time. */
  get stop(): AttackStop {
    if (this.stoppedBy === 'rss' || this.stoppedBy === 'bytes') return this.stoppedBy;
    return this.full || this.opened >= this.plan.connections ? 'connections' : 'time';
  }

  /** A new connection to the target (or `target`), counted and bounded; null when the attack stopped. */
  async dial(target?: ProbeTarget): Promise<ProbeConnection | null> {
    if (!this.room()) return null;
    let conn: ProbeConnection;
    try {
      conn = await this.ctx.dial(target);
    } catch {
      this.refused++;
      return null;
    }
    const own = conn.onWrite;
    conn.onWrite = (n) => {
      if (this.bytes + n > this.plan.bytes) {
        this.stoppedBy ??= 'bytes';
        throw new ProbeError('RTMP_ERR_PROBE_STEP', `the attack reached its bound of ${this.plan.bytes} bytes`);
      }
      own?.(n);
      this.bytes += n;
    };
    this.conns.push(conn);
    return conn;
  }

  /** A connection after the handshake and (unless `connect` is false) connect; null when stopped or refused. */
  async open(opts: { connect?: boolean; target?: ProbeTarget } = {}): Promise<ProbeConnection | null> {
    const conn = await this.dial(opts.target);
    if (conn === null) return null;
    try {
      await conn.handshake(this.ctx.waitMs);
      if (opts.connect !== false) await conn.connect(this.ctx.waitMs);
      return conn;
    } catch {
      if (!conn.closed && !this.stopped) this.refused++;
      return null;
    }
  }

  /** A raw TCP connection to `host:port`, counted and bounded; null when the attack stopped or it failed. */
  async dialRaw(host: string, port: number): Promise<net.Socket | null> {
    if (!this.room()) return null;
    const socket = net.connect({ host, port });
    const peer: RawPeer = { socket, closedByServer: false, ours: false };
    this.raws.push(peer);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (!peer.ours) peer.closedByServer = true;
    });
    const timer = setTimeout(() => socket.destroy(), this.ctx.waitMs);
    try {
      await once(socket, 'connect');
      return socket;
    } catch {
      this.refused++;
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes on a raw socket within the byte bound; false when the bound stops it. */
  writeRaw(socket: net.Socket, data: Buffer | string): boolean {
    const n = Buffer.byteLength(data);
    if (this.bytes + n > this.plan.bytes) {
      this.stoppedBy ??= 'bytes';
      return false;
    }
    if (socket.destroyed) return false;
    this.bytes += n;
    socket.write(data);
    return true;
  }

  /**
   * Sends `data` on a connection in slices, waiting for each to drain, until all is sent, the
   * connection closes or the attack stops. Resolves with the bytes sent.
   */
  async sendBulk(conn: ProbeConnection, data: Buffer): Promise<number> {
    let at = 0;
    while (at < data.length && !conn.closed && !this.stopped) {
      const slice = data.subarray(at, at + SLICE_BYTES);
      try {
        conn.write(slice);
      } catch {
        return at;
      }
      at += slice.length;
      if (conn.socket.writableNeedDrain) await this.drained(conn.socket);
    }
    return at;
  }

  /** Waits until the socket drains, closes, or the attack stops. */
  async drained(socket: net.Socket): Promise<void> {
    while (socket.writableNeedDrain && !socket.destroyed && !this.stopped)
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        const timer = setTimeout(done, CHECK_MS);
        socket.once('drain', done);
        socket.once('close', done);
      });
  }

  /** Runs `step` `n` times, `parallel` at once, until the attack stops; a step that throws is counted as refused. */
  async each(n: number, parallel: number, step: (i: number) => Promise<void>): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < n && !this.stopped) {
        const i = next++;
        try {
          await step(i);
        } catch {
          if (!this.stopped) this.refused++;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, n)) }, lane));
  }

  /** Waits until the attack stops (its time, or a bound). */
  async hold(): Promise<void> {
    while (!this.stopped) await sleep(CHECK_MS);
  }

  /** Ends the attack: counts what the server closed, then closes every connection of the attack. */
  end(): { closedByServer: number; attackMs: number } {
    this.endedAt ??= performance.now();
    let closed = 0;
    for (const c of this.conns) if (c.closed && c.closedBy !== 'closed by the probe') closed++;
    for (const r of this.raws) if (r.closedByServer) closed++;
    for (const c of this.conns) c.destroy();
    for (const r of this.raws) {
      r.ours = !r.closedByServer;
      r.socket.destroy();
    }
    return { closedByServer: closed, attackMs: Math.round(this.endedAt - this.startedAt) };
  }
}

/** A fresh handshake and connect, timed (ms, one decimal); null when it did not complete. */
async function connectMs(ctx: ProbeContext): Promise<number | null> {
  const t0 = performance.now();
  try {
    const c = await ctx.open();
    const ms = round2(performance.now() - t0);
    c.destroy();
    return ms;
  } catch {
    return null;
  }
}

const MB = 1024 * 1024;
const mb = (bytes: number) => `${round2(bytes / MB)} MB`;

function responseOf(
  opened: number,
  closed: number,
  refused: number,
  before: number | null,
  during: number | null,
): AttackResponse {
  if (opened > 0 && closed >= 0.9 * opened) return 'closed';
  if (refused > 0) return 'refused';
  if (before !== null && (during === null || (during > 5 * before && during - before > 250))) return 'slowed';
  return 'kept';
}

const RESPONSE_TEXT: Record<AttackResponse, string> = {
  closed: 'the server closed the attacking connections',
  refused: 'the server refused connections during the attack',
  slowed: 'the server kept the attacking connections and slowed down',
  kept: 'the server kept the attacking connections and answered as before',
};

/**
 * Runs an attack beside a healthy stream and judges it. `body` makes the attack (it ends when
 * the attack stopped, or earlier) and may return a fact of its own for the detail line.
 */
export async function runAttack(
  ctx: ProbeContext,
  plan: AttackPlan,
  body: (a: Attack) => Promise<string | undefined>,
): Promise<ProbeVerdict> {
  const s = ctx.attack;
  const bounded: AttackPlan = { ...plan, connections: Math.min(plan.connections, s.connections) };
  const healthy = await HealthyStream.start(ctx, plan.frameBytes);
  await plan.prepare?.(healthy.name);
  const before = await connectMs(ctx);
  // The server's side of that connection closes before the descriptors are counted.
  await sleep(50);
  const watch = s.server !== null ? new ServerWatch(s.server, s.rssBoundBytes) : null;
  const watching = watch?.start() === true;
  const a = new Attack(ctx, bounded, watching ? watch : null, healthy.name);
  const during = sleep(s.durationMs / 2).then(() => (a.stopped ? undefined : connectMs(ctx)));
  let fact: string | undefined;
  try {
    fact = await body(a);
  } catch (e) {
    // A step of the attack that the server did not answer (a refused publisher...) ends it early.
    fact = `the attack ended early: ${why(e)}`;
  }
  await a.hold();
  const duringMs = await during;
  watch?.stop();
  const { closedByServer, attackMs } = a.end();
  const settled = sleep(s.settleMs);
  const viewer = await healthy.stop(ctx.waitMs);
  await settled;
  const figures: AttackFigures = {
    attackConnections: a.opened,
    attackBytes: a.bytes,
    attackMs,
    closedByServer,
    refusedConnections: a.refused,
    ...(before !== null ? { connectMsBefore: before } : {}),
    ...(typeof duringMs === 'number' ? { connectMsDuring: duringMs } : {}),
    ...(watching ? watch!.figures() : {}),
    viewerFramesSent: viewer.sent,
    viewerFramesLost: viewer.lost,
  };
  const response = responseOf(a.opened, closedByServer, a.refused, before, duringMs === undefined ? before : duringMs);
  const evidence: ProbeEvidence = ctx.evidence;
  Object.assign(evidence, figures);
  evidence.response = response;
  evidence.stoppedBy = a.stop;
  if (!watching)
    evidence.rss =
      s.server === null ? "not watched (the server's process is unknown)" : 'its process could not be read';
  const what = `${a.opened} connection${a.opened === 1 ? '' : 's'}, ${mb(a.bytes)} sent in ${round2(attackMs / 1000)} s${fact ? `; ${fact}` : ''}`;
  if (a.stoppedBy === 'rss')
    return {
      result: 'fail',
      detail:
        `the server's RSS grew past the bound of ${mb(s.rssBoundBytes)} (+${mb(figures.rssPeakGrowthBytes ?? 0)}) ` +
        `after ${what}; the attack stopped there`,
    };
  if (viewer.viewerClosed !== null)
    return { result: 'fail', detail: `the healthy viewer's connection ended (${viewer.viewerClosed}) under ${what}` };
  if (viewer.lost > 0)
    return {
      result: 'fail',
      detail: `the healthy viewer lost ${viewer.lost} of ${viewer.sent} frames under ${what} (${response})`,
    };
  const rss = watching ? `, RSS +${mb(figures.rssPeakGrowthBytes ?? 0)} at most` : '';
  return {
    result: 'pass',
    detail: `${RESPONSE_TEXT[response]} (${what}${rss}); the healthy viewer got all ${viewer.sent} frames`,
  };
}
