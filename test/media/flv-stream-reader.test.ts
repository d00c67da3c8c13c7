import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFlv, writeFlv, type FlvTag } from '../../src/media/flv-file.js';
import { FlvStreamReader, type FlvStreamReaderOptions } from '../../src/media/flv-stream-reader.js';
import { readMark, type TimingMark } from '../../src/media/timing-mark.js';
import type { RtmpError } from '../../src/protocol/errors.js';
import { makeClip, markedClip, syntheticTags } from '../helpers/media-files.js';
import { hasTool } from '../helpers/tools.js';

const hasFfmpeg = hasTool('ffmpeg');
const work = mkdtempSync(join(tmpdir(), 'rtmpbench-flv-stream-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Seen {
  typeId: number;
  timestampMs: number;
  dataBytes: number;
  payload: string;
}

function readWithCuts(bytes: Buffer, cuts: number[], options: FlvStreamReaderOptions = {}) {
  const tags: Seen[] = [];
  const errors: RtmpError[] = [];
  let header: [boolean, boolean] | null = null;
  const reader = new FlvStreamReader(
    {
      onHeader: (a, v) => (header = [a, v]),
      onTag: (t) =>
        tags.push({
          typeId: t.typeId,
          timestampMs: t.timestampMs,
          dataBytes: t.dataBytes,
          payload: t.payload.toString('hex'),
        }),
      onError: (e) => errors.push(e),
    },
    options,
  );
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    reader.push(bytes.subarray(at, cut));
    at = cut;
  }
  return { tags, errors, header, reader };
}

function expected(tags: FlvTag[], skim = 0): Seen[] {
  return tags.map((t) => {
    const keep = skim > 0 && (t.typeId === 8 || t.typeId === 9) ? Math.min(skim, t.payload.length) : t.payload.length;
    return {
      typeId: t.typeId,
      timestampMs: t.timestamp,
      dataBytes: t.payload.length,
      payload: t.payload.subarray(0, keep).toString('hex'),
    };
  });
}

const small: FlvTag[] = [
  { typeId: 18, timestamp: 0, payload: Buffer.from('02000a6f6e4d65746164617461', 'hex') },
  { typeId: 9, timestamp: 0, payload: Buffer.from('1700000000014d401effe1', 'hex') },
  { typeId: 8, timestamp: 0, payload: Buffer.from('af001210', 'hex') },
  { typeId: 9, timestamp: 40, payload: Buffer.from('2701000000000000030102', 'hex') },
  { typeId: 8, timestamp: 0x01234567, payload: Buffer.from('af01aabbcc', 'hex') },
  { typeId: 9, timestamp: 80, payload: Buffer.alloc(0) },
];

describe('FlvStreamReader', () => {
  it('reads the header and every tag of a stream pushed in one piece, with 32-bit timestamps', () => {
    const { tags, errors, header } = readWithCuts(writeFlv(small), []);
    expect(errors).toEqual([]);
    expect(header).toEqual([true, true]);
    expect(tags).toEqual(expected(small));
  });

  it('hands out views of the pushed buffer for tags that arrive whole, and copies nothing', () => {
    const bytes = writeFlv(small);
    const buffers: Buffer[] = [];
    const reader = new FlvStreamReader({ onTag: (t) => buffers.push(t.payload), onError: () => {} });
    reader.push(bytes);
    expect(buffers.filter((b) => b.length > 0).every((b) => b.buffer === bytes.buffer)).toBe(true);
    expect(reader.stats().bytesCopied).toBe(0);
  });

  it('gives the same tags when the stream is split at every byte', () => {
    const bytes = writeFlv(small);
    const want = expected(small);
    for (let cut = 1; cut < bytes.length; cut++) {
      const { tags, errors } = readWithCuts(bytes, [cut]);
      expect(errors).toEqual([]);
      expect(tags, `cut at ${cut}`).toEqual(want);
    }
    const { tags } = readWithCuts(
      bytes,
      Array.from({ length: bytes.length - 1 }, (_, i) => i + 1),
    );
    expect(tags).toEqual(want);
  });

  it('gives the same tags for random splits of a synthetic stream, skimming or not', () => {
    const tags = syntheticTags(20);
    const bytes = writeFlv(tags);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }),
        fc.constantFrom(0, 64),
        (cuts, skim) => {
          const r = readWithCuts(
            bytes,
            cuts.sort((a, b) => a - b),
            { skimMedia: skim },
          );
          expect(r.errors).toEqual([]);
          expect(r.tags).toEqual(expected(tags, skim));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('copies only the kept prefix of a skimmed keyframe split across reads', () => {
    const tags = syntheticTags(1, { videoBitrate: 2_000_000 });
    const bytes = writeFlv(tags);
    const key = tags.find((t) => t.typeId === 9 && t.payload[0] === 0x17 && t.payload[1] === 1)!;
    expect(key.payload.length).toBeGreaterThan(10_000);
    const at = bytes.indexOf(key.payload.subarray(0, 64)) + 10; // split 10 bytes into its data
    const { tags: seen, reader } = readWithCuts(bytes, [at], { skimMedia: 64 });
    expect(seen.find((t) => t.dataBytes === key.payload.length)!.payload).toBe(
      key.payload.subarray(0, 64).toString('hex'),
    );
    expect(reader.stats().bytesCopied).toBe(64);
  });

  it('lets the timing mark be read at the tag offset, as the RTMP player does', () => {
    const tags = syntheticTags(5);
    const marks: number[] = [];
    const mark: TimingMark = { intendedUs: 0, sentUs: 0, seq: 0, epoch: 0 };
    const reader = new FlvStreamReader(
      {
        onTag: (t) =>
          t.typeId === 9 && t.payload[1] === 1 && readMark(t.payload, 5, 'avc', mark) && marks.push(mark.seq),
        onError: () => {},
      },
      { skimMedia: 64 },
    );
    reader.push(writeFlv(tags));
    expect(marks).toEqual([0, 1, 2, 3, 4]);
  });

  it('skips tags of unknown types and counts them', () => {
    const withUnknown: FlvTag[] = [
      small[1]!,
      { typeId: 15, timestamp: 5, payload: Buffer.from('0102', 'hex') },
      small[3]!,
    ];
    const { tags, reader } = readWithCuts(writeFlv(withUnknown), [30]);
    expect(tags.map((t) => t.typeId)).toEqual([9, 9]);
    expect(reader.stats().unknownTags).toBe(1);
  });

  it('counts PreviousTagSize fields that do not match, without failing', () => {
    const bytes = writeFlv(small);
    bytes.writeUInt32BE(0, 13 + 11 + small[0]!.payload.length); // the first tag's trailer
    const { tags, errors, reader } = readWithCuts(bytes, []);
    expect(errors).toEqual([]);
    expect(tags).toHaveLength(small.length);
    expect(reader.stats().previousSizeMismatches).toBe(1);
  });

  it('fails once with RTMP_ERR_FLV_HEADER on a stream that is not FLV, and is dead afterwards', () => {
    const { errors, reader } = readWithCuts(Buffer.from('<html><body>not found</body></html>'), [3]);
    expect(errors.map((e) => e.code)).toEqual(['RTMP_ERR_FLV_HEADER']);
    expect(errors[0]!.detail.state).toBe('header');
    expect(reader.dead).toBe(true);
    expect(reader.push(writeFlv(small))).toBe(false);
    expect(errors).toHaveLength(1);
  });

  it('fails with RTMP_ERR_MESSAGE_TOO_LARGE on a tag above the limit before any of its data arrives', () => {
    const bytes = writeFlv([{ typeId: 9, timestamp: 0, payload: Buffer.alloc(5000) }]);
    const { errors, tags } = readWithCuts(bytes.subarray(0, 13 + 11), [], { maxTagBytes: 4096 });
    expect(tags).toEqual([]);
    expect(errors.map((e) => [e.code, e.name])).toEqual([['RTMP_ERR_MESSAGE_TOO_LARGE', 'LimitError']]);
    expect(errors[0]!.detail.offset).toBe(24);
  });

  it('fails with RTMP_ERR_FLV_TAG on an encrypted (filtered) tag', () => {
    const bytes = writeFlv(small);
    bytes[13] = 0x20 | 18;
    expect(readWithCuts(bytes, []).errors.map((e) => e.code)).toEqual(['RTMP_ERR_FLV_TAG']);
  });

  it('reports an exception thrown by the sink as RTMP_ERR_READER_DEAD instead of throwing', () => {
    const errors: RtmpError[] = [];
    const reader = new FlvStreamReader({
      onTag: () => {
        throw new Error('boom');
      },
      onError: (e) => errors.push(e),
    });
    expect(reader.push(writeFlv(small))).toBe(false);
    expect(errors.map((e) => e.code)).toEqual(['RTMP_ERR_READER_DEAD']);
  });

  it.skipIf(!hasFfmpeg)(
    'reads an ffmpeg-made H.264/AAC FLV file in 1000-byte reads exactly as the whole-file parser does',
    async () => {
      const clip = await makeClip(work, 'clip', { seconds: 2 });
      const data = readFileSync(clip);
      const cuts = Array.from({ length: Math.floor((data.length - 1) / 1000) }, (_, i) => (i + 1) * 1000);
      const { tags, errors } = readWithCuts(data, cuts);
      expect(errors).toEqual([]);
      expect(tags).toEqual(expected(parseFlv(data).tags));
      expect(tags.filter((t) => t.typeId === 9).length).toBe(52); // sequence header, 50 frames, end of sequence
    },
  );

  it.skipIf(!hasFfmpeg)('finds a mark in every video frame of a marked real clip', async () => {
    const clip = await makeClip(work, 'clip', { seconds: 2 });
    const { flv, videoFrames } = markedClip(clip);
    const seqs: number[] = [];
    const mark: TimingMark = { intendedUs: 0, sentUs: 0, seq: 0, epoch: 0 };
    const reader = new FlvStreamReader(
      {
        onTag: (t) =>
          t.typeId === 9 && t.payload[1] === 1 && readMark(t.payload, 5, 'avc', mark) && seqs.push(mark.seq),
        onError: () => {},
      },
      { skimMedia: 64 },
    );
    for (let o = 0; o < flv.length; o += 4096) reader.push(flv.subarray(o, o + 4096));
    expect(seqs).toEqual(Array.from({ length: videoFrames }, (_, i) => i));
  });
});
