import { MSG_USER_CONTROL, UC_STREAM_EOF } from '../../../protocol/constants.js';
import { statusInfo } from '../../../protocol/commands.js';
import { commandOf } from '../connection.js';
import type { ProbeContext, ProbeVerdict } from '../context.js';
import { why } from '../errors.js';
import { ProbeMedia } from '../media.js';
import { checkRelay, findReceived, play, publish, relayPair, relayVerdict, sendAll, type Viewer } from '../relay.js';

/**
 * Sessions: play before publish, a second publisher, republish, viewers told of unpublish, stream keys
 * with a query.
 */

/** The viewer plays a name nobody publishes yet; a publisher comes 300 ms later. */
export async function playBeforePublish(ctx: ProbeContext): Promise<ProbeVerdict> {
  const name = ctx.streamName();
  const view = await play(ctx, name).catch((e: Error) => e);
  if (view instanceof Error)
    return { result: 'fail', detail: `playing a stream not yet published was refused: ${why(view)}` };
  await ctx.sleep(300);
  const pub = await ctx.setup('publish', () => publish(ctx, name));
  const sent = new ProbeMedia().avcAacStream(3);
  sendAll(pub, sent);
  const c = await checkRelay(view, sent, ctx.waitMs);
  ctx.note('viewer statuses', view.conn.statusCodes(view.streamId).join(', '));
  return relayVerdict(ctx, c, 'the media of a publisher that came after the viewer', { publisher: pub });
}

/** Whether a viewer got the message with this marker. */
const got = (view: Viewer, m: Parameters<typeof findReceived>[1]) =>
  findReceived(view.conn.messages, m, view.from) !== undefined;

/** A second publisher on a name that is being published. */
export async function secondPublisher(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx);
  const media = new ProbeMedia();
  const first = media.avcAacStream(2);
  sendAll(pub, first);
  await checkRelay(view, first, ctx.waitMs);
  const second = await publish(ctx, pub.name).catch((e: Error) => e);
  const fromFirst = [
    media.avcFrame(true, 200, 2000, 'first publisher, after'),
    media.avcFrame(false, 240, 800, 'first publisher, after (2)'),
  ];
  sendAll(pub, fromFirst);
  if (second instanceof Error) {
    ctx.note('second publisher', why(second));
    const c = await checkRelay(view, fromFirst, ctx.waitMs);
    if (c.missing.length > 0)
      return {
        result: 'fail',
        detail: `the second publisher was refused, but the first one's media stopped reaching the viewer`,
      };
    return {
      result: 'pass',
      detail: `the second publisher was refused (${why(second).replace(/^.*refused: /, '')}); the first kept the stream`,
    };
  }
  ctx.note('second publisher', 'accepted');
  const fromSecond = [
    media.avcSequenceHeader(300),
    media.avcFrame(true, 300, 2000, 'second publisher'),
    media.avcFrame(false, 340, 800, 'second publisher (2)'),
  ];
  sendAll(second, fromSecond);
  await checkRelay(view, fromSecond.slice(1), ctx.waitMs);
  const a = fromFirst.filter((m) => got(view, m)).length;
  const b = fromSecond.slice(1).filter((m) => got(view, m)).length;
  ctx.note('viewer got from the first after the second came', a);
  ctx.note('viewer got from the second', b);
  ctx.note('first publisher connection', pub.conn.closed ? `ended: ${pub.conn.closedBy}` : 'open');
  if (a > 0 && b > 0)
    return { result: 'fail', detail: 'both publishers were accepted and the viewer got a mix of their frames' };
  if (b > 0)
    return {
      result: 'pass',
      detail: `the second publisher replaced the first${pub.conn.closed ? ' (the first was disconnected)' : ''}`,
    };
  if (a > 0) return { result: 'fail', detail: 'the second publisher was told it publishes, but its frames go nowhere' };
  return { result: 'fail', detail: 'after a second publisher came, the viewer got frames from neither' };
}

/**
 * The publisher unpublishes and leaves; a new one publishes the same name: the viewer, still playing,
 * must get its media.
 */
export async function republish(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx);
  const media = new ProbeMedia();
  const first = media.avcAacStream(2);
  sendAll(pub, first);
  await checkRelay(view, first, ctx.waitMs);
  pub.conn.close();
  await ctx.sleep(300);
  const again = await ctx.setup('publish again', () => publish(ctx, pub.name));
  const second = [
    media.avcSequenceHeader(0),
    media.aacSequenceHeader(0),
    media.avcFrame(true, 0, 3000, 'keyframe after republish'),
    media.avcFrame(false, 40, 800, 'frame after republish'),
  ];
  sendAll(again, second);
  const c = await checkRelay(view, second, ctx.waitMs);
  ctx.note('viewer statuses', view.conn.statusCodes(view.streamId).join(', '));
  return relayVerdict(ctx, c, "the new publisher's media to a viewer that kept playing", {
    publisher: again,
    anyTimestamps: true,
  });
}

/** How a viewer learned that its stream ended: UnpublishNotify, StreamEOF, or its connection closed. */
async function endNotice(ctx: ProbeContext, view: Viewer, from: number): Promise<string | null> {
  const seen = () => {
    const notices: string[] = [];
    for (let i = from; i < view.conn.messages.length; i++) {
      const m = view.conn.messages[i]!;
      if (m.typeId === MSG_USER_CONTROL && m.payload.length >= 2 && m.payload.readUInt16BE(0) === UC_STREAM_EOF)
        notices.push('StreamEOF');
      const c = commandOf(m);
      const code = c?.name === 'onStatus' ? statusInfo(c)?.code : undefined;
      if (code === 'NetStream.Play.UnpublishNotify' || code === 'NetStream.Play.Stop') notices.push(code);
    }
    if (notices.length > 0) return notices.join(' and ');
    return view.conn.closed ? 'its connection closed' : undefined;
  };
  return view.conn.waitFor(seen, ctx.waitMs, 'a notice that the stream ended', true).catch(() => null);
}

/** The publisher sends FCUnpublish and deleteStream: the viewer must be told. */
export async function unpublishNotify(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx);
  const media = new ProbeMedia();
  const sent = media.avcAacStream(2);
  sendAll(pub, sent);
  await checkRelay(view, sent, ctx.waitMs);
  const from = view.conn.messages.length;
  pub.conn.sendCommand('FCUnpublish', null, [pub.name]);
  pub.conn.sendCommand('deleteStream', null, [pub.streamId]);
  pub.conn.published.delete(pub.streamId);
  const notice = await endNotice(ctx, view, from);
  ctx.note('viewer notice', notice ?? 'none');
  if (notice === null)
    return { result: 'fail', detail: `the viewer was not told within ${ctx.waitMs} ms that the stream ended` };
  return { result: 'pass', detail: `the viewer was told: ${notice}` };
}

/** The publisher's connection drops without unpublishing: the viewer must be told. */
export async function publisherDrop(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx);
  const sent = new ProbeMedia().avcAacStream(2);
  sendAll(pub, sent);
  await checkRelay(view, sent, ctx.waitMs);
  const from = view.conn.messages.length;
  pub.conn.destroy();
  const notice = await endNotice(ctx, view, from);
  ctx.note('viewer notice', notice ?? 'none');
  if (notice === null)
    return { result: 'fail', detail: `the viewer was not told within ${ctx.waitMs} ms that the publisher was gone` };
  return { result: 'pass', detail: `the viewer was told: ${notice}` };
}

/** The publisher's stream key carries a query (?token=...), as services hand out; viewers play the bare name. */
export async function nameWithQuery(ctx: ProbeContext): Promise<ProbeVerdict> {
  const name = ctx.streamName();
  const pub = await publish(ctx, `${name}?token=rtmpbench&x=1`).catch((e: Error) => e);
  if (pub instanceof Error) return { result: 'fail', detail: `publishing "${name}?token=...": ${why(pub)}` };
  const view = await ctx.setup('play', () => play(ctx, name));
  const sent = new ProbeMedia().avcAacStream(3);
  sendAll(pub, sent);
  return relayVerdict(
    ctx,
    await checkRelay(view, sent, ctx.waitMs),
    'media published as "name?query" to a viewer of "name"',
    { publisher: pub },
  );
}
