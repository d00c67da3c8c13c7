import { describe, expect, it } from 'vitest';
import { GopCache } from '../../src/server/gop-cache.js';
import { MessageClass, SharedMessage } from '../../src/server/shared-message.js';
import { message, pool } from '../helpers/messages.js';

describe('GopCache', () => {
  it('holds the messages since the last keyframe and releases the previous GOP', () => {
    const gop = new GopCache(100, 1_000_000, pool);
    const k1 = message(MessageClass.VIDEO_KEY, 1000);
    gop.add(k1);
    gop.add(message(MessageClass.AUDIO, 100));
    gop.add(message(MessageClass.VIDEO_INTER, 200));
    expect(gop.length).toBe(3);
    const k2 = message(MessageClass.VIDEO_KEY, 1000);
    gop.add(k2);
    expect(gop.snapshot(() => expect.unreachable())).toEqual([k2]);
    k1.release();
    expect(k1.released).toBe(true);
  });

  it('keeps raw frames (no encoding) until a joiner asks, then encodes each once', () => {
    const before = pool.stats().outstandingBytes;
    const gop = new GopCache(100, 1_000_000, pool);
    const raw = (cls: MessageClass, n: number) => ({
      typeId: 9,
      csid: 5,
      timestamp: 0,
      payload: pool.acquire(n).fill(7),
      cls,
    });
    expect(gop.addRaw(raw(MessageClass.VIDEO_INTER, 100))).toBe(false); // before any keyframe: not kept
    expect(gop.addRaw(raw(MessageClass.VIDEO_KEY, 1000))).toBe(true);
    expect(gop.addRaw(raw(MessageClass.AUDIO, 100))).toBe(true);
    let encoded = 0;
    const encode = (f: { payload: Buffer; cls: MessageClass }) => {
      encoded++;
      return new SharedMessage(Buffer.from(f.payload), f.cls, 0, null);
    };
    const first = gop.snapshot(encode);
    expect(first.map((m) => m.cls)).toEqual([MessageClass.VIDEO_KEY, MessageClass.AUDIO]);
    expect(gop.snapshot(encode)).toEqual(first);
    expect(encoded).toBe(2);
    gop.clear();
    // The raw payloads went back to the pool (the first, refused one is still ours).
    expect(pool.stats().outstandingBytes - before).toBe(1024);
  });

  it('ignores messages before the first keyframe', () => {
    const gop = new GopCache(100, 1_000_000, pool);
    gop.add(message(MessageClass.VIDEO_INTER, 200));
    gop.add(message(MessageClass.AUDIO, 100));
    expect(gop.length).toBe(0);
  });

  it('empties itself when a GOP outgrows the frame or byte cap, until the next keyframe', () => {
    const byFrames = new GopCache(3, 1_000_000, pool);
    byFrames.add(message(MessageClass.VIDEO_KEY, 10));
    for (let i = 0; i < 3; i++) byFrames.add(message(MessageClass.VIDEO_INTER, 10));
    expect(byFrames.length).toBe(0);
    expect(byFrames.overflows).toBe(1);
    byFrames.add(message(MessageClass.VIDEO_INTER, 10));
    expect(byFrames.length).toBe(0);
    byFrames.add(message(MessageClass.VIDEO_KEY, 10));
    expect(byFrames.length).toBe(1);

    const byBytes = new GopCache(100, 2048, pool);
    byBytes.add(message(MessageClass.VIDEO_KEY, 1500));
    byBytes.add(message(MessageClass.VIDEO_INTER, 1000));
    expect(byBytes.byteLength).toBe(0);
  });
});
