import type { AmfValue } from '../../protocol/amf-types.js';
import { MSG_AUDIO, MSG_DATA_AMF0, MSG_DATA_AMF3, MSG_VIDEO } from '../../protocol/constants.js';
import { setBufferLengthMessage } from '../../protocol/control.js';
import type { ProbeConnection, ConnectOptions, SendOptions } from './connection.js';
import type { ProbeContext, ProbeVerdict } from './context.js';
import { StepError } from './errors.js';
import type { ProbeMessage } from './media.js';
import type { TracedMessage } from './wire/chunk-trace.js';
import { chunkMessage } from './wire/raw-chunks.js';
import type { OutgoingMessage } from '../../protocol/message.js';

/**
 * Publishers, viewers and the check of what a viewer received against what a publisher sent:
 * the building blocks of every probe that looks at relayed media.
 */

export interface Publisher {
  conn: ProbeConnection;
  streamId: number;
  name: string;
}

export interface Viewer {
  conn: ProbeConnection;
  streamId: number;
  name: string;
  /** Index of the first message after Play.Start (media before it is not this play's). */
  from: number;
}

export interface PublishOptions {
  connect?: ConnectOptions;
  /** Outgoing chunk size announced after connect (default 4096, as ffmpeg and OBS). */
  chunkSize?: number;
  /** Send releaseStream and FCPublish first (as OBS and ffmpeg do; default true). */
  fcPublish?: boolean;
}

/** How long a publisher waits after Publish.Start for a server that takes it back by closing. */
const PUBLISH_SETTLE_MS = 50;

const isStartOrError = (ok: string) => (code: string, level: string) => code === ok || level === 'error';

/** Publishes `name` on a fresh connection; resolves on NetStream.Publish.Start. */
export async function publish(ctx: ProbeContext, name: string, opts: PublishOptions = {}): Promise<Publisher> {
  const conn = await ctx.open({ connect: opts.connect ?? {} });
  return publishOn(ctx, conn, name, opts);
}

/** Publishes `name` on a connection already connected. */
export async function publishOn(
  ctx: ProbeContext,
  conn: ProbeConnection,
  name: string,
  opts: PublishOptions = {},
): Promise<Publisher> {
  const size = opts.chunkSize ?? 4096;
  if (conn.chunkSize !== size) conn.setChunkSize(size);
  if (opts.fcPublish !== false) {
    conn.sendCommand('releaseStream', null, [name]);
    conn.sendCommand('FCPublish', null, [name]);
  }
  const streamId = await conn.createStream(ctx.waitMs);
  await startStream(ctx, conn, 'publish', name, [name, 'live'], streamId, 'NetStream.Publish.Start');
  // Some servers say Publish.Start and then close the connection (the name was taken after all).
  await conn.pause(PUBLISH_SETTLE_MS);
  if (conn.closed)
    throw new StepError('publish', `publish "${name}" got NetStream.Publish.Start, then ${conn.closedBy}`);
  conn.published.add(streamId);
  return { conn, streamId, name };
}

export interface PlayOptions {
  /** play's start argument (-2 live or recorded, -1 live only, >= 0 recorded from that time). */
  start?: number;
  duration?: number;
  /** Send SetBufferLength before play (as ffmpeg and Flash Player do; default true). */
  bufferLength?: boolean;
}

/** Plays `name` on a fresh connection; resolves on NetStream.Play.Start. */
export async function play(ctx: ProbeContext, name: string, opts: PlayOptions = {}): Promise<Viewer> {
  const conn = await ctx.open();
  return playOn(ctx, conn, name, opts);
}

async function playOn(ctx: ProbeContext, conn: ProbeConnection, name: string, opts: PlayOptions = {}): Promise<Viewer> {
  const streamId = await conn.createStream(ctx.waitMs);
  if (opts.bufferLength !== false) conn.send(setBufferLengthMessage(streamId, 1000));
  const args = [name, opts.start ?? -2, opts.duration ?? -1, true];
  const from = await startStream(ctx, conn, 'play', name, args, streamId, 'NetStream.Play.Start');
  return { conn, streamId, name, from };
}

/**
 * Sends publish or play on `streamId` and waits for `startCode` (or an error status) after it;
 * throws a StepError on a refusal. Resolves with the index of the first message after the command.
 */
async function startStream(
  ctx: ProbeContext,
  conn: ProbeConnection,
  command: 'publish' | 'play',
  name: string,
  args: AmfValue[],
  streamId: number,
  startCode: string,
): Promise<number> {
  const from = conn.messages.length;
  conn.sendCommand(command, null, args, streamId);
  const s = await conn.waitStatus(
    isStartOrError(startCode),
    ctx.waitMs,
    `the status of ${command} "${name}"`,
    streamId,
    from,
  );
  if (s.code !== startCode)
    throw new StepError(command, `${command} "${name}" was refused: ${s.code} ${s.description}`.trim());
  return from;
}

/** A publisher, then a viewer of its stream (the set-up of most media probes). */
export async function relayPair(
  ctx: ProbeContext,
  opts: { publish?: PublishOptions; play?: PlayOptions } = {},
): Promise<{ pub: Publisher; view: Viewer }> {
  return ctx.setup('publish and play', async () => {
    const name = ctx.streamName();
    const pub = await publish(ctx, name, opts.publish);
    const view = await play(ctx, name, opts.play);
    return { pub, view };
  });
}

/** The chunk stream a publisher sends a kind of message on by default (as ffmpeg does). */
function defaultCsid(typeId: number): number {
  return typeId === MSG_AUDIO ? 4 : typeId === MSG_VIDEO ? 6 : 5;
}

/** A probe message as an outgoing message on the publisher's stream. */
function outgoing(pub: Publisher, m: ProbeMessage, csid = defaultCsid(m.typeId)): OutgoingMessage {
  return { csid, typeId: m.typeId, streamId: pub.streamId, timestamp: m.timestamp, payload: m.payload };
}

/** The chunks of a probe message, at the connection's chunk size unless told otherwise. */
export function chunksOf(pub: Publisher, m: ProbeMessage, opts: SendOptions = {}): Buffer[] {
  return chunkMessage(outgoing(pub, m, opts.csid), { chunkSize: pub.conn.chunkSize, ...opts });
}

/**
 * A publisher that announces `chunkSize` right after connect (the behaviour under test: a
 * server that refuses it fails the probe), then a viewer.
 */
export async function relayPairAt(ctx: ProbeContext, chunkSize: number): Promise<{ pub: Publisher; view: Viewer }> {
  const conn = await ctx.setup('connect', () => ctx.open());
  const name = ctx.streamName();
  conn.setChunkSize(chunkSize);
  const pub = await publishOn(ctx, conn, name, { chunkSize });
  const view = await ctx.setup('play', () => play(ctx, name));
  return { pub, view };
}

/** Sends messages on the publisher's stream, each as chunks of the connection's chunk size (fmt 0). */
export function sendAll(pub: Publisher, messages: readonly ProbeMessage[], opts: SendOptions = {}): void {
  for (const m of messages) pub.conn.write(chunksOf(pub, m, opts));
}

const isMedia = (m: TracedMessage) =>
  m.typeId === MSG_VIDEO || m.typeId === MSG_AUDIO || m.typeId === MSG_DATA_AMF0 || m.typeId === MSG_DATA_AMF3;

/** The received message that is `sent`, from index `from`: by marker, or by equal bytes. */
export function findReceived(
  received: readonly TracedMessage[],
  sent: ProbeMessage,
  from = 0,
): TracedMessage | undefined {
  for (let i = from; i < received.length; i++) {
    const m = received[i]!;
    if (m.typeId !== sent.typeId) continue;
    if (sent.marker !== null ? m.payload.includes(sent.marker) : m.payload.equals(sent.payload)) return m;
  }
  return undefined;
}

export interface RelayCheck {
  expected: number;
  arrived: number;
  /** Labels of messages that never arrived. */
  missing: string[];
  /** Labels of messages that arrived with other bytes. */
  altered: string[];
  /** Received minus sent timestamp (ms, signed, modulo 2^32) of each arrived message. */
  offsets: number[];
  /** The viewer's connection ended before everything arrived: why. */
  viewerClosed: string | null;
  /** The arrived messages, in the order of `sent` (undefined where missing). */
  matches: (TracedMessage | undefined)[];
}

/** Signed difference of two 32-bit timestamps. */
function timestampOffset(received: number, sent: number): number {
  let d = (received - (sent % 2 ** 32)) % 2 ** 32;
  if (d >= 2 ** 31) d -= 2 ** 32;
  if (d < -(2 ** 31)) d += 2 ** 32;
  return d;
}

/** Waits (up to `waitMs`) until every message of `sent` reached the viewer, then compares. */
export async function checkRelay(view: Viewer, sent: readonly ProbeMessage[], waitMs: number): Promise<RelayCheck> {
  const all = () => sent.every((s) => findReceived(view.conn.messages, s, view.from) !== undefined);
  await view.conn.waitFor(() => (all() ? true : undefined), waitMs, 'the relayed media').catch(() => undefined);
  const matches = sent.map((s) => findReceived(view.conn.messages, s, view.from));
  const check: RelayCheck = {
    expected: sent.length,
    arrived: 0,
    missing: [],
    altered: [],
    offsets: [],
    viewerClosed: view.conn.closed ? view.conn.closedBy : null,
    matches,
  };
  sent.forEach((s, i) => {
    const m = matches[i];
    if (m === undefined) {
      check.missing.push(s.label);
      return;
    }
    check.arrived++;
    if (!m.payload.equals(s.payload)) check.altered.push(s.label);
    check.offsets.push(timestampOffset(m.timestamp, s.timestamp));
  });
  return check;
}

/** How the viewer's timestamps relate to the publisher's: as sent, shifted by one offset, or otherwise. */
export function timestampPolicy(offsets: readonly number[]): string {
  if (offsets.length === 0) return 'none arrived';
  if (offsets.every((o) => o === 0)) return 'as sent';
  if (offsets.every((o) => o === offsets[0])) return `rebased by ${offsets[0]} ms`;
  return `changed (offsets ${[...new Set(offsets)].slice(0, 5).join(', ')} ms)`;
}

/** Facts of a relay check, for the evidence. */
export function relayEvidence(ctx: ProbeContext, c: RelayCheck): void {
  ctx.note('messages sent', c.expected);
  ctx.note('messages relayed', c.arrived);
  if (c.missing.length > 0)
    ctx.note(
      'missing',
      c.missing.slice(0, 6).join(', ') + (c.missing.length > 6 ? ` and ${c.missing.length - 6} more` : ''),
    );
  if (c.altered.length > 0) ctx.note('altered', c.altered.slice(0, 6).join(', '));
  ctx.note('viewer timestamps', timestampPolicy(c.offsets));
  if (c.viewerClosed !== null) ctx.note('viewer connection', c.viewerClosed);
}

/**
 * The usual verdict: pass when every message arrived byte for byte (timestamps as sent, or
 * shifted by one offset when `rebaseOk`), else fail saying what went wrong.
 */
export function relayVerdict(
  ctx: ProbeContext,
  c: RelayCheck,
  what: string,
  opts: { rebaseOk?: boolean; anyTimestamps?: boolean; publisher?: Publisher } = {},
): ProbeVerdict {
  relayEvidence(ctx, c);
  if (opts.publisher?.conn.closed) ctx.note('publisher connection', opts.publisher.conn.closedBy);
  const policy = timestampPolicy(c.offsets);
  if (c.missing.length > 0) {
    const why = opts.publisher?.conn.closed
      ? `; the publisher's connection ended: ${opts.publisher.conn.closedBy}`
      : c.viewerClosed !== null
        ? `; the viewer's connection ended: ${c.viewerClosed}`
        : '';
    return {
      result: 'fail',
      detail: `${c.missing.length} of ${c.expected} messages of ${what} never reached the viewer${why}`,
    };
  }
  if (c.altered.length > 0)
    return { result: 'fail', detail: `${what} reached the viewer altered: ${c.altered.slice(0, 3).join(', ')}` };
  if (policy === 'as sent') return { result: 'pass', detail: `${what} relayed byte for byte, timestamps as sent` };
  if (((opts.rebaseOk ?? true) && policy.startsWith('rebased')) || opts.anyTimestamps === true)
    return { result: 'pass', detail: `${what} relayed byte for byte, timestamps ${policy}` };
  return { result: 'fail', detail: `${what} relayed with timestamps ${policy}` };
}

/** Media, data and status messages the viewer got since it started playing. */
export function viewerMedia(view: Viewer): TracedMessage[] {
  return view.conn.messages.slice(view.from).filter(isMedia);
}
