import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent, request } from 'undici';
import { ClockOffsetEstimator, type ClockOffset } from '../metrics/clock-offset.js';
import { performance } from 'node:perf_hooks';
import { monotonicUs } from '../media/timing-mark.js';
import type { ShareClockFigures } from '../results/share.js';
import { RunError } from './errors.js';

/**
 * A distributed run's meeting point: one share (or a process of its own) serves the run's
 * reference clock and a rendezvous; every share, that one included, talks to it over HTTP.
 *
 *   GET  /clock                 {monoUs, wallUs}: the reference host's clocks, read while answering
 *   POST /join   {share}        registers a share: refused (409) if it is of another run or scenario,
 *                               or its index is taken by a share of another host
 *   GET  /start                 202 {joined, count} until every share has joined; then 200
 *                               {startAtRefUs}: the common start on the reference monotonic clock
 *
 * The start is fixed when the last share joins: a lead later, so every share has its clock
 * offset and its workers ready; with `--start-at` it is that moment instead (and a run whose
 * shares were not all there by then fails, rather than starting stale). Each share converts
 * the start to its own clock with its measured offset.
 */

/** How often a share asks again for a coordinator it cannot reach yet. */
const JOIN_RETRY_MS = 500;

/** What a share says of itself when it joins (a share given no run id takes the coordinator's). */
export interface ShareJoin {
  runId: string | null;
  index: number;
  count: number;
  scenarioHash: string;
  host: string;
}

export interface CoordinatorOptions {
  runId: string;
  count: number;
  /** The start as a wall-clock time of the reference host (ms since the epoch), from --start-at. */
  startAtWallMs?: number;
  /** How long after the last share joins the run starts (no --start-at). */
  leadMs?: number;
}

const DEFAULT_LEAD_MS = 3000;

/** This host's wall clock, µs since the epoch (the same source as Date, finer). */
export function wallClockUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
const MAX_BODY_BYTES = 4096;

/** Serves the reference clock and the rendezvous. */
export class Coordinator {
  private readonly server: Server;
  private readonly joined = new Map<number, ShareJoin>();
  private startAtRefUs: number | null = null;
  /** Set when the start passed before every share joined. */
  private stale: string | null = null;
  private readonly plannedRefUs: number | null;
  /** The scenario every share must run: the first share's. */
  private scenarioHash: string | null = null;
  private lastRequestUs = monotonicUs();

  constructor(private readonly opts: CoordinatorOptions) {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    this.plannedRefUs =
      opts.startAtWallMs !== undefined ? monotonicUs() + (opts.startAtWallMs * 1000 - wallClockUs()) : null;
  }

  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const a = this.server.address();
        resolve(typeof a === 'object' && a !== null ? a.port : port);
      });
    });
  }

  /** Resolves once the run has started and no share has asked anything for `quietMs`. */
  idle(quietMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setInterval(() => {
        if (
          (this.startAtRefUs !== null || this.stale !== null) &&
          monotonicUs() - this.lastRequestUs > quietMs * 1000
        ) {
          clearInterval(timer);
          resolve();
        }
      }, 250);
      // The listening server keeps the process alive while it is wanted; this check never does.
      timer.unref();
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.lastRequestUs = monotonicUs();
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/clock') {
      json(200, { monoUs: monotonicUs(), wallUs: wallClockUs() });
      return;
    }
    if (req.method === 'GET' && req.url === '/start') {
      if (this.stale !== null) json(410, { error: this.stale });
      else if (this.startAtRefUs === null) json(202, { joined: this.joined.size, count: this.opts.count });
      else json(200, { startAtRefUs: this.startAtRefUs });
      return;
    }
    if (req.method === 'POST' && req.url === '/join') {
      readBody(req)
        .then((text) => {
          const problem = this.join(text);
          json(
            problem === null ? 200 : 409,
            problem === null
              ? { runId: this.opts.runId, joined: this.joined.size, count: this.opts.count }
              : { error: problem },
          );
        })
        .catch((e: Error) => json(400, { error: e.message }));
      return;
    }
    json(404, { error: 'GET /clock, POST /join, GET /start' });
  }

  /** Registers a share; what is wrong with it, or null. */
  private join(text: string): string | null {
    let s: ShareJoin;
    try {
      s = JSON.parse(text) as ShareJoin;
    } catch {
      return 'the join is not JSON';
    }
    const o = this.opts;
    if (s.runId !== null && s.runId !== o.runId) return `share of run ${String(s.runId)}, not of this run (${o.runId})`;
    if (typeof s.scenarioHash !== 'string' || s.scenarioHash === '') return `share ${s.index} says no scenario hash`;
    if (this.scenarioHash !== null && s.scenarioHash !== this.scenarioHash) {
      return `share ${s.index} runs another scenario (its hash ${s.scenarioHash.slice(0, 12)}, the run's ${this.scenarioHash.slice(0, 12)})`;
    }
    if (s.count !== o.count || !Number.isInteger(s.index) || s.index < 0 || s.index >= o.count)
      return `share ${s.index}/${s.count} does not fit a run of ${o.count} shares`;
    const earlier = this.joined.get(s.index);
    if (earlier !== undefined && earlier.host !== s.host)
      return `share ${s.index} has joined already from ${earlier.host}`;
    this.scenarioHash ??= s.scenarioHash;
    this.joined.set(s.index, { ...s, runId: o.runId });
    if (this.joined.size === o.count && this.startAtRefUs === null) this.fixStart();
    return null;
  }

  private fixStart(): void {
    const now = monotonicUs();
    if (this.plannedRefUs === null) {
      this.startAtRefUs = now + (this.opts.leadMs ?? DEFAULT_LEAD_MS) * 1000;
    } else if (this.plannedRefUs <= now) {
      this.stale = `the start (--start-at) passed ${((now - this.plannedRefUs) / 1e6).toFixed(1)} s before the last of ${this.opts.count} shares joined`;
    } else {
      this.startAtRefUs = this.plannedRefUs;
    }
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('the body is too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const EXCHANGES_AT_JOIN = 16;
const EXCHANGE_EVERY_MS = 1000;

/**
 * A share's side: joins, keeps exchanging with the reference clock (a burst at the start, then
 * one a second), and says the offset to add to this host's monotonic clock to read the
 * reference's, with its bound.
 */
export class CoordinatorClient {
  private readonly agent = new Agent({ connections: 1, keepAliveTimeout: 60_000 });
  private readonly mono = new ClockOffsetEstimator();
  private readonly wall = new ClockOffsetEstimator();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly url: string) {}

  /**
   * Joins the run; returns its id (the coordinator's, when the share was given none). A
   * coordinator not reachable yet (its machine or container still starting, its name not in DNS
   * yet) is asked again every half second for `waitMs`: shares may start in any order.
   */
  async join(share: ShareJoin, waitMs = 0): Promise<string> {
    const until = Date.now() + waitMs;
    let res: { status: number; body: unknown };
    for (;;) {
      try {
        res = await this.call('POST', '/join', JSON.stringify(share));
        break;
      } catch (e) {
        if (Date.now() + JOIN_RETRY_MS > until) throw e;
        await new Promise((r) => setTimeout(r, JOIN_RETRY_MS));
      }
    }
    if (res.status !== 200) throw new RunError(`the coordinator ${this.url} refused this share: ${errorOf(res.body)}`);
    for (let i = 0; i < EXCHANGES_AT_JOIN; i++) await this.exchange();
    return (res.body as { runId: string }).runId;
  }

  /** Waits for every share, then returns the common start on this host's monotonic clock. */
  async waitForStart(timeoutMs: number): Promise<number> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const res = await this.call('GET', '/start');
      if (res.status === 200) {
        const start = (res.body as { startAtRefUs: number }).startAtRefUs;
        return start - this.offset().offsetUs;
      }
      if (res.status !== 202) throw new RunError(`the run cannot start: ${errorOf(res.body)}`);
      const b = res.body as { joined: number; count: number };
      if (Date.now() > until)
        throw new RunError(`only ${b.joined} of ${b.count} shares joined within ${Math.round(timeoutMs / 1000)} s`);
      await this.exchange();
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Keeps measuring while the run goes on. */
  keepExchanging(): void {
    this.timer = setInterval(() => void this.exchange().catch(() => undefined), EXCHANGE_EVERY_MS);
    this.timer.unref();
  }

  /** Reference monotonic − ours, µs, now (or at `atUs` on our clock). */
  offset(atUs?: number): ClockOffset {
    const o = this.mono.estimate(atUs);
    if (o === null) throw new RunError('no clock exchange with the coordinator succeeded');
    return o;
  }

  /** The clock figures a share records (whether marks were corrected is the share's to say). */
  figures(): Omit<ShareClockFigures, 'corrected'> {
    const m = this.offset();
    const w = this.wall.estimate()!;
    return {
      monoOffsetUs: m.offsetUs,
      monoBoundUs: m.boundUs,
      wallOffsetUs: w.offsetUs,
      wallBoundUs: w.boundUs,
      driftPpm: m.driftPpm,
      minRttUs: m.minRttUs,
      exchanges: this.mono.count,
    };
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    await this.agent.close();
  }

  private async exchange(): Promise<void> {
    const sentMono = monotonicUs();
    const sentWall = wallClockUs();
    const res = await this.call('GET', '/clock');
    const receivedMono = monotonicUs();
    const receivedWall = wallClockUs();
    if (res.status !== 200) return;
    const r = res.body as { monoUs: number; wallUs: number };
    this.mono.add({ sentUs: sentMono, receivedUs: receivedMono, remoteUs: r.monoUs });
    this.wall.add({ sentUs: sentWall, receivedUs: receivedWall, remoteUs: r.wallUs });
  }

  private async call(method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; body: unknown }> {
    try {
      const res = await request(new URL(path, this.url), {
        method,
        dispatcher: this.agent,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
        ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}),
      });
      const text = await res.body.text();
      return { status: res.statusCode, body: text === '' ? null : (JSON.parse(text) as unknown) };
    } catch (e) {
      throw new RunError(`cannot reach the coordinator ${this.url}: ${(e as Error).message}`);
    }
  }
}

const errorOf = (body: unknown) =>
  typeof body === 'object' && body !== null && 'error' in body
    ? String((body as { error: unknown }).error)
    : JSON.stringify(body);
