import { ecmaArray, isAmfObject, type AmfObject, type AmfValue } from '../../../protocol/amf-types.js';
import { encodeAmf0 } from '../../../protocol/amf0.js';
import { type DataMessage, parseData } from '../../../protocol/commands.js';
import { MSG_COMMAND_AMF3, MSG_DATA_AMF0, MSG_DATA_AMF3 } from '../../../protocol/constants.js';
import { commandOf, describeReply } from '../connection.js';
import type { ProbeContext, ProbeVerdict } from '../context.js';
import { why } from '../errors.js';
import type { StepError } from '../errors.js';
import { ProbeMedia } from '../media.js';
import { checkRelay, play, publish, publishOn, relayPair, sendAll, viewerMedia } from '../relay.js';
import { avmplus } from '../wire/amf3-values.js';
import { chunkMessage } from '../wire/raw-chunks.js';

/**
 * Commands and AMF: the AMF3 envelope and AMF3 values, objectEncoding 3, AMF types in connect
 * and metadata, unknown commands, the publish preamble, play arguments, deleteStream.
 */

/** connect, createStream and publish as type-17 command messages (format byte 0, AMF0 values). */
export async function amf3Envelope(ctx: ProbeContext): Promise<ProbeVerdict> {
  const conn = await ctx.dial();
  await conn.handshake(ctx.waitMs);
  const reply = await conn.connect(ctx.waitMs, { typeId: MSG_COMMAND_AMF3 });
  ctx.note(
    'connect answered as message type',
    conn.messages.find((m) => m.typeId === 20 || m.typeId === 17)?.typeId ?? null,
  );
  conn.setChunkSize(4096);
  const r = await conn.command('createStream', null, [], 0, ctx.waitMs, MSG_COMMAND_AMF3);
  const streamId = r.args[0];
  if (r.name !== '_result' || typeof streamId !== 'number')
    return { result: 'fail', detail: `createStream as type 17 was refused: ${describeReply(r)}` };
  const from = conn.messages.length;
  const name = ctx.streamName();
  conn.sendCommand('publish', null, [name, 'live'], streamId, MSG_COMMAND_AMF3);
  const s = await conn.waitStatus(
    (code, level) => code === 'NetStream.Publish.Start' || level === 'error',
    ctx.waitMs,
    'the status of publish sent as type 17',
    streamId,
    from,
  );
  if (s.code !== 'NetStream.Publish.Start')
    return { result: 'fail', detail: `publish as type 17 was refused: ${s.code}` };
  conn.published.add(streamId);
  ctx.note('connect result', reply.name);
  return { result: 'pass', detail: 'connect, createStream and publish sent as type-17 messages were all answered' };
}

/** AMF3 values (behind the avmplus marker) in type-17 createStream and publish, after connect with objectEncoding 3. */
export async function amf3Values(ctx: ProbeContext): Promise<ProbeVerdict> {
  const conn = await ctx.open({ connect: { properties: { objectEncoding: 3 } } });
  conn.setChunkSize(4096);
  const tid = conn.transactionId();
  conn.sendCommandBody(
    Buffer.concat([encodeAmf0('createStream', tid), avmplus(null), avmplus({ probe: 'rtmpbench', n: 1 })]),
    0,
    MSG_COMMAND_AMF3,
  );
  const r = await conn.waitReply(tid, ctx.waitMs, 'the answer to createStream with AMF3 values');
  const streamId = r.args[0];
  if (r.name !== '_result' || typeof streamId !== 'number')
    return { result: 'fail', detail: `createStream with AMF3 values was refused: ${describeReply(r)}` };
  const name = ctx.streamName();
  const from = conn.messages.length;
  conn.sendCommandBody(
    Buffer.concat([encodeAmf0('publish', conn.transactionId(), null), avmplus(name), avmplus('live')]),
    streamId,
    MSG_COMMAND_AMF3,
  );
  const s = await conn.waitStatus(
    (code, level) => code === 'NetStream.Publish.Start' || level === 'error',
    ctx.waitMs,
    'the status of publish with an AMF3 stream name',
    streamId,
    from,
  );
  if (s.code !== 'NetStream.Publish.Start')
    return { result: 'fail', detail: `publish with an AMF3 stream name was refused: ${s.code}` };
  conn.published.add(streamId);
  return { result: 'pass', detail: 'createStream and publish with AMF3 values (avmplus) were understood' };
}

/** connect with objectEncoding 3: does the server agree to AMF3? */
export async function objectEncoding3(ctx: ProbeContext): Promise<ProbeVerdict> {
  const conn = await ctx.dial();
  await conn.handshake(ctx.waitMs);
  const reply = await conn.command(
    'connect',
    { app: ctx.target.url.app, tcUrl: ctx.target.url.tcUrl, flashVer: 'WIN 32,0,0,0', objectEncoding: 3 },
    [],
    0,
    ctx.waitMs,
    20,
    1,
  );
  if (reply.name !== '_result') {
    ctx.note('answer', describeReply(reply));
    return { result: 'n/a', detail: `connect with objectEncoding 3 was refused (${describeReply(reply)})` };
  }
  const info = reply.args.find(isAmfObject);
  const enc = info?.objectEncoding;
  ctx.note('objectEncoding in _result', typeof enc === 'number' ? enc : 'absent');
  if (enc === 3) return { result: 'pass', detail: 'accepted; the _result says objectEncoding 3' };
  return {
    result: 'n/a',
    detail:
      `accepted, but the _result says objectEncoding ` +
      `${typeof enc === 'number' ? enc : 'nothing'}: the server speaks AMF0 only`,
  };
}

/** Extra values in connect, one kind per connection: what an AMF0 reader must handle. */
const CONNECT_EXTRAS: { what: string; properties?: Record<string, AmfValue>; args?: AmfValue[] }[] = [
  { what: 'a strict array', properties: { strictArray: ['avc1', 'mp4a', 42] } },
  { what: 'an ECMA array', properties: { ecmaArray: ecmaArray({ key: 'value', n: 7 }) } },
  { what: 'a date', properties: { date: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)) } },
  { what: 'nested objects', properties: { nested: { a: { b: true, c: null } } } },
  { what: 'optional user arguments', args: [{ user: 'argument', n: 1 }, 'extra', 3.5] },
];

/**
 * connect with a strict array, an ECMA array, a date, nested objects, user arguments: each on a
 * connection of its own.
 */
export async function connectAmfTypes(ctx: ProbeContext): Promise<ProbeVerdict> {
  const refused: string[] = [];
  for (const extra of CONNECT_EXTRAS) {
    const conn = await ctx.dial();
    await conn.handshake(ctx.waitMs);
    const r = await conn
      .connect(ctx.waitMs, {
        ...(extra.properties ? { properties: extra.properties } : {}),
        ...(extra.args ? { args: extra.args } : {}),
      })
      .then(
        () => 'answered',
        (e: Error) => (conn.closed ? 'connection closed' : e.message.replace(/^.*: /, '')),
      );
    ctx.note(extra.what, r);
    if (r !== 'answered') refused.push(`${extra.what} (${r})`);
    conn.close();
  }
  if (refused.length > 0) return { result: 'fail', detail: `connect failed with ${refused.join(', ')}` };
  return {
    result: 'pass',
    detail:
      'connect was answered with each of a strict array, an ECMA array, a date, nested objects and user arguments',
  };
}

/** Deep equality of AMF values as they survive a round trip (dates by time, arrays by items). */
function amfEqual(a: AmfValue, b: AmfValue): boolean {
  if (a instanceof Date || b instanceof Date)
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (Array.isArray(a) || Array.isArray(b))
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => amfEqual(v, b[i]));
  if (isAmfObject(a) && isAmfObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => amfEqual(a[k], b[k]));
  }
  return a === b;
}

/** Metadata as encoders send it: numbers, strings, booleans, a nested object. */
const PLAIN_METADATA: AmfObject = {
  width: 640,
  height: 360,
  framerate: 25,
  videocodecid: 7,
  audiocodecid: 10,
  stereo: true,
  encoder: 'rtmpbench probe',
  rtmpbenchMarker: 'metadata-passthrough',
  nested: { level: 2, ok: true },
};

/** Metadata with the AMF types some encoders add: a strict array and a date (in an ECMA array, as always). */
const TYPED_METADATA: AmfObject = {
  width: 640,
  height: 360,
  videocodecid: 7,
  keywords: ['live', 'probe', 3],
  creationdate: new Date(Date.UTC(2024, 5, 6, 7, 8, 9)),
};

/** Publishes `@setDataFrame onMetaData {...}` (as type `typeId`) and judges what the viewer got. */
async function metadata(ctx: ProbeContext, typeId: number, sent: AmfObject): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx);
  const media = new ProbeMedia();
  const body = encodeAmf0('@setDataFrame', 'onMetaData', ecmaArray(sent));
  const payload = typeId === MSG_DATA_AMF3 ? Buffer.concat([Buffer.from([0]), body]) : body;
  pub.conn.write(
    chunkMessage({ csid: 5, typeId, streamId: pub.streamId, timestamp: 0, payload }, { chunkSize: pub.conn.chunkSize }),
  );
  const av = media.avcAacStream(3);
  sendAll(pub, av);
  await checkRelay(view, av, ctx.waitMs);
  const data = viewerMedia(view).filter((m) => m.typeId === MSG_DATA_AMF0 || m.typeId === MSG_DATA_AMF3);
  const keys = Object.keys(sent);
  for (const m of data) {
    let d: DataMessage;
    try {
      d = parseData(m.payload, m.typeId);
    } catch (e) {
      ctx.note('undecodable data message', (e as Error).message);
      continue;
    }
    if (d.name === '@setDataFrame')
      return {
        result: 'fail',
        detail: 'the viewer got "@setDataFrame onMetaData ...": the server did not turn it into onMetaData',
      };
    if (d.name !== 'onMetaData') continue;
    const props = d.values.find(isAmfObject);
    if (props === undefined) return { result: 'fail', detail: 'onMetaData reached the viewer without its object' };
    const kept = keys.filter((k) => amfEqual(sent[k], props[k]));
    const lost = keys.filter((k) => !kept.includes(k));
    ctx.note('properties kept', `${kept.length} of ${keys.length}`);
    if (lost.length > 0) ctx.note('properties lost or changed', lost.join(', '));
    const added = Object.keys(props).filter((k) => !(k in sent));
    if (added.length > 0) ctx.note('properties the server added', added.join(', '));
    ctx.note('viewer message type', m.typeId);
    if (lost.length === 0)
      return {
        result: 'pass',
        detail: `onMetaData reached the viewer with every property intact (as message type ${m.typeId})`,
      };
    return {
      result: 'n/a',
      detail:
        `the server rewrites metadata: ${lost.length} of ${keys.length} properties lost or ` +
        `changed (${lost.slice(0, 4).join(', ')})`,
    };
  }
  ctx.note(
    'data messages received',
    data.map((m) => `type ${m.typeId} "${dataName(m.payload, m.typeId)}"`).join(', ') || 'none',
  );
  if (view.conn.closed)
    return { result: 'fail', detail: `no metadata; the viewer's connection ended: ${view.conn.closedBy}` };
  if (pub.conn.closed)
    return { result: 'fail', detail: `no metadata; the publisher's connection ended: ${pub.conn.closedBy}` };
  return { result: 'fail', detail: 'no onMetaData reached the viewer' };
}

function dataName(payload: Buffer, typeId: number): string {
  try {
    return parseData(payload, typeId).name;
  } catch {
    return '?';
  }
}

export const metadataPassthrough = (ctx: ProbeContext) => metadata(ctx, MSG_DATA_AMF0, PLAIN_METADATA);
export const metadataAmfTypes = (ctx: ProbeContext) => metadata(ctx, MSG_DATA_AMF0, TYPED_METADATA);
export const metadataAmf3 = (ctx: ProbeContext) => metadata(ctx, MSG_DATA_AMF3, PLAIN_METADATA);

/** A command the server cannot know, with a transaction id: a client waiting on it needs an answer. */
export async function unknownCommand(ctx: ProbeContext): Promise<ProbeVerdict> {
  const conn = await ctx.open();
  const reply = await conn
    .command('rtmpbenchNoSuchMethod', null, ['argument'], 0, ctx.waitMs)
    .catch((e: StepError) => e);
  const alive = await conn.createStream(ctx.waitMs).then(
    () => true,
    () => false,
  );
  ctx.note('connection usable afterwards', alive);
  if (reply instanceof Error) {
    ctx.note('answer', 'none');
    return {
      result: 'fail',
      detail: conn.closed
        ? `the server closed the connection: ${conn.closedBy}`
        : 'no answer: a client waiting on its transaction id waits forever',
    };
  }
  ctx.note('answer', describeReply(reply));
  if (!alive)
    return {
      result: 'fail',
      detail: `answered (${describeReply(reply)}) but the connection was not usable afterwards`,
    };
  return { result: 'pass', detail: `answered with ${describeReply(reply)}; the connection stays usable` };
}

/** releaseStream and FCPublish before publish, FCUnpublish before deleteStream (OBS's and ffmpeg's sequence). */
export async function fcPublish(ctx: ProbeContext): Promise<ProbeVerdict> {
  const conn = await ctx.open();
  const name = ctx.streamName();
  const from = conn.messages.length;
  const releaseTid = conn.sendCommand('releaseStream', null, [name]);
  conn.sendCommand('FCPublish', null, [name]);
  const pub = await publishOn(ctx, conn, name, { fcPublish: false });
  const commands = conn.messages.slice(from).map(commandOf);
  const released = commands.some(
    (c) => (c?.name === '_result' || c?.name === '_error') && c.transactionId === releaseTid,
  );
  const onFc = commands.some((c) => c?.name === 'onFCPublish');
  ctx.note('releaseStream answered', released);
  ctx.note('onFCPublish received', onFc);
  conn.sendCommand('FCUnpublish', null, [name]);
  conn.sendCommand('deleteStream', null, [pub.streamId]);
  conn.published.delete(pub.streamId);
  await conn.pause(Math.min(500, ctx.waitMs));
  ctx.note(
    'after FCUnpublish',
    conn.closed ? `connection ended: ${conn.closedBy}` : conn.statusCodes().slice(-2).join(', ') || 'no status',
  );
  if (conn.closed)
    return { result: 'fail', detail: `the connection ended after FCUnpublish and deleteStream: ${conn.closedBy}` };
  return {
    result: 'pass',
    detail:
      `publish after releaseStream and FCPublish ` +
      `started${onFc ? ' (onFCPublish received)' : ''}; FCUnpublish and deleteStream accepted`,
  };
}

/** Three players of one live stream: play with start -2 (live or recorded), -1 (live only) and 0 (recorded from 0). */
export async function playArguments(ctx: ProbeContext): Promise<ProbeVerdict> {
  const name = ctx.streamName();
  const pub = await ctx.setup('publish', () => publish(ctx, name));
  const outcomes: Record<string, string> = {};
  const viewers = [];
  for (const start of [-2, -1, 0]) {
    const v = await play(ctx, name, { start }).catch((e: Error) => e);
    outcomes[`play start ${start}`] = v instanceof Error ? why(v) : 'Play.Start';
    if (!(v instanceof Error)) viewers.push({ start, v });
  }
  const sent = new ProbeMedia().avcAacStream(3);
  sendAll(pub, sent);
  const got: number[] = [];
  for (const { start, v } of viewers) {
    const c = await checkRelay(v, sent, ctx.waitMs);
    outcomes[`media with start ${start}`] = `${c.arrived} of ${c.expected}`;
    if (c.missing.length === 0) got.push(start);
  }
  for (const [k, v] of Object.entries(outcomes)) ctx.note(k, v);
  const live = [-2, -1].every((s) => got.includes(s));
  if (live && got.includes(0)) return { result: 'pass', detail: 'start -2, -1 and 0 all play the live stream' };
  if (live && outcomes['play start 0'] !== 'Play.Start')
    return {
      result: 'n/a',
      detail: `start -2 and -1 play the live stream; start 0 (recorded only) is refused: ${outcomes['play start 0']}`,
    };
  return {
    result: 'fail',
    detail: `live play failed for start ${[-2, -1, 0].filter((s) => !got.includes(s)).join(', ')}`,
  };
}

/** deleteStream of a publishing NetStream, the connection kept open: the name must be free again. */
export async function deleteStream(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx);
  sendAll(pub, new ProbeMedia().avcAacStream(2));
  const from = view.conn.messages.length;
  pub.conn.sendCommand('deleteStream', null, [pub.streamId]);
  pub.conn.published.delete(pub.streamId);
  const notified = await view.conn
    .waitStatus(
      (code) => code === 'NetStream.Play.UnpublishNotify',
      Math.min(ctx.waitMs, 1500),
      'UnpublishNotify',
      undefined,
      from,
    )
    .then(
      () => true,
      () => false,
    );
  ctx.note('viewer told of the unpublish', notified);
  const again = await publish(ctx, pub.name).catch((e: Error) => e);
  ctx.note('publishing connection after deleteStream', pub.conn.closed ? `ended: ${pub.conn.closedBy}` : 'open');
  if (again instanceof Error) {
    ctx.note('new publisher', why(again));
    return { result: 'fail', detail: `after deleteStream the name stays taken: ${why(again).replace(/^.*?: /, '')}` };
  }
  const fresh = await ctx.setup('play', () => play(ctx, pub.name));
  const sent = new ProbeMedia().avcAacStream(2);
  sendAll(again, sent);
  const c = await checkRelay(fresh, sent, ctx.waitMs);
  if (c.missing.length > 0)
    return {
      result: 'fail',
      detail:
        `after deleteStream a new publisher was accepted, but its media did not reach a ` +
        `viewer${again.conn.closed ? ` (its connection ended: ${again.conn.closedBy})` : ''}`,
    };
  const reuse = await pub.conn.createStream(ctx.waitMs).then(
    () => 'usable',
    (e: Error) => why(e),
  );
  ctx.note('old connection', reuse);
  return {
    result: 'pass',
    detail:
      `deleteStream ended the publication: the name was free for a new publisher at ` +
      `once${reuse === 'usable' ? '; the connection stayed usable' : ''}`,
  };
}
