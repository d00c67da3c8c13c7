import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ProtocolKey } from '../protocol/delivery.js';
import { countersFromFile, countersToFile, type Counters } from '../results/counters.js';
import { FrameAccounting } from './frame-accounting.js';
import type { SendLogChunk, ViewerRecord } from './worker-protocol.js';

/**
 * accounting.ndjson: what frame accounting needs, kept by each share of a run spread over
 * machines so that `merge` can account for viewers and publishers on different shares. A line
 * per worker report that had any (`{"sends": [...], "viewers": [...]}`, times in ms since the
 * run's common start), written as the run goes (memory stays bounded), and a last line with
 * what this share's own accounting added to its counters (`{"added": ..., "addedBy": ...}`),
 * which the merge takes back out before it accounts over every share's records.
 */

const ACCOUNTING_FILE = 'accounting.ndjson';

/** A compact send-log chunk: [stream, epoch, firstSeq, sentMs (µs-rounded ms), keyframes]. */
type SendRow = [number, number, number, number[], number[]];
/** A viewer record as an array in ViewerRecord's field order (see RECORD_FIELDS). */
type ViewerRow = (number | string | boolean)[];

const RECORD_FIELDS = [
  'stream',
  'epoch',
  'protocol',
  'slow',
  'firstSeq',
  'lastSeq',
  'playSentMs',
  'leftMs',
  'lastLatencyMs',
  'lastFrameMs',
  'atEnd',
  'dueUntilLastFrame',
  'followed',
] as const satisfies readonly (keyof ViewerRecord)[];

const ms = (x: number) => Math.round(x * 1000) / 1000;

export class AccountingLog {
  private fd: number | null;

  constructor(dir: string) {
    this.fd = openSync(join(dir, ACCOUNTING_FILE), 'w');
  }

  add(sends: readonly SendLogChunk[], viewers: readonly ViewerRecord[]): void {
    if (this.fd === null || (sends.length === 0 && viewers.length === 0)) return;
    const line = {
      sends: sends.map((c): SendRow => [c.stream, c.epoch, c.firstSeq, c.sentMs.map(ms), c.keyframes]),
      viewers: viewers.map((r): ViewerRow => RECORD_FIELDS.map((f) => r[f])),
    };
    writeSync(this.fd, `${JSON.stringify(line)}\n`);
  }

  /** The share's own accounting's additions, then the file is closed. */
  close(added: Counters, addedBy: ReadonlyMap<ProtocolKey, Counters>): void {
    if (this.fd === null) return;
    const by = Object.fromEntries([...addedBy].map(([k, c]) => [k, countersToFile(c)]));
    writeSync(this.fd, `${JSON.stringify({ added: countersToFile(added), addedBy: by })}\n`);
    closeSync(this.fd);
    this.fd = null;
  }
}

export interface AccountingRecords {
  sends: SendLogChunk[];
  viewers: ViewerRecord[];
  added: Counters;
  addedBy: Map<ProtocolKey, Counters>;
}

/** A share's accounting records, or null when its folder has none (a run on one machine, an older share). */
export function readAccountingLog(dir: string): AccountingRecords | null {
  const path = join(dir, ACCOUNTING_FILE);
  if (!existsSync(path)) return null;
  const out: AccountingRecords = { sends: [], viewers: [], added: countersFromFile({}), addedBy: new Map() };
  let closed = false;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const v = JSON.parse(line) as {
      sends?: SendRow[];
      viewers?: ViewerRow[];
      added?: unknown;
      addedBy?: Record<string, unknown>;
    };
    for (const [stream, epoch, firstSeq, sentMs, keyframes] of v.sends ?? []) {
      out.sends.push({ stream, epoch, firstSeq, sentMs, keyframes });
    }
    for (const row of v.viewers ?? []) {
      out.viewers.push(Object.fromEntries(RECORD_FIELDS.map((f, i) => [f, row[i]])) as unknown as ViewerRecord);
    }
    if (v.added !== undefined) {
      closed = true;
      out.added = countersFromFile(v.added);
      for (const [k, c] of Object.entries(v.addedBy ?? {})) out.addedBy.set(k as ProtocolKey, countersFromFile(c));
    }
  }
  // A log without its last line was cut short: its share's accounting cannot be taken apart.
  return closed ? out : null;
}

/**
 * Frame accounting over several shares' records at once, as one run's would have gone: send
 * logs and viewer records fed in the order of their times (the accounting keeps a sliding
 * window of each send log), then settled.
 */
export function accountShares(
  shares: readonly AccountingRecords[],
  published: ReadonlySet<number>,
  stallMs: number,
): FrameAccounting {
  type Event = { atMs: number; sends?: SendLogChunk; viewer?: ViewerRecord };
  const events: Event[] = [];
  for (const s of shares) {
    for (const c of s.sends) events.push({ atMs: c.sentMs[c.sentMs.length - 1] ?? 0, sends: c });
    for (const r of s.viewers) events.push({ atMs: r.leftMs, viewer: r });
  }
  // Sends first among equal times: a viewer that left at a frame's time was due it.
  events.sort((a, b) => a.atMs - b.atMs || (a.sends !== undefined ? -1 : 0) - (b.sends !== undefined ? -1 : 0));
  const accounting = new FrameAccounting(published, stallMs);
  for (const e of events) {
    if (e.sends !== undefined) accounting.addSends([e.sends]);
    else if (e.viewer !== undefined) accounting.addViewers([e.viewer]);
  }
  accounting.finish();
  return accounting;
}
