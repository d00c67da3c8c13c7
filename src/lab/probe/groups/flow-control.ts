import {
  MSG_ACKNOWLEDGEMENT,
  MSG_SET_CHUNK_SIZE,
  MSG_SET_PEER_BANDWIDTH,
  MSG_USER_CONTROL,
  MSG_WINDOW_ACK_SIZE,
  UC_PING_RESPONSE,
} from '../../../protocol/constants.js';
import {
  pingRequestMessage,
  setBufferLengthMessage,
  setPeerBandwidthMessage,
  windowAckSizeMessage,
} from '../../../protocol/control.js';
import type { ProbeContext, ProbeVerdict } from '../context.js';
import { why } from '../errors.js';
import { ProbeMedia } from '../media.js';
import { checkRelay, publishOn, relayPair, relayVerdict, sendAll } from '../relay.js';
import type { TracedMessage } from '../wire/chunk-trace.js';

/** Flow control: acknowledgements at the client's window, what the server announces, pings, buffer length. */

const LIMIT_TYPES = ['hard', 'soft', 'dynamic'];

/** The client announces a window of 100 000 bytes and publishes about 1 MB: the server must acknowledge. */
export async function acknowledgements(ctx: ProbeContext): Promise<ProbeVerdict> {
  const windowBytes = 100_000;
  const pub = await ctx.setup('publish', async () => {
    const conn = await ctx.open();
    conn.send(windowAckSizeMessage(windowBytes));
    return publishOn(ctx, conn, ctx.streamName());
  });
  const media = new ProbeMedia();
  sendAll(pub, [
    media.avcSequenceHeader(),
    ...Array.from({ length: 10 }, (_, i) => media.avcFrame(i === 0, i * 40, 100_000)),
  ]);
  const sent = pub.conn.sentBytes;
  const acks = () =>
    pub.conn.messages
      .filter((m) => m.typeId === MSG_ACKNOWLEDGEMENT)
      .map((m) => (m.payload.length >= 4 ? m.payload.readUInt32BE(0) : -1));
  // Servers acknowledge as reads arrive, so an ack comes within a window and a read of each boundary.
  const slack = windowBytes;
  await pub.conn
    .waitFor(
      () => (acks().some((s) => s >= sent - windowBytes - slack) ? true : undefined),
      ctx.waitMs,
      'acknowledgements',
    )
    .catch(() => undefined);
  const seqs = acks();
  ctx.note('window announced', windowBytes);
  ctx.note('bytes sent', sent);
  ctx.note('acknowledgements', seqs.length);
  if (seqs.length > 0)
    ctx.note('acknowledged byte counts', seqs.slice(0, 8).join(', ') + (seqs.length > 8 ? ' ...' : ''));
  if (seqs.length === 0)
    return {
      result: 'fail',
      detail:
        `no Acknowledgement after ${sent} bytes with a window of ${windowBytes}: a client that ` +
        `waits for acks stalls`,
    };
  const bad = seqs.find((s) => s < 0 || s > sent);
  if (bad !== undefined)
    return { result: 'fail', detail: `an Acknowledgement counts ${bad} bytes; we had sent ${sent}` };
  const points = [0, ...seqs, sent];
  const widest = Math.max(...points.slice(1).map((p, i) => p - points[i]!));
  ctx.note('widest gap between acknowledgements', widest);
  if (widest > windowBytes + slack)
    return {
      result: 'fail',
      detail:
        `${seqs.length} acknowledgements for ${sent} bytes, up to ${widest} bytes apart: not one ` +
        `per window of ${windowBytes}`,
    };
  return {
    result: 'pass',
    detail: `${seqs.length} acknowledgements for ${sent} bytes, at most ${widest} bytes apart (window ${windowBytes})`,
  };
}

function controlFacts(messages: readonly TracedMessage[]): {
  window: number | null;
  bandwidth: string | null;
  chunkSize: number | null;
} {
  const find = (type: number) => messages.find((m) => m.typeId === type && m.streamId === 0);
  const w = find(MSG_WINDOW_ACK_SIZE);
  const b = find(MSG_SET_PEER_BANDWIDTH);
  const c = find(MSG_SET_CHUNK_SIZE);
  return {
    window: w !== undefined && w.payload.length >= 4 ? w.payload.readUInt32BE(0) : null,
    bandwidth:
      b !== undefined && b.payload.length >= 5
        ? `${b.payload.readUInt32BE(0)} (${LIMIT_TYPES[b.payload[4]!] ?? `type ${b.payload[4]}`})`
        : null,
    chunkSize: c !== undefined && c.payload.length >= 4 ? c.payload.readUInt32BE(0) : null,
  };
}

/** What the server announces around connect: Window Acknowledgement Size, Set Peer Bandwidth, Set Chunk Size. */
export async function serverAnnouncements(ctx: ProbeContext): Promise<ProbeVerdict> {
  const conn = await ctx.open();
  await conn.pause(Math.min(300, ctx.waitMs));
  const f = controlFacts(conn.messages);
  ctx.note('Window Acknowledgement Size', f.window);
  ctx.note('Set Peer Bandwidth', f.bandwidth);
  ctx.note('Set Chunk Size', f.chunkSize);
  const parts = [
    f.window !== null ? `window ${f.window}` : 'no window size',
    f.bandwidth !== null ? `peer bandwidth ${f.bandwidth}` : 'no peer bandwidth',
    f.chunkSize !== null ? `chunk size ${f.chunkSize}` : 'chunk size 128 (never set)',
  ];
  return { result: 'info', detail: parts.join(', ') };
}

/** The client sends Set Peer Bandwidth (hard, 500 000) and its own window: the session must carry on. */
export async function peerBandwidth(ctx: ProbeContext): Promise<ProbeVerdict> {
  const conn = await ctx.open();
  const from = conn.messages.length;
  conn.send(setPeerBandwidthMessage(500_000, 0));
  conn.send(windowAckSizeMessage(500_000));
  const name = ctx.streamName();
  const pub = await publishOn(ctx, conn, name).catch((e: Error) => e);
  const answer = conn.messages.slice(from).find((m) => m.typeId === MSG_WINDOW_ACK_SIZE);
  ctx.note(
    'answered with Window Acknowledgement Size',
    answer !== undefined && answer.payload.length >= 4 ? answer.payload.readUInt32BE(0) : 'no',
  );
  if (pub instanceof Error)
    return { result: 'fail', detail: `after the client's Set Peer Bandwidth, publishing failed: ${why(pub)}` };
  return {
    result: 'pass',
    detail:
      `the session carried on after the client's Set Peer ` +
      `Bandwidth${answer !== undefined ? ' (answered with a Window Acknowledgement Size)' : ''}`,
  };
}

/** User Control PingRequest from the client: the server must answer PingResponse with the same time. */
export async function ping(ctx: ProbeContext): Promise<ProbeVerdict> {
  const conn = await ctx.open();
  const stamp = 0x1234abcd;
  const from = conn.messages.length;
  conn.send(pingRequestMessage(stamp));
  const m = await conn
    .waitMessage(
      (x) => x.typeId === MSG_USER_CONTROL && x.payload.length >= 6 && x.payload.readUInt16BE(0) === UC_PING_RESPONSE,
      ctx.waitMs,
      'PingResponse',
      from,
    )
    .catch(() => null);
  if (m === null)
    return {
      result: 'fail',
      detail: conn.closed
        ? `the server closed the connection: ${conn.closedBy}`
        : `no PingResponse within ${ctx.waitMs} ms`,
    };
  const echoed = m.payload.readUInt32BE(2);
  ctx.note('PingResponse time', echoed);
  if (echoed !== stamp) return { result: 'fail', detail: `PingResponse carries ${echoed}, not the request's ${stamp}` };
  return { result: 'pass', detail: "PingResponse with the request's time" };
}

/** SetBufferLength for stream 0 and for the played stream, before and during play: media must still flow. */
export async function setBufferLength(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx, { play: { bufferLength: false } });
  view.conn.send(setBufferLengthMessage(0, 3000));
  view.conn.send(setBufferLengthMessage(view.streamId, 60_000));
  const sent = new ProbeMedia().avcAacStream(3);
  sendAll(pub, sent);
  view.conn.send(setBufferLengthMessage(view.streamId, 100));
  return relayVerdict(ctx, await checkRelay(view, sent, ctx.waitMs), 'media to a player that set its buffer length', {
    publisher: pub,
  });
}
