import { isAmfObject } from '../../../protocol/amf-types.js';
import type { ProbeContext, ProbeVerdict } from '../context.js';
import { ProbeMedia, type EnhancedCodec } from '../media.js';
import { checkRelay, relayEvidence, relayPair, relayVerdict, sendAll } from '../relay.js';

/**
 * Media: legacy AVC/AAC, Enhanced RTMP (fourCcList, HEVC, AV1, VP9, multitrack, ModEx),
 * large keyframes, audio-only and video-only streams. Each passes when the viewer gets every
 * message byte for byte.
 */

/** Metadata, AVC and AAC sequence headers, a keyframe, inter frames and audio. */
export async function avcAac(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx);
  const sent = new ProbeMedia().avcAacStream(8);
  sendAll(pub, sent);
  return relayVerdict(ctx, await checkRelay(view, sent, ctx.waitMs), 'AVC/AAC', { publisher: pub });
}

/** connect with an Enhanced RTMP fourCcList (a strict array of FourCCs, as OBS sends). */
export async function fourCcList(ctx: ProbeContext): Promise<ProbeVerdict> {
  const conn = await ctx.dial();
  await conn.handshake(ctx.waitMs);
  const reply = await conn.connect(ctx.waitMs, {
    properties: { fourCcList: ['av01', 'vp09', 'hvc1', 'avc1', 'mp4a', 'Opus'] },
  });
  const objects = [reply.commandObject, ...reply.args].filter(isAmfObject);
  const declared = ['fourCcList', 'videoFourCcInfoMap', 'audioFourCcInfoMap', 'capsEx'].filter((k) =>
    objects.some((o) => k in o),
  );
  ctx.note('E-RTMP properties in _result', declared.join(', ') || 'none');
  return {
    result: 'pass',
    detail:
      `accepted; the _result ` +
      `${declared.length > 0 ? `declares ${declared.join(', ')}` : 'declares no Enhanced RTMP support'}`,
  };
}

/** An Enhanced RTMP stream of `codec`: SequenceStart, a keyframe, inter frames (HEVC: one CodedFramesX). */
export function enhanced(codec: EnhancedCodec): (ctx: ProbeContext) => Promise<ProbeVerdict> {
  return async (ctx) => {
    const { pub, view } = await relayPair(ctx);
    const sent = new ProbeMedia().enhancedStream(codec, 5);
    sendAll(pub, sent);
    return relayVerdict(ctx, await checkRelay(view, sent, ctx.waitMs), `${codec} (Enhanced RTMP)`, { publisher: pub });
  };
}

/** Multitrack video: two HEVC tracks in each message (ManyTracks). */
export async function multitrack(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx);
  const sent = new ProbeMedia().multitrackStream(4);
  sendAll(pub, sent);
  return relayVerdict(ctx, await checkRelay(view, sent, ctx.waitMs), 'multitrack video', { publisher: pub });
}

/** HEVC frames behind a ModEx prefix (a nanosecond timestamp offset). */
export async function modEx(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx);
  const media = new ProbeMedia();
  const sent = [
    media.enhancedSequenceStart('hevc'),
    media.modExFrame(true, 0, 500_000),
    media.modExFrame(false, 40, 250_000),
    media.enhancedFrame('hevc', false, 80),
  ];
  sendAll(pub, sent);
  return relayVerdict(ctx, await checkRelay(view, sent, ctx.waitMs), 'ModEx frames', { publisher: pub });
}

/** A keyframe of `bytes` bytes (sent at chunk size 65536) between ordinary frames. */
export function bigKeyframe(bytes: number): (ctx: ProbeContext) => Promise<ProbeVerdict> {
  return async (ctx) => {
    const { pub, view } = await relayPair(ctx, { publish: { chunkSize: 65536 } });
    const media = new ProbeMedia();
    const sent = [media.avcSequenceHeader(), media.avcFrame(true, 0, 5000, 'keyframe'), media.bigKeyframe(bytes, 40)];
    sendAll(pub, sent);
    ctx.note('keyframe bytes', bytes);
    const c = await checkRelay(view, sent, 3 * ctx.waitMs);
    if (c.missing.length > 0 || c.altered.length > 0)
      return relayVerdict(ctx, c, `a keyframe of ${bytes} bytes`, { publisher: pub });
    // Once it arrived (the player's queue is empty again), the stream must go on.
    const after = [media.avcFrame(false, 80, 1000, 'frame after')];
    sendAll(pub, after);
    const more = await checkRelay(view, after, ctx.waitMs);
    if (more.missing.length > 0) {
      relayEvidence(ctx, c);
      return {
        result: 'fail',
        detail:
          `the keyframe of ${bytes} bytes arrived, but the frame after it did ` +
          `not${pub.conn.closed ? ` (publisher: ${pub.conn.closedBy})` : ''}`,
      };
    }
    return relayVerdict(ctx, c, `a keyframe of ${bytes} bytes`, { publisher: pub });
  };
}

/** AAC only, no video at all. */
export async function audioOnly(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx);
  const media = new ProbeMedia();
  const sent = [media.aacSequenceHeader(), ...Array.from({ length: 10 }, (_, i) => media.aacFrame(i * 23))];
  sendAll(pub, sent);
  return relayVerdict(ctx, await checkRelay(view, sent, ctx.waitMs), 'an audio-only stream', { publisher: pub });
}

/** AVC only, no audio at all. */
export async function videoOnly(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { pub, view } = await relayPair(ctx);
  const sent = new ProbeMedia().avcAacStream(6, 0, false);
  sendAll(pub, sent);
  return relayVerdict(ctx, await checkRelay(view, sent, ctx.waitMs), 'a video-only stream', { publisher: pub });
}
