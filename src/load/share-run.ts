import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { monotonicUs } from '../media/timing-mark.js';
import type { Counters } from '../results/counters.js';
import type { Scenario } from '../results/scenario.js';
import { scenarioHash, type ShareRecord } from '../results/share.js';
import type { ProtocolKey } from '../protocol/delivery.js';
import { AccountingLog } from './accounting-log.js';
import { CoordinatorClient, wallClockUs } from './coordinator.js';
import { RunError } from './errors.js';
import type { ShardOf } from './plan.js';
import type { ClockMessage, SendLogChunk, ViewerRecord } from './worker-protocol.js';

/** How a share of a run spread over machines takes part. */
export interface ShareOptions {
  shardOf: ShardOf;
  /** The run's id (every share the same); with a coordinator, its own when not given. */
  runId?: string;
  /** The coordinator's URL: the common start and the reference clock. Without one, the share starts at once on its own clock. */
  coordinator?: string;
  /** How long to wait for every share to join. */
  startTimeoutMs?: number;
  /** A share whose workers began later than this after the common start fails. */
  maxLateMs?: number;
  /**
   * Marks on the reference clock (the default with a coordinator). Off, each host writes and
   * reads marks on its own clock, as on one machine: to see what the clocks' offsets do to
   * cross-host latencies, never for results.
   */
  clockCorrection?: boolean;
}

const DEFAULT_START_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_MAX_LATE_MS = 1000;

/** This host's addresses other than loopback (what a share says of where it ran). */
function hostAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && !a.internal)
    .map((a) => a!.address);
}

/**
 * One share's part in a distributed run, apart from what every run does: it joins the
 * coordinator and gets the common start on its own clock, sends its workers the clock offset
 * as it is measured again, keeps the records frame accounting needs (accounting.ndjson), and
 * says what it is (the summary's `share`).
 */
export class ShareRun {
  private readonly client: CoordinatorClient | null;
  private runId: string | null;
  private readonly hash: string;
  private log: AccountingLog | null = null;
  private startAtUs = 0;
  private plannedWallMs = 0;

  constructor(
    private readonly opts: ShareOptions,
    scenario: Scenario,
  ) {
    this.client = opts.coordinator !== undefined ? new CoordinatorClient(opts.coordinator) : null;
    this.runId = opts.runId ?? null;
    this.hash = scenarioHash(scenario);
  }

  /** Waits for the common start (with a coordinator) and returns it on this host's clock, with the clock offset. */
  async start(leadMs: number): Promise<{ startAtUs: number; clockOffsetUs: number }> {
    if (this.client === null) {
      this.startAtUs = monotonicUs() + leadMs * 1000;
      this.plannedWallMs = (wallClockUs() + leadMs * 1000) / 1000;
      return { startAtUs: this.startAtUs, clockOffsetUs: 0 };
    }
    const { index, count } = this.opts.shardOf;
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    this.runId = await this.client.join(
      { runId: this.runId, index, count, scenarioHash: this.hash, host: os.hostname() },
      deadline - Date.now(),
    );
    this.startAtUs = await this.client.waitForStart(Math.max(0, deadline - Date.now()));
    const now = monotonicUs();
    this.plannedWallMs = (wallClockUs() + (this.startAtUs - now)) / 1000;
    if (this.startAtUs < now) {
      throw new RunError(
        `the common start passed ${((now - this.startAtUs) / 1000).toFixed(0)} ms before share ${index} had it (its clock or the coordinator is too slow)`,
      );
    }
    this.client.keepExchanging();
    return { startAtUs: this.startAtUs, clockOffsetUs: this.correcting ? this.client.offset().offsetUs : 0 };
  }

  private get correcting(): boolean {
    return this.opts.clockCorrection !== false;
  }

  /** The planned start as this host's wall clock reads it. */
  get plannedStart(): Date {
    return new Date(this.plannedWallMs);
  }

  /** The clock offset as measured now, for the workers (null without a coordinator). */
  clockMessage(): ClockMessage | null {
    return this.client === null || !this.correcting ? null : { kind: 'clock', offsetUs: this.client.offset().offsetUs };
  }

  openLog(dir: string): void {
    this.log = new AccountingLog(dir);
  }

  keep(sends: readonly SendLogChunk[], viewers: readonly ViewerRecord[]): void {
    this.log?.add(sends, viewers);
  }

  /** Closes the accounting log with this share's own additions and says what the share was. */
  finish(
    lateUs: number,
    playersPlanned: number,
    added: Counters,
    addedBy: ReadonlyMap<ProtocolKey, Counters>,
  ): ShareRecord {
    this.log?.close(added, addedBy);
    const { index, count } = this.opts.shardOf;
    const lateMs = Math.round(lateUs / 100) / 10;
    return {
      runId: this.runId,
      index,
      count,
      scenarioHash: this.hash,
      host: os.hostname(),
      addresses: hostAddresses(),
      ...(this.client !== null ? { clock: { ...this.client.figures(), corrected: this.correcting } } : {}),
      plannedStart: this.plannedStart.toISOString(),
      actualStart: new Date(this.plannedWallMs + lateMs).toISOString(),
      lateMs,
      maxLateMs: this.opts.maxLateMs ?? DEFAULT_MAX_LATE_MS,
      playersPlanned,
    };
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}

/** A run id for a run whose first share was given none. */
export function newRunId(): string {
  return randomUUID();
}
