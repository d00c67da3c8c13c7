import { describe, expect, it } from 'vitest';
import { decodeAmf0, encodeAmf0 } from '../../../src/protocol/amf0.js';
import { ChunkReader } from '../../../src/protocol/chunk-reader.js';
import { MSG_VIDEO } from '../../../src/protocol/constants.js';
import { setChunkSizeMessage } from '../../../src/protocol/control.js';
import type { RtmpMessage } from '../../../src/protocol/message.js';
import { avmplus } from '../../../src/lab/probe/wire/amf3-values.js';
import { ChunkTrace, type TracedMessage } from '../../../src/lab/probe/wire/chunk-trace.js';
import { basicHeader, chunkMessage, interleave } from '../../../src/lab/probe/wire/raw-chunks.js';

/** The probe's own wire pieces, checked against the codec's reader and hand-made bytes. */

const payload = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 13) & 0xff));
const video = (csid: number, timestamp: number, n: number) => ({
  csid,
  typeId: MSG_VIDEO,
  streamId: 1,
  timestamp,
  payload: payload(n),
});

function readWithCodec(bytes: Buffer): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  const r = new ChunkReader(
    {
      onMessage: (m) => out.push({ ...m, payload: Buffer.from(m.payload) }),
      onError: (e) => {
        throw e;
      },
    },
    { maxChunkStreams: 2000 },
  );
  r.push(bytes);
  return out;
}

function trace(bytes: Buffer, pieces = 1): TracedMessage[] {
  const out: TracedMessage[] = [];
  const t = new ChunkTrace((m) => out.push(m));
  const step = Math.ceil(bytes.length / pieces);
  for (let i = 0; i < bytes.length; i += step) expect(t.push(bytes.subarray(i, i + step))).toBe(true);
  return out;
}

describe('raw chunks', () => {
  it('write 1-, 2- and 3-byte basic headers (64 + b1, 64 + b1 + b2 * 256)', () => {
    expect([...basicHeader(0, 63)]).toEqual([63]);
    expect([...basicHeader(1, 64)]).toEqual([0x40, 0]);
    expect([...basicHeader(3, 319)]).toEqual([0xc0, 255]);
    expect([...basicHeader(0, 320)]).toEqual([1, 0, 1]);
    expect([...basicHeader(0, 65599)]).toEqual([1, 255, 255]);
    expect(() => basicHeader(0, 1)).toThrow(RangeError);
  });

  it('cut a message the codec reads back, at any chunk stream id and chunk size', () => {
    for (const csid of [3, 100, 1000]) {
      for (const size of [128, 4096, 0x7fffffff]) {
        const m = video(csid, 1234, 10_000);
        const announce = size === 128 ? [] : chunkMessage(setChunkSizeMessage(size), { chunkSize: 128 });
        const got = readWithCodec(Buffer.concat([...announce, ...chunkMessage(m, { chunkSize: size })])).filter(
          (g) => g.typeId === MSG_VIDEO,
        );
        expect(got.map((g) => [g.csid, g.timestamp, g.payload.equals(m.payload)])).toEqual([[csid, 1234, true]]);
      }
    }
  });

  it('repeat the extended timestamp on type-3 chunks, or leave it out when told', () => {
    const m = video(6, 0x1234567, 300);
    const [first, second] = chunkMessage(m, { chunkSize: 128 });
    expect(first!.subarray(1, 4)).toEqual(Buffer.from([0xff, 0xff, 0xff]));
    expect(first!.readUInt32BE(12)).toBe(0x1234567);
    expect(second!.subarray(0, 5)).toEqual(Buffer.from([0xc6, 0x01, 0x23, 0x45, 0x67]));
    const [, bare] = chunkMessage(m, { chunkSize: 128, extendedOnType3: false });
    expect(bare!.length).toBe(1 + 128);
  });

  it('write fmt 1, 2 and 3 first headers with the field given', () => {
    const m = video(6, 0, 10);
    expect(chunkMessage(m, { chunkSize: 128, fmt: 1, field: 40 })[0]!.subarray(0, 8)).toEqual(
      Buffer.from([0x46, 0, 0, 40, 0, 0, 10, 9]),
    );
    expect(chunkMessage(m, { chunkSize: 128, fmt: 2, field: 33 })[0]!.subarray(0, 4)).toEqual(
      Buffer.from([0x86, 0, 0, 33]),
    );
    expect(chunkMessage(m, { chunkSize: 128, fmt: 3 })[0]!.length).toBe(1 + 10);
  });

  it('interleave the chunks of several messages in turn', () => {
    expect(
      interleave([[Buffer.from('a1'), Buffer.from('a2'), Buffer.from('a3')], [Buffer.from('b1')]]).map(String),
    ).toEqual(['a1', 'b1', 'a2', 'a3']);
  });
});

describe('the chunk trace', () => {
  it('reads messages split across reads at any point, with their first header format and chunk count', () => {
    const bytes = Buffer.concat([
      ...chunkMessage(video(6, 500, 1000), { chunkSize: 128 }),
      ...chunkMessage(video(6, 540, 1000), { chunkSize: 128, fmt: 2, field: 40 }),
    ]);
    for (const pieces of [1, 7, 200]) {
      const got = trace(bytes, pieces);
      expect(got.map((m) => [m.timestamp, m.firstFmt, m.chunks, m.payload.length])).toEqual([
        [500, 0, 8, 1000],
        [540, 2, 8, 1000],
      ]);
    }
  });

  it('counts type-3 chunks with and without the repeated extended timestamp (and reads both)', () => {
    const m = video(6, 0x1000000 + 7, 400);
    const [a] = trace(Buffer.concat(chunkMessage(m, { chunkSize: 128 })));
    const [b] = trace(Buffer.concat(chunkMessage(m, { chunkSize: 128, extendedOnType3: false })));
    expect([a!.extended, a!.extendedRepeated, a!.extendedOmitted, a!.payload.equals(m.payload)]).toEqual([
      true,
      3,
      0,
      true,
    ]);
    expect([b!.extended, b!.extendedRepeated, b!.extendedOmitted, b!.payload.equals(m.payload)]).toEqual([
      true,
      0,
      3,
      true,
    ]);
  });

  it('adds deltas modulo 2^32, as the wire does', () => {
    const first = video(6, 2 ** 32 - 30, 10);
    const bytes = Buffer.concat([
      ...chunkMessage(first, { chunkSize: 128 }),
      ...chunkMessage(video(6, 0, 10), { chunkSize: 128, fmt: 1, field: 40 }),
    ]);
    expect(trace(bytes).map((m) => m.timestamp)).toEqual([2 ** 32 - 30, 10]);
  });

  it("follows the server's Set Chunk Size and records what it announced", () => {
    const t: TracedMessage[] = [];
    const tr = new ChunkTrace((m) => t.push(m));
    const setChunk = Buffer.from([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0]);
    tr.push(Buffer.concat([setChunk, ...chunkMessage(video(6, 0, 5000), { chunkSize: 4096 })]));
    expect(tr.stats.chunkSizes).toEqual([4096]);
    expect(t.at(-1)!.payload.length).toBe(5000);
  });

  it('fails once on bytes that are not chunks (a fmt-1 header on a chunk stream never opened)', () => {
    const tr = new ChunkTrace(() => undefined);
    expect(tr.push(Buffer.from([0x45, 0, 0, 1, 0, 0, 1, 9, 0]))).toBe(false);
    expect(tr.error?.message).toMatch(/no fmt 0 header/);
    expect(tr.push(Buffer.from([0x05]))).toBe(false);
  });
});

describe('AMF3 values', () => {
  it('are AMF0 avmplus values the codec decodes', () => {
    const body = Buffer.concat([
      encodeAmf0('publish', 3, null),
      avmplus('stream-name'),
      avmplus({ a: 1, b: 'x', c: true, d: null, e: 2.5 }),
      avmplus(300_000_000),
    ]);
    expect(decodeAmf0(body)).toEqual([
      'publish',
      3,
      null,
      'stream-name',
      { a: 1, b: 'x', c: true, d: null, e: 2.5 },
      300_000_000,
    ]);
  });
});
