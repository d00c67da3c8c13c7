import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkWriter, encodeMessage, flattenEncoded } from '../../src/protocol/chunk-writer.js';
import { MSG_AUDIO, MSG_COMMAND_AMF0, MSG_DATA_AMF0, MSG_VIDEO } from '../../src/protocol/constants.js';
import { setChunkSizeMessage } from '../../src/protocol/control.js';
import { ArgumentError } from '../../src/protocol/errors.js';
import type { OutgoingMessage } from '../../src/protocol/message.js';
import { CountingAllocator, decodeWithCuts, hex, pattern } from '../helpers/bytes.js';

describe('encodeMessage', () => {
  it('writes a fmt-0 header and the payload for a message inside one chunk', () => {
    const enc = encodeMessage(
      { csid: 3, typeId: 20, streamId: 0, timestamp: 1000, payload: Buffer.from('hello') },
      128,
    );
    expect(flattenEncoded(enc).toString('hex')).toBe(hex('03 0003e8 000005 14 00000000 68656c6c6f').toString('hex'));
    expect(enc.chunkCount).toBe(1);
    expect(enc.headerBytes).toBe(12);
    expect(enc.byteLength).toBe(17);
  });

  it('cuts a message into fmt-3 continuation chunks at the chunk size', () => {
    const payload = pattern(300);
    const enc = encodeMessage({ csid: 6, typeId: MSG_VIDEO, streamId: 1, timestamp: 0, payload }, 128);
    const expected = Buffer.concat([
      hex('06 000000 00012c 09 01000000'),
      payload.subarray(0, 128),
      hex('c6'),
      payload.subarray(128, 256),
      hex('c6'),
      payload.subarray(256),
    ]);
    expect(flattenEncoded(enc).equals(expected)).toBe(true);
    expect(enc.chunkCount).toBe(3);
    expect(enc.headerBytes).toBe(12 + 2);
  });

  it('repeats the extended timestamp on every continuation chunk', () => {
    const payload = pattern(200);
    const enc = encodeMessage({ csid: 6, typeId: MSG_VIDEO, streamId: 1, timestamp: 0x01000000, payload }, 128);
    const expected = Buffer.concat([
      hex('06 ffffff 0000c8 09 01000000 01000000'),
      payload.subarray(0, 128),
      hex('c6 01000000'),
      payload.subarray(128),
    ]);
    expect(flattenEncoded(enc).equals(expected)).toBe(true);
  });

  it('writes only the low 32 bits of a timestamp past 2^32', () => {
    const enc = encodeMessage(
      { csid: 4, typeId: MSG_AUDIO, streamId: 1, timestamp: 2 ** 32 + 5, payload: Buffer.from([1]) },
      128,
    );
    expect(flattenEncoded(enc).toString('hex')).toBe(hex('04 000005 000001 08 01000000 01').toString('hex'));
  });

  it('uses 2- and 3-byte basic headers for high chunk stream ids', () => {
    const two = encodeMessage({ csid: 100, typeId: 9, streamId: 1, timestamp: 0, payload: Buffer.from([0xaa]) }, 128);
    expect(flattenEncoded(two).subarray(0, 2).toString('hex')).toBe('0024');
    const three = encodeMessage(
      { csid: 40000, typeId: 9, streamId: 1, timestamp: 0, payload: Buffer.from([0xaa]) },
      128,
    );
    expect(flattenEncoded(three).subarray(0, 3).toString('hex')).toBe('01009c');
  });

  it('shares the payload: chunk bodies are views of the message payload, not copies', () => {
    const payload = pattern(10_000);
    const enc = encodeMessage({ csid: 6, typeId: MSG_VIDEO, streamId: 1, timestamp: 0, payload }, 4096);
    const bodies = enc.buffers.filter((_, i) => i % 2 === 1);
    expect(bodies).toHaveLength(3);
    for (const b of bodies) expect(b.buffer).toBe(payload.buffer);
    // Headers all live in one buffer.
    const headers = enc.buffers.filter((_, i) => i % 2 === 0);
    for (const h of headers) expect(h.buffer).toBe(enc.headerBuffer.buffer);
  });

  it('takes its header buffer from the given allocator, sized exactly', () => {
    const alloc = new CountingAllocator();
    encodeMessage(
      { csid: 6, typeId: MSG_VIDEO, streamId: 1, timestamp: 0x01000000, payload: pattern(300) },
      128,
      alloc,
    );
    expect(alloc.acquired).toEqual([16 + 2 * 5]);
  });

  it('rejects chunk sizes outside 128..65536 and bad messages with a usage error', () => {
    const m: OutgoingMessage = { csid: 3, typeId: 20, streamId: 0, timestamp: 0, payload: Buffer.alloc(1) };
    for (const size of [0, 127, 65537, 1.5]) expect(() => encodeMessage(m, size)).toThrow(ArgumentError);
    expect(() => encodeMessage({ ...m, csid: 1 }, 128)).toThrow(/chunk stream id/);
    expect(() => encodeMessage({ ...m, timestamp: -1 }, 128)).toThrow(/timestamp/);
    expect(() => encodeMessage({ ...m, payload: Buffer.alloc(0x1000000) }, 128)).toThrow(/24-bit/);
  });
});

describe('ChunkWriter with header compression', () => {
  it('uses fmt 1 for a new length, fmt 2 for a new delta and fmt 3 when only the payload differs', () => {
    const w = new ChunkWriter({ compressHeaders: true });
    const out = [
      w.encode({ csid: 4, typeId: 8, streamId: 1, timestamp: 100, payload: hex('010203') }),
      w.encode({ csid: 4, typeId: 9, streamId: 1, timestamp: 110, payload: hex('0405') }),
      w.encode({ csid: 4, typeId: 9, streamId: 1, timestamp: 130, payload: hex('0607') }),
      w.encode({ csid: 4, typeId: 9, streamId: 1, timestamp: 150, payload: hex('0809') }),
    ].map((e) => flattenEncoded(e).toString('hex'));
    expect(out).toEqual(
      ['04 000064 000003 08 01000000 010203', '44 00000a 000002 09 0405', '84 000014 0607', 'c4 0809'].map((h) =>
        hex(h).toString('hex'),
      ),
    );
  });

  it('falls back to fmt 0 when the stream id changes or time goes backwards', () => {
    const w = new ChunkWriter({ compressHeaders: true });
    w.encode({ csid: 4, typeId: 8, streamId: 1, timestamp: 100, payload: hex('01') });
    const other = flattenEncoded(w.encode({ csid: 4, typeId: 8, streamId: 2, timestamp: 110, payload: hex('01') }));
    expect(other[0]! >> 6).toBe(0);
    const back = flattenEncoded(w.encode({ csid: 4, typeId: 8, streamId: 2, timestamp: 50, payload: hex('01') }));
    expect(back[0]! >> 6).toBe(0);
  });
});

// Round trip: arbitrary messages, arbitrary chunk sizes, arbitrary read splits.

const messageArb = fc.record({
  csid: fc.oneof(
    fc.integer({ min: 2, max: 63 }),
    fc.integer({ min: 64, max: 319 }),
    fc.integer({ min: 320, max: 65599 }),
  ),
  typeId: fc.constantFrom(MSG_AUDIO, MSG_VIDEO, MSG_DATA_AMF0, MSG_COMMAND_AMF0),
  streamId: fc.integer({ min: 0, max: 0xffffffff }),
  deltaMs: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0xfffff0, max: 0x1000010 }), fc.constant(0)),
  length: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 300, max: 70_000 })),
  seed: fc.integer({ min: 0, max: 255 }),
});

const scenarioArb = fc.record({
  startMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  chunkSize: fc.oneof(fc.constantFrom(128, 4096, 65536), fc.integer({ min: 128, max: 65536 })),
  compress: fc.boolean(),
  messages: fc.array(messageArb, { minLength: 1, maxLength: 12 }),
  cutFractions: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
});

describe('encode → decode round trip (property)', () => {
  it('decodes exactly what was encoded, at any chunk size, with any read splits', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const writer = new ChunkWriter({ chunkSize: 128, compressHeaders: s.compress });
        const parts: Buffer[] = [];
        // Announce the chunk size at 128 first, as peers do, then switch.
        parts.push(flattenEncoded(writer.encode(setChunkSizeMessage(s.chunkSize))));
        writer.setChunkSize(s.chunkSize);
        const clocks = new Map<number, number>();
        const expected = s.messages.map((m) => {
          const prev = clocks.get(m.csid);
          const timestamp = prev === undefined ? s.startMs : prev + m.deltaMs;
          clocks.set(m.csid, timestamp);
          const payload = pattern(m.length, m.seed);
          parts.push(
            flattenEncoded(writer.encode({ csid: m.csid, typeId: m.typeId, streamId: m.streamId, timestamp, payload })),
          );
          return { csid: m.csid, typeId: m.typeId, streamId: m.streamId, timestamp, payload: payload.toString('hex') };
        });
        const bytes = Buffer.concat(parts);
        const cuts = [...new Set(s.cutFractions.map((f) => Math.floor(f * bytes.length)))]
          .filter((c) => c > 0 && c < bytes.length)
          .sort((a, b) => a - b);
        const run = decodeWithCuts(bytes, cuts, { maxChunkStreams: 100 });
        expect(run.errors).toEqual([]);
        expect(run.messages.slice(1)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});
