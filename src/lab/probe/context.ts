import type { ProbeEvidence, ProbeGroup, ProbeResult } from '../../results/probe.js';
import { ProbeConnection, type ConnectOptions, type HandshakeOptions, type ProbeTarget } from './connection.js';
import { DEFAULT_ATTACK, type AttackSettings } from './attack/settings.js';
import { ProbeError, SetupError, why } from './errors.js';

/** Most bytes one probe may send, on all its connections together. */
export const MAX_PROBE_BYTES = 16 * 1024 * 1024;

/** What a probe concludes: its result and one line saying why. */
export interface ProbeVerdict {
  result: ProbeResult;
  detail: string;
}

export type ProbeRun = (ctx: ProbeContext) => Promise<ProbeVerdict>;

/**
 * What a probe needs the server to do before it can test anything, checked once per server
 * (the baseline): accept TCP; complete a handshake and connect; accept a publisher; relay a
 * publisher's media to a player.
 */
export const PROBE_NEEDS = ['tcp', 'connect', 'publish', 'relay'] as const;
export type ProbeNeed = (typeof PROBE_NEEDS)[number];

export interface ProbeDefinition {
  /** Stable id: `group.name`. */
  id: string;
  group: ProbeGroup;
  title: string;
  /** What passes, in one line. */
  definition: string;
  needs: ProbeNeed;
  /**
   * Sends what may stop a fragile server (AMF it may not parse...): runs alone, after the
   * others, and the server's liveness is checked after it.
   */
  isolated?: boolean;
  /** Time limit (default 12 s; the waits inside take `waitMs` each; attacks: from their settings). */
  limitMs?: number;
  /**
   * An attack (resilience): its bounds come from the attack settings, it runs alone and its
   * bytes are bounded by the attack, not by MAX_PROBE_BYTES.
   */
  attack?: true;
  run: ProbeRun;
}

export interface ProbeContextOptions {
  target: ProbeTarget;
  /** Prefix of stream names; each probe's names are unique in the run. */
  streamPrefix: string;
  /** This probe's place in the run (part of its stream names). */
  index: number;
  /** How long one step waits for an answer. */
  waitMs: number;
  /** Most bytes the probe may send (default MAX_PROBE_BYTES). */
  maxBytes?: number;
  /** Bounds and targets of attacks (resilience probes). */
  attack?: AttackSettings;
}

/**
 * What a probe works with: fresh connections to the target (all closed when the probe ends,
 * publishers unpublished first), unique stream names, the step wait, and the evidence it
 * records as it goes.
 */
export class ProbeContext {
  readonly evidence: ProbeEvidence = {};
  readonly target: ProbeTarget;
  readonly waitMs: number;
  readonly attack: AttackSettings;
  private readonly maxBytes: number;
  private readonly connections: ProbeConnection[] = [];
  private readonly opts: ProbeContextOptions;
  private names = 0;
  private ended = false;
  private sent = 0;

  /** Bytes this probe sent on all its connections (handshakes included). */
  get bytesSent(): number {
    return this.sent;
  }

  constructor(opts: ProbeContextOptions) {
    this.opts = opts;
    this.target = opts.target;
    this.waitMs = opts.waitMs;
    this.attack = opts.attack ?? DEFAULT_ATTACK;
    this.maxBytes = opts.maxBytes ?? MAX_PROBE_BYTES;
  }

  /** A stream name no other probe of any run uses (letters, digits, - and _ only). */
  streamName(): string {
    return `${this.opts.streamPrefix}_${this.opts.index}_${this.names++}`;
  }

  /** Records a fact for the report. */
  note(key: string, value: string | number | boolean | null): void {
    this.evidence[key] = value;
  }

  /** Whether the probe has ended (its time ran out): loops stop. */
  get over(): boolean {
    return this.ended;
  }

  /** Whether `bytes` more would stay within the probe's bound of bytes. */
  canSend(bytes: number): boolean {
    return this.sent + bytes <= this.maxBytes;
  }

  /** A TCP (or TLS) connection to the target (or `target`), not yet shaken hands with. */
  async dial(target = this.target): Promise<ProbeConnection> {
    if (this.ended) throw new ProbeError('RTMP_ERR_PROBE_TIMEOUT', 'the probe has ended');
    const conn = await ProbeConnection.dial(target, this.waitMs);
    conn.onWrite = (bytes) => {
      if (this.sent + bytes > this.maxBytes)
        throw new ProbeError('RTMP_ERR_PROBE_STEP', `the probe would send more than ${this.maxBytes} bytes`);
      this.sent += bytes;
    };
    this.connections.push(conn);
    if (this.ended) conn.destroy();
    return conn;
  }

  /** A connection after the handshake (digest by default) and, unless `connect` is false, connect. */
  async open(opts: { handshake?: HandshakeOptions; connect?: ConnectOptions | false } = {}): Promise<ProbeConnection> {
    const conn = await this.dial();
    await conn.handshake(this.waitMs, opts.handshake);
    if (opts.connect !== false) await conn.connect(this.waitMs, opts.connect ?? {});
    return conn;
  }

  /**
   * Runs set-up the probe needs before the behaviour it tests; a failure there is the probe's error,
   * not the server's fail.
   */
  async setup<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof SetupError) throw e;
      throw new SetupError(`${what}: ${why(e)}`);
    }
  }

  /** Waits `ms` (a pause between steps that the server needs no answer for). */
  sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  /** Closes every connection of this probe (publishers unpublish first). */
  closeAll(): void {
    this.ended = true;
    for (const c of this.connections) c.close();
  }
}
