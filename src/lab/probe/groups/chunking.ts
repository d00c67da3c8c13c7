import { MSG_ACKNOWLEDGEMENT } from '../../../protocol/constants.js';
import { abortMessage } from '../../../protocol/control.js';
import type { ProbeContext, ProbeVerdict } from '../context.js';
import { ProbeMedia, type ProbeMessage } from '../media.js';
import {
  checkRelay,
  chunksOf,
  findReceived,
  relayEvidence,
  relayPair,
  relayPairAt,
  relayVerdict,
  sendAll,
} from '../relay.js';
import { interleave } from '../wire/raw-chunks.js';

/**
 * Chunking probes: chunk sizes a publisher announces, chunk stream ids in each basic-header
 * range, how many chunk streams a connection may open, messages split and interleaved, Abort,
 * and header compression as encoders use it.
 */

/** A stream with messages that span several chunks at any size up to 64 KB. */
function spanningStream(media: ProbeMedia): ProbeMessage[] {
  return [
    media.avcSequenceHeader(),
    media.aacSequenceHeader(),
    media.avcFrame(true, 0, 150_000, 'keyframe of 150000 bytes'),
    media.aacFrame(20),
    media.avcFrame(false, 40, 9000, 'frame of 9000 bytes'),
    media.avcFrame(false, 80, 300, 'frame of 300 bytes'),
  ];
}

/** The publisher announces `size` as its chunk size and sends messages spanning many chunks. */
export function chunkSize(size: number): (ctx: ProbeContext) => Promise<ProbeVerdict> {
  return async (ctx) => {
    const { pub, view } = await relayPairAt(ctx, size);
    const sent = spanningStream(new ProbeMedia());
    sendAll(pub, sent);
    ctx.note('chunk size announced', size);
    return relayVerdict(ctx, await checkRelay(view, sent, ctx.waitMs), `media sent at chunk size ${size}`, {
      publisher: pub,
    });
  };
}

/** The publisher sends all its media on chunk stream `csid` (1-, 2- or 3-byte basic header). */
export function chunkStreamId(csid: number): (ctx: ProbeContext) => Promise<ProbeVerdict> {
  return async (ctx) => {
    const { pub, view } = await relayPair(ctx);
    const sent = new ProbeMedia().avcAacStream(4);
    sendAll(pub, sent, { csid });
    ctx.note('chunk stream id', csid);
    return relayVerdict(ctx, await checkRelay(view, sent, ctx.waitMs), `media on chunk stream ${csid}`, {
      publisher: pub,
    });
  };
}

/** Largest number of chunk streams tried. */
const CHUNK_STREAM_CAP = 1000;

/** Whether a connection may use chunk stream ids 2..k+1 at once (an Acknowledgement on each, then a command). */
async function acceptsChunkStreams(ctx: ProbeContext, k: number): Promise<boolean> {
  const conn = await ctx.setup('connect', () => ctx.open());
  const ack = Buffer.from([0, 0, 0, 0]);
  for (let id = 2; id < k + 2; id++)
    conn.send({ csid: id, typeId: MSG_ACKNOWLEDGEMENT, streamId: 0, timestamp: 0, payload: ack });
  const ok = await conn.createStream(ctx.waitMs).then(
    () => true,
    () => false,
  );
  conn.close();
  return ok;
}

/** How many chunk streams (ids 2, 3, 4...) one connection may have open at once. */
export async function chunkStreamLimit(ctx: ProbeContext): Promise<ProbeVerdict> {
  let ok = 1;
  let bad = 0;
  for (const k of [16, 32, 64, 128, 256, CHUNK_STREAM_CAP]) {
    if (await acceptsChunkStreams(ctx, k)) ok = k;
    else {
      bad = k;
      break;
    }
  }
  if (bad === 0) {
    ctx.note('chunk streams accepted', `${CHUNK_STREAM_CAP} (all tried)`);
    return {
      result: 'info',
      detail: `accepted ${CHUNK_STREAM_CAP} chunk streams at once (ids 2..${CHUNK_STREAM_CAP + 1}), the most tried`,
    };
  }
  while (bad - ok > 1) {
    const mid = Math.floor((ok + bad) / 2);
    if (await acceptsChunkStreams(ctx, mid)) ok = mid;
    else bad = mid;
  }
  ctx.note('chunk streams accepted', ok);
  ctx.note('first refused chunk stream id', ok + 2);
  return {
    result: 'info',
    detail: `at most ${ok} chunk streams at once (ids 2..${ok + 1}); using id ${ok + 2} too ended the connection`,
  };
}

/** Three messages cut into 128-byte chunks, the chunks interleaved between three chunk streams. */
export async function interleaved(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx, { publish: { chunkSize: 128 } });
  const media = new ProbeMedia();
  // The keyframe goes first on its own: players join at a keyframe.
  const head = media.avcAacStream(1);
  sendAll(pub, head);
  const video = media.avcFrame(false, 40, 6000, 'frame (video chunk stream)');
  const audio = media.aacFrame(40, 900, 'audio (audio chunk stream)');
  const video2 = media.avcFrame(false, 80, 2500, 'frame (a third chunk stream)');
  const lists = [chunksOf(pub, video), chunksOf(pub, audio), chunksOf(pub, video2, { csid: 7 })];
  pub.conn.write(interleave(lists));
  const tail = [media.avcFrame(false, 120, 800, 'frame after')];
  sendAll(pub, tail);
  ctx.note(
    'chunks interleaved',
    lists.reduce((n, l) => n + l.length, 0),
  );
  return relayVerdict(
    ctx,
    await checkRelay(view, [...head, video, audio, video2, ...tail], ctx.waitMs),
    'interleaved messages',
    { publisher: pub },
  );
}

/** Half a message, Abort for its chunk stream, then a new message on the same chunk stream. */
export async function abort(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx, { publish: { chunkSize: 128 } });
  const media = new ProbeMedia();
  const head = media.avcAacStream(1);
  sendAll(pub, head);
  const aborted = media.avcFrame(false, 40, 3000, 'aborted frame');
  const partial = chunksOf(pub, aborted).slice(0, 4);
  pub.conn.write(partial);
  pub.conn.send(abortMessage(6));
  const after = [media.avcFrame(false, 80, 2000, 'frame after Abort'), media.avcFrame(false, 120, 500, 'next frame')];
  sendAll(pub, after);
  const c = await checkRelay(view, [...head, ...after], ctx.waitMs);
  ctx.note('chunks sent of the aborted message', `${partial.length} of ${chunksOf(pub, aborted).length}`);
  const leaked = findReceived(view.conn.messages, aborted, view.from);
  if (leaked !== undefined) {
    relayEvidence(ctx, c);
    return {
      result: 'fail',
      detail: 'the aborted message reached the viewer (Abort ignored: the next message was read as its rest)',
    };
  }
  return relayVerdict(ctx, c, 'the messages after Abort', { publisher: pub });
}

/** fmt 0, then fmt 1 (new length), fmt 2 (same length, new delta) on video; audio with fmt 2 deltas. */
export async function headerCompression(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx, { publish: { chunkSize: 128 } });
  const media = new ProbeMedia();
  const base = 1000;
  const seq = [media.avcSequenceHeader(base), media.aacSequenceHeader(base)];
  sendAll(pub, seq);
  const v0 = media.avcFrame(true, base, 3000, 'keyframe (fmt 0)');
  const v1 = media.avcFrame(false, base + 40, 1000, 'frame (fmt 1, delta 40)');
  const v2 = media.avcFrame(false, base + 73, 1000, 'frame (fmt 2, delta 33)');
  const a0 = media.aacFrame(base + 10, 300, 'audio (fmt 0)');
  const a1 = media.aacFrame(base + 33, 300, 'audio (fmt 2, delta 23)');
  const a2 = media.aacFrame(base + 60, 300, 'audio (fmt 2, delta 27)');
  pub.conn.write([
    ...chunksOf(pub, v0),
    ...chunksOf(pub, a0),
    ...chunksOf(pub, v1, { fmt: 1, field: 40 }),
    ...chunksOf(pub, a1, { fmt: 2, field: 23 }),
    ...chunksOf(pub, v2, { fmt: 2, field: 33 }),
    ...chunksOf(pub, a2, { fmt: 2, field: 27 }),
  ]);
  return relayVerdict(
    ctx,
    await checkRelay(view, [...seq, v0, a0, v1, a1, v2, a2], ctx.waitMs),
    'messages with fmt 1 and 2 headers',
    { publisher: pub },
  );
}

/** Audio frames of one size at one interval, the later ones each starting with a fmt-3 header. */
export async function fmt3NewMessage(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx, { publish: { chunkSize: 128 } });
  const media = new ProbeMedia();
  const seq = [media.avcSequenceHeader(500), media.aacSequenceHeader(500), media.avcFrame(true, 500, 2000, 'keyframe')];
  sendAll(pub, seq);
  const frames = [0, 1, 2, 3].map((i) =>
    media.aacFrame(
      500 + i * 23,
      200,
      i === 0
        ? 'audio (fmt 0)'
        : i === 1
          ? 'audio (fmt 2, delta 23)'
          : `audio ${i} (fmt 3: new message, delta 23 again)`,
    ),
  );
  pub.conn.write([
    ...chunksOf(pub, frames[0]!),
    ...chunksOf(pub, frames[1]!, { fmt: 2, field: 23 }),
    ...chunksOf(pub, frames[2]!, { fmt: 3, field: 23 }),
    ...chunksOf(pub, frames[3]!, { fmt: 3, field: 23 }),
  ]);
  const c = await checkRelay(view, [...seq, ...frames], ctx.waitMs);
  return relayVerdict(ctx, c, 'messages that start with a fmt-3 header', { publisher: pub, rebaseOk: true });
}
