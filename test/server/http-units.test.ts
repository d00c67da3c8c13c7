import { describe, expect, it } from 'vitest';
import { parseFlv } from '../../src/media/flv-file.js';
import { parsePlaylist, type MediaPlaylist } from '../../src/media/m3u8.js';
import { SyntheticSource } from '../../src/media/synthetic.js';
import { encodeMessageContiguous } from '../../src/protocol/chunk-writer.js';
import { MSG_AUDIO, MSG_DATA_AMF0, MSG_VIDEO } from '../../src/protocol/constants.js';
import { readFanoutWire } from '../../src/server/http/fanout-wire.js';
import { encodeFlvTag, flvFileHeader, wsCloseFrame, wsHeaderBytes } from '../../src/server/http/flv-tags.js';
import { SEGMENT_BLOCK_BYTES } from '../../src/server/http/hls-segmenter.js';
import { evictLargest, HlsStream, type HlsBudget } from '../../src/server/http/hls-stream.js';
import { parseRoute } from '../../src/server/http/routes.js';
import { MessageClass } from '../../src/server/shared-message.js';

function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('reading the fan-out form back', () => {
  const cases: [string, number, number, number, number][] = [
    // name, chunk size, csid, payload bytes, timestamp
    ['one chunk', 4096, 6, 300, 1000],
    ['an empty message', 4096, 6, 0, 5],
    ['many chunks at 128', 128, 6, 5000, 40],
    ['exactly two chunks', 4096, 4, 8192, 40],
    ['a keyframe at 65536', 65536, 6, 150_000, 123_456],
    ['a 2-byte basic header', 128, 70, 1000, 1],
    ['a 3-byte basic header', 128, 400, 1000, 1],
    ['an extended timestamp on every chunk', 128, 6, 1000, 0x1_0000_00],
    ['the largest timestamp', 4096, 6, 9000, 0xffff_ffff],
  ];
  for (const [name, chunkSize, csid, n, timestamp] of cases) {
    it(`returns type, timestamp and payload of ${name}`, () => {
      const payload = bytes(n);
      const wire = encodeMessageContiguous({ csid, typeId: MSG_VIDEO, streamId: 1, timestamp, payload }, chunkSize);
      const m = readFanoutWire(wire, chunkSize);
      expect(m.typeId).toBe(MSG_VIDEO);
      expect(m.timestamp).toBe(timestamp);
      expect(m.payload.equals(payload)).toBe(true);
    });
  }

  it('views the wire buffer when the message is one chunk, and refuses what is not fmt 0', () => {
    const wire = encodeMessageContiguous(
      { csid: 6, typeId: MSG_AUDIO, streamId: 1, timestamp: 0, payload: bytes(100) },
      4096,
    );
    expect(readFanoutWire(wire, 4096).payload.buffer).toBe(wire.buffer);
    const fmt1 = Buffer.from(wire);
    fmt1[0] = 0x46;
    expect(() => readFanoutWire(fmt1, 4096)).toThrow(RangeError);
    expect(() => readFanoutWire(wire.subarray(0, wire.length - 1), 4096)).toThrow(RangeError);
  });
});

describe('FLV tags and WebSocket frames', () => {
  it('encodes tags that an FLV parser reads back, timestamps above 2^24 ms included', () => {
    const tags = [
      { typeId: MSG_DATA_AMF0, timestamp: 0, payload: bytes(50) },
      { typeId: MSG_VIDEO, timestamp: 0x1234_5678, payload: bytes(70_000) },
      { typeId: MSG_AUDIO, timestamp: 33, payload: bytes(0) },
    ];
    const file = Buffer.concat([
      flvFileHeader('http-flv', true, true),
      ...tags.map((t) =>
        encodeFlvTag(t.typeId, t.timestamp, t.payload, 'http-flv', {
          acquire: (n) => Buffer.allocUnsafe(n),
          release: () => {},
        }),
      ),
    ]);
    const parsed = parseFlv(file);
    expect(parsed).toMatchObject({ hasAudio: true, hasVideo: true });
    expect(parsed.tags.map((t) => [t.typeId, t.timestamp, t.payload.length])).toEqual(
      tags.map((t) => [t.typeId, t.timestamp, t.payload.length]),
    );
    expect(parsed.tags[1]!.payload.equals(tags[1]!.payload)).toBe(true);
  });

  it('frames each tag as one unmasked binary WebSocket message, with 7-, 16- and 64-bit lengths', () => {
    const heap = { acquire: (n: number) => Buffer.allocUnsafe(n), release: () => {} };
    for (const body of [0, 110, 111, 65_520, 65_521, 200_000]) {
      const tagBytes = 11 + body + 4;
      const frame = encodeFlvTag(MSG_VIDEO, 7, bytes(body), 'ws-flv', heap);
      const h = wsHeaderBytes(tagBytes);
      expect(h).toBe(tagBytes < 126 ? 2 : tagBytes < 65_536 ? 4 : 10);
      expect(frame.length).toBe(h + tagBytes);
      expect(frame[0]).toBe(0x82);
      const len = h === 2 ? frame[1]! : h === 4 ? frame.readUInt16BE(2) : Number(frame.readBigUInt64BE(2));
      expect(frame[1]! & 0x80).toBe(0);
      expect(len).toBe(tagBytes);
      expect(frame[h]).toBe(MSG_VIDEO);
    }
    expect([...wsCloseFrame(1000)]).toEqual([0x88, 2, 0x03, 0xe8]);
    expect(flvFileHeader('ws-flv', false, true).subarray(2)[4]).toBe(1);
    expect(flvFileHeader('http-flv', false, false)[4]).toBe(5);
  });
});

describe('routes', () => {
  const table: [string, unknown][] = [
    ['/live/s.flv', { kind: 'flv', key: 'live/s' }],
    ['/live/s.flv?token=a', { kind: 'flv', key: 'live/s' }],
    ['/app/sub/s.flv', { kind: 'flv', key: 'app/sub/s' }],
    ['/live/a%20b.flv', { kind: 'flv', key: 'live/a b' }],
    ['/live/s/index.m3u8', { kind: 'playlist', key: 'live/s' }],
    ['/live/s/mx2abc-12.ts', { kind: 'segment', key: 'live/s', name: 'mx2abc-12.ts' }],
    ['/s.flv', { kind: 'unknown' }],
    ['/live/.flv', { kind: 'unknown' }],
    ['/live/s/other.m3u8', { kind: 'unknown' }],
    ['/live/s/../../etc.flv', { kind: 'unknown' }],
    ['/live//s.flv', { kind: 'unknown' }],
    ['/live/%zz.flv', { kind: 'unknown' }],
    ['/live/s/x.ts', { kind: 'unknown' }],
    ['live/s.flv', { kind: 'unknown' }],
  ];
  for (const [url, want] of table) {
    it(`reads ${url}`, () => expect(parseRoute(url)).toMatchObject(want as object));
  }
  it('keeps the query', () => {
    const r = parseRoute('/live/s/index.m3u8?token=t%2F1');
    expect(r.kind === 'playlist' && r.query.get('token')).toBe('t/1');
  });
});

/** A budget of its own for one or more streams (the largest pays first, as in the server). */
function budget(maxBytes: number, streams: HlsStream[]): HlsBudget {
  return {
    maxBytes,
    usedBytes: 0,
    evict: (asking) => evictLargest(streams, asking),
  };
}

/** Feeds `seconds` of a synthetic stream (30 fps, keyframe every `gopSeconds`) into the stream's segmenter. */
function feed(
  h: HlsStream,
  seconds: number,
  opts: { gopSeconds?: number; videoBitrate?: number; from?: number } = {},
): void {
  const src = new SyntheticSource({
    videoBitrate: opts.videoBitrate ?? 400_000,
    fps: 30,
    gopSeconds: opts.gopSeconds ?? 1,
    audioBitrate: 64_000,
  });
  const seg = h.start();
  seg.onMessage(MSG_VIDEO, 0, src.videoSequenceHeader(), MessageClass.CONFIG);
  seg.onMessage(MSG_AUDIO, 0, src.audioSequenceHeader()!, MessageClass.CONFIG);
  let audio = 0;
  for (let i = opts.from ?? 0; i < seconds * 30; i++) {
    const due = src.videoDueOffsetUs(i);
    while (src.audioDueOffsetUs(audio) <= due) {
      const a = src.audioFrameAt(audio++)!;
      seg.onMessage(MSG_AUDIO, a.timestampMs, a.payload, MessageClass.AUDIO);
    }
    const f = src.videoFrame(i, due);
    seg.onMessage(MSG_VIDEO, f.timestampMs, f.payload, f.keyframe ? MessageClass.VIDEO_KEY : MessageClass.VIDEO_INTER);
  }
}

const SETTINGS = { segmentMs: 2000, window: 3, maxStreamBytes: 64 * 1024 * 1024 };

describe('HLS segments and playlist', () => {
  it('cuts at the first keyframe a target duration on, lists the window, keeps as many more, and ends the playlist', () => {
    const streams: HlsStream[] = [];
    const h = new HlsStream('live/s', SETTINGS, budget(1 << 30, streams));
    streams.push(h);
    feed(h, 21, { gopSeconds: 1 });
    h.end();
    const text = h.playlist().toString();
    const p = parsePlaylist(text) as MediaPlaylist;
    // 21 s in 2 s segments: ten of 2 s and the last of 1 s; three listed, as many more held (and the window's own).
    expect(p.segments.map((s) => Math.round(s.durationS * 10) / 10)).toEqual([2, 2, 1]);
    expect(p.mediaSequence).toBe(8);
    expect(p.targetDurationS).toBe(2);
    expect(p.endList).toBe(true);
    expect(text.match(/#EXT-X-PROGRAM-DATE-TIME:/g)).toHaveLength(3);
    expect(h.segmentCount).toBe(7);
    expect(h.segment(p.segments[0]!.uri)).toBeDefined();
    expect(h.segment(p.segments[0]!.uri.replace(/-\d+/, '-4'))).toBeDefined(); // older, still fetchable
    expect(h.segment(p.segments[0]!.uri.replace(/-\d+/, '-3'))).toBeUndefined();
    // The same bytes on every read until something changes.
    expect(h.playlist()).toBe(h.playlist());
    expect(h.playlist('?token=t').toString()).toContain('.ts?token=t\n');
  });

  it('waits for a keyframe longer than the target, and raises the target duration to the longest segment', () => {
    const h = new HlsStream('live/s', SETTINGS, budget(1 << 30, []));
    feed(h, 9, { gopSeconds: 3 });
    const p = parsePlaylist(h.playlist().toString()) as MediaPlaylist;
    expect(p.segments.map((s) => s.durationS)).toEqual([3, 3]);
    expect(p.targetDurationS).toBe(3);
    expect(p.endList).toBe(false);
  });

  it('skips what comes before the first keyframe', () => {
    const h = new HlsStream('live/s', SETTINGS, budget(1 << 30, []));
    feed(h, 5, { gopSeconds: 2, from: 15 }); // joins half-way through a GOP
    const p = parsePlaylist(h.playlist().toString()) as MediaPlaylist;
    expect(p.segments.map((s) => s.durationS)).toEqual([2]);
  });

  it('holds a stream to its byte bound, oldest segments first, and gives up a segment that cannot fit', () => {
    const bound = 4 * SEGMENT_BLOCK_BYTES;
    const h = new HlsStream('live/s', { ...SETTINGS, maxStreamBytes: bound }, budget(1 << 30, []));
    feed(h, 12, { gopSeconds: 2, videoBitrate: 200_000 }); // ~60 KB segments: one block each
    expect(h.bytes).toBeLessThanOrEqual(bound);
    expect(h.segmentCount).toBeLessThanOrEqual(4);
    expect(h.evictions).toBeGreaterThan(0);
    // 2 Mbit/s: a 2 s segment (500 KB) outgrows the bound alone: given up, and the stream says so.
    const big = new HlsStream('live/b', { ...SETTINGS, maxStreamBytes: bound }, budget(1 << 30, []));
    feed(big, 6, { gopSeconds: 2, videoBitrate: 2_000_000 });
    expect(big.segmentCount).toBe(0);
    expect(big.bytes).toBe(0);
    expect(big.overflows).toBeGreaterThan(0);
  });

  it('holds all streams to the shared budget, freeing the largest stream first', () => {
    const streams: HlsStream[] = [];
    // Small: 2 blocks a segment (6 held); large: 4 to 5 blocks a segment, so it holds the most whenever the budget is short.
    const shared = budget(16 * SEGMENT_BLOCK_BYTES, streams);
    const small = new HlsStream('live/small', SETTINGS, shared);
    const large = new HlsStream('live/large', SETTINGS, shared);
    streams.push(small, large);
    feed(small, 6, { gopSeconds: 2, videoBitrate: 100_000 });
    const smallBefore = small.segmentCount;
    feed(large, 20, { gopSeconds: 2, videoBitrate: 800_000 });
    expect(shared.usedBytes).toBeLessThanOrEqual(shared.maxBytes);
    expect(shared.usedBytes).toBe(small.bytes + large.bytes);
    expect(large.evictions).toBeGreaterThan(0);
    expect(small.segmentCount).toBe(smallBefore);
  });

  it('marks a discontinuity after a given-up segment, and counts it once the segment leaves', () => {
    const streams: HlsStream[] = [];
    const shared = budget(1 << 30, streams);
    const h = new HlsStream('live/d', { ...SETTINGS, window: 2, maxStreamBytes: 3 * SEGMENT_BLOCK_BYTES }, shared);
    streams.push(h);
    const src = new SyntheticSource({ videoBitrate: 200_000, fps: 30, gopSeconds: 2 });
    const seg = h.start();
    seg.onMessage(MSG_VIDEO, 0, src.videoSequenceHeader(), MessageClass.CONFIG);
    const frame = (i: number, bytesOverride?: number) => {
      const f = src.videoFrame(i, src.videoDueOffsetUs(i));
      let payload = f.payload;
      if (bytesOverride !== undefined) {
        // A frame far larger than the others (its NAL length says so): the segment outgrows the bound.
        payload = Buffer.concat([f.payload.subarray(0, 5), Buffer.alloc(4), Buffer.alloc(bytesOverride)]);
        payload.writeUInt32BE(bytesOverride, 5);
        payload[9] = 0x01;
      }
      seg.onMessage(MSG_VIDEO, f.timestampMs, payload, f.keyframe ? MessageClass.VIDEO_KEY : MessageClass.VIDEO_INTER);
    };
    for (let i = 0; i < 60; i++) frame(i); // segment 0
    for (let i = 60; i < 120; i++) frame(i, i === 70 ? 4 * SEGMENT_BLOCK_BYTES : undefined); // given up
    for (let i = 120; i < 240; i++) frame(i); // segments 1, 2 (the first after the gap is discontinuous)
    let text = h.playlist().toString();
    expect(h.overflows).toBe(1);
    expect(text).toContain('#EXT-X-DISCONTINUITY\n');
    expect(text).not.toContain('#EXT-X-DISCONTINUITY-SEQUENCE');
    for (let i = 240; i < 420; i++) frame(i); // three more: the discontinuous one leaves the playlist
    h.end();
    text = h.playlist().toString();
    expect(text).not.toContain('#EXT-X-DISCONTINUITY\n');
    expect(text).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:1\n');
  });

  it('starts a new publication with new segment names and no old segment', () => {
    const h = new HlsStream('live/s', SETTINGS, budget(1 << 30, []));
    feed(h, 6);
    const before = parsePlaylist(h.playlist().toString()) as MediaPlaylist;
    h.end();
    const changed: string[] = [];
    h.onChange(() => changed.push('start'));
    feed(h, 3);
    expect(changed).toEqual(['start']);
    const after = parsePlaylist(h.playlist().toString()) as MediaPlaylist;
    expect(after.endList).toBe(false);
    expect(after.segments[0]!.msn).toBeGreaterThan(before.segments[before.segments.length - 1]!.msn);
    expect(h.segment(before.segments[0]!.uri)).toBeUndefined();
    h.dispose();
    expect(h.bytes).toBe(0);
  });
});
