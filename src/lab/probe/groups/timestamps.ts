import type { ProbeContext, ProbeVerdict } from '../context.js';
import { ProbeMedia, type ProbeMessage } from '../media.js';
import { checkRelay, chunksOf, relayPair, relayVerdict, sendAll, timestampPolicy, type RelayCheck } from '../relay.js';

/**
 * Timestamp probes: extended timestamps (with and without the field repeated on type-3
 * chunks), the 32-bit wrap, timestamps that go back, and what timestamps viewers get.
 */

const TWO_POW_24 = 2 ** 24;
const TWO_POW_32 = 2 ** 32;

/** Type-3 chunks the server sent without the extended timestamp, over the relayed messages that needed one. */
function omittedByServer(c: RelayCheck): { omitted: number; repeated: number } {
  let omitted = 0;
  let repeated = 0;
  for (const m of c.matches) {
    if (m === undefined || !m.extended) continue;
    omitted += m.extendedOmitted;
    repeated += m.extendedRepeated;
  }
  return { omitted, repeated };
}

/** Media from 2^24 ms on (4.66 h), messages of several chunks, the extended field as `repeat` says. */
async function extended(ctx: ProbeContext, repeat: boolean): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx, { publish: { chunkSize: 1024 } });
  const base = TWO_POW_24 + 5000;
  const sent = new ProbeMedia().avcAacStream(4, base);
  sendAll(pub, sent, { extendedOnType3: repeat });
  const c = await checkRelay(view, sent, ctx.waitMs);
  ctx.note('first timestamp sent', base);
  ctx.note('extended field on our type-3 chunks', repeat ? 'repeated' : 'left out');
  const verdict = relayVerdict(ctx, c, `media at ${base} ms`, { publisher: pub });
  const server = omittedByServer(c);
  if (server.omitted + server.repeated > 0)
    ctx.note(
      "server's type-3 chunks with an extended timestamp",
      `${server.repeated} repeated it, ${server.omitted} left it out`,
    );
  if (verdict.result === 'pass' && server.omitted > 0) {
    return {
      result: 'fail',
      detail:
        `relayed, but the server left the extended timestamp out of ${server.omitted} type-3 ` +
        `chunks it sent: spec-following viewers (ffmpeg, librtmp) misread them`,
    };
  }
  return verdict;
}

export const extendedRepeated = (ctx: ProbeContext) => extended(ctx, true);
export const extendedNotRepeated = (ctx: ProbeContext) => extended(ctx, false);

/** Timestamps that cross 2^32 ms: fmt-1 deltas carry the clock over, the wire value wraps to small. */
export async function wrap(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx);
  const media = new ProbeMedia();
  const base = TWO_POW_32 - 100;
  const head = [media.avcSequenceHeader(base), media.avcFrame(true, base, 3000, 'keyframe at 2^32 - 100 ms')];
  sendAll(pub, head);
  const frames: ProbeMessage[] = [];
  for (let i = 1; i <= 5; i++)
    frames.push(
      media.avcFrame(
        false,
        base + i * 40,
        1000,
        `frame at 2^32 ${i * 40 - 100 >= 0 ? '+' : '-'} ${Math.abs(i * 40 - 100)} ms`,
      ),
    );
  for (const f of frames) pub.conn.write(chunksOf(pub, f, { fmt: 1, field: 40 }));
  const c = await checkRelay(view, [...head, ...frames], ctx.waitMs);
  ctx.note('wire timestamps sent', `${base} .. ${(base + 200) % TWO_POW_32} (wrapped)`);
  return relayVerdict(ctx, c, 'media across the 2^32 ms wrap', { publisher: pub });
}

/** Timestamps that jump back (an encoder restart): fmt-0 headers with a smaller absolute time. */
export async function backwards(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx);
  const media = new ProbeMedia();
  const sent = [
    media.avcSequenceHeader(10_000),
    media.avcFrame(true, 10_000, 3000, 'keyframe at 10000 ms'),
    media.avcFrame(false, 10_040, 1000, 'frame at 10040 ms'),
    media.avcFrame(true, 6_000, 3000, 'keyframe at 6000 ms (back 4 s)'),
    media.avcFrame(false, 6_040, 1000, 'frame at 6040 ms'),
    media.avcFrame(false, 6_080, 1000, 'frame at 6080 ms'),
  ];
  sendAll(pub, sent);
  const c = await checkRelay(view, sent, ctx.waitMs);
  return relayVerdict(ctx, c, 'media whose timestamps go back', { publisher: pub, anyTimestamps: true });
}

/** What a viewer's timestamps are: as the publisher sent them, or rebased to start near zero. */
export async function viewerTimeline(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx);
  const base = 600_000;
  const sent = new ProbeMedia().avcAacStream(4, base);
  sendAll(pub, sent);
  const c = await checkRelay(view, sent, ctx.waitMs);
  const verdict = relayVerdict(ctx, c, `media from ${base} ms`, { publisher: pub, anyTimestamps: true });
  if (verdict.result !== 'pass') return verdict;
  const first = c.matches.find((m) => m !== undefined);
  ctx.note('first timestamp received', first?.timestamp ?? null);
  const policy = timestampPolicy(c.offsets);
  return {
    result: 'info',
    detail:
      policy === 'as sent'
        ? `as the publisher sent them (a stream starting at ${base} ms stays there)`
        : `${policy} (the publisher started at ${base} ms)`,
  };
}
