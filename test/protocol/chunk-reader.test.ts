import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkReader, extendTimestamp, type MessageAdmission } from '../../src/protocol/chunk-reader.js';
import { LimitError, ProtocolError } from '../../src/protocol/errors.js';
import { bytewise, CountingAllocator, decodeWithCuts, hex, pattern, type DecodedForTest } from '../helpers/bytes.js';

interface Vector {
  name: string;
  bytes: Buffer;
  expected: DecodedForTest[];
}

const P128 = pattern(128);
const P200 = pattern(200, 7);
const P300 = pattern(300, 3);

const vectors: Vector[] = [
  {
    name: '1-byte basic header, fmt 0, message inside one chunk',
    bytes: hex('03 0003e8 000005 14 00000000 68656c6c6f'),
    expected: [{ csid: 3, typeId: 20, streamId: 0, timestamp: 1000, payload: '68656c6c6f' }],
  },
  {
    name: '2-byte basic header (csid = 64 + b1)',
    bytes: hex('00 24  000000 000002 09 01000000 aabb'),
    expected: [{ csid: 100, typeId: 9, streamId: 1, timestamp: 0, payload: 'aabb' }],
  },
  {
    name: '3-byte basic header (csid = 64 + b1 + b2 * 256)',
    bytes: hex('01 00 9c  000010 000001 08 01000000 ff'),
    expected: [{ csid: 40000, typeId: 8, streamId: 1, timestamp: 16, payload: 'ff' }],
  },
  {
    name: '3-byte basic header with both bytes set',
    bytes: hex('01 05 01  000000 000001 08 01000000 ee'),
    expected: [{ csid: 64 + 5 + 256, typeId: 8, streamId: 1, timestamp: 0, payload: 'ee' }],
  },
  {
    name: 'fmt 0, 1, 2 and 3 headers (11, 7, 3 and 0 bytes) on one chunk stream',
    bytes: hex(`
      04 000064 000003 08 01000000 010203   # fmt 0: ts 100, len 3, audio, stream 1
      44 00000a 000002 09 0405              # fmt 1: delta 10, len 2, video
      84 000014 0607                        # fmt 2: delta 20
      c4 0809                               # fmt 3: new message, same delta
    `),
    expected: [
      { csid: 4, typeId: 8, streamId: 1, timestamp: 100, payload: '010203' },
      { csid: 4, typeId: 9, streamId: 1, timestamp: 110, payload: '0405' },
      { csid: 4, typeId: 9, streamId: 1, timestamp: 130, payload: '0607' },
      { csid: 4, typeId: 9, streamId: 1, timestamp: 150, payload: '0809' },
    ],
  },
  {
    name: 'fmt 3 after fmt 0 starts a new message using the fmt-0 timestamp as the delta',
    bytes: hex(`
      05 000028 000001 09 01000000 aa   # fmt 0: ts 40
      c5 bb                             # fmt 3: ts 40 + 40
    `),
    expected: [
      { csid: 5, typeId: 9, streamId: 1, timestamp: 40, payload: 'aa' },
      { csid: 5, typeId: 9, streamId: 1, timestamp: 80, payload: 'bb' },
    ],
  },
  {
    name: 'a message split into chunks at the default chunk size (128)',
    bytes: Buffer.concat([hex('06 000000 0000c8 09 01000000'), P200.subarray(0, 128), hex('c6'), P200.subarray(128)]),
    expected: [{ csid: 6, typeId: 9, streamId: 1, timestamp: 0, payload: P200.toString('hex') }],
  },
  {
    name: 'extended timestamp on fmt 0 and repeated on the fmt-3 continuation chunk',
    bytes: Buffer.concat([
      hex('06 ffffff 0000c8 09 01000000 01000000'),
      P200.subarray(0, 128),
      hex('c6 01000000'),
      P200.subarray(128),
    ]),
    expected: [{ csid: 6, typeId: 9, streamId: 1, timestamp: 0x01000000, payload: P200.toString('hex') }],
  },
  {
    name: 'extended timestamp omitted on the fmt-3 continuation chunk (tolerated)',
    bytes: Buffer.concat([
      hex('06 ffffff 0000c8 09 01000000 01000000'),
      P200.subarray(0, 128),
      hex('c6'),
      P200.subarray(128),
    ]),
    expected: [{ csid: 6, typeId: 9, streamId: 1, timestamp: 0x01000000, payload: P200.toString('hex') }],
  },
  {
    name: 'extended delta on fmt 1 and on a fmt-3 chunk that starts a new message',
    bytes: hex(`
      07 000001 000001 08 01000000 11                  # ts 1
      47 ffffff 000001 08 01000000 22                  # fmt 1: delta 0x01000000 (extended)
      c7 01000000 33                                   # fmt 3: new message, same extended delta
    `),
    expected: [
      { csid: 7, typeId: 8, streamId: 1, timestamp: 1, payload: '11' },
      { csid: 7, typeId: 8, streamId: 1, timestamp: 1 + 0x01000000, payload: '22' },
      { csid: 7, typeId: 8, streamId: 1, timestamp: 1 + 2 * 0x01000000, payload: '33' },
    ],
  },
  {
    name: 'Set Chunk Size takes effect at the next chunk, even inside another message',
    bytes: Buffer.concat([
      hex('06 000000 00012c 09 01000000'),
      P300.subarray(0, 128), // first chunk at 128
      hex('02 000000 000004 01 00000000 00000100'), // Set Chunk Size 256
      hex('c6'),
      P300.subarray(128), // the remaining 172 bytes now fit one chunk
    ]),
    expected: [
      { csid: 2, typeId: 1, streamId: 0, timestamp: 0, payload: '00000100' },
      { csid: 6, typeId: 9, streamId: 1, timestamp: 0, payload: P300.toString('hex') },
    ],
  },
  {
    name: 'Abort discards the partial message on the named chunk stream',
    bytes: Buffer.concat([
      hex('06 000000 00012c 09 01000000'),
      P128,
      hex('02 000000 000004 02 00000000 00000006'), // Abort csid 6
      hex('06 000005 000001 09 01000000 42'),
    ]),
    expected: [
      { csid: 2, typeId: 2, streamId: 0, timestamp: 0, payload: '00000006' },
      { csid: 6, typeId: 9, streamId: 1, timestamp: 5, payload: '42' },
    ],
  },
  {
    name: 'chunks of two messages interleaved on two chunk streams',
    bytes: Buffer.concat([
      hex('06 000000 0000c8 09 01000000'),
      P200.subarray(0, 128),
      hex('04 000000 000002 08 01000000 a1a2'),
      hex('c6'),
      P200.subarray(128),
    ]),
    expected: [
      { csid: 4, typeId: 8, streamId: 1, timestamp: 0, payload: 'a1a2' },
      { csid: 6, typeId: 9, streamId: 1, timestamp: 0, payload: P200.toString('hex') },
    ],
  },
  {
    name: 'timestamps past 2^32 ms keep increasing (64-bit clock)',
    bytes: hex(`
      08 ffffff 000001 09 01000000 fffffff0 01   # fmt 0 at 2^32 - 16
      48 000020 000001 09 02                     # fmt 1: +32 -> 2^32 + 16
      08 000030 000001 09 01000000 03            # fmt 0 wire 0x30 -> 2^32 + 48
    `),
    expected: [
      { csid: 8, typeId: 9, streamId: 1, timestamp: 2 ** 32 - 16, payload: '01' },
      { csid: 8, typeId: 9, streamId: 1, timestamp: 2 ** 32 + 16, payload: '02' },
      { csid: 8, typeId: 9, streamId: 1, timestamp: 2 ** 32 + 48, payload: '03' },
    ],
  },
  {
    name: 'a zero-length message (audio silence)',
    bytes: hex('04 000010 000000 08 01000000  04 000011 000001 08 01000000 af'),
    expected: [
      { csid: 4, typeId: 8, streamId: 1, timestamp: 16, payload: '' },
      { csid: 4, typeId: 8, streamId: 1, timestamp: 17, payload: 'af' },
    ],
  },
];

function randomCuts(length: number): fc.Arbitrary<number[]> {
  return fc
    .uniqueArray(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: Math.min(20, length) })
    .map((cuts) => cuts.filter((c) => c < length).sort((a, b) => a - b));
}

describe('ChunkReader golden vectors', () => {
  for (const v of vectors) {
    describe(v.name, () => {
      it('decodes the vector pushed whole', () => {
        const run = decodeWithCuts(v.bytes);
        expect(run.errors).toEqual([]);
        expect(run.messages).toEqual(v.expected);
      });

      it('decodes the vector split in two at every byte', () => {
        for (let cut = 1; cut < v.bytes.length; cut++) {
          const run = decodeWithCuts(v.bytes, [cut]);
          expect(run.errors, `cut at ${cut}`).toEqual([]);
          expect(run.messages, `cut at ${cut}`).toEqual(v.expected);
        }
      });

      it('decodes the vector fed one byte at a time', () => {
        const run = bytewise(v.bytes);
        expect(run.errors).toEqual([]);
        expect(run.messages).toEqual(v.expected);
      });

      it('decodes the vector split at random points', () => {
        fc.assert(
          fc.property(randomCuts(v.bytes.length), (cuts) => {
            const run = decodeWithCuts(v.bytes, cuts);
            expect(run.errors).toEqual([]);
            expect(run.messages).toEqual(v.expected);
          }),
          { numRuns: 50 },
        );
      });
    });
  }
});

describe('ChunkReader buffers', () => {
  it('hands out a message that arrives whole as a view of the pushed buffer', () => {
    const bytes = hex('03 000000 000005 14 00000000 68656c6c6f');
    const got: { payload: Buffer; pooled: boolean }[] = [];
    const reader = new ChunkReader({
      onMessage: (m) => got.push(m),
      onError: (e) => {
        throw e;
      },
    });
    reader.push(bytes);
    expect(got).toHaveLength(1);
    expect(got[0]!.pooled).toBe(false);
    expect(got[0]!.payload.buffer).toBe(bytes.buffer);
    expect(got[0]!.payload.byteOffset).toBe(bytes.byteOffset + 12);
  });

  it('reassembles a 300 KB video message split across three reads at chunk size 4096 into one pooled buffer of its size', () => {
    const payload = pattern(300 * 1024, 1);
    const chunkSize = 4096;
    const parts: Buffer[] = [hex('02 000000 000004 01 00000000 00001000')];
    parts.push(
      hex('06 000000'),
      Buffer.from([payload.length >> 16, (payload.length >> 8) & 0xff, payload.length & 0xff]),
      hex('09 01000000'),
    );
    for (let p = 0; p < payload.length; p += chunkSize) {
      if (p > 0) parts.push(hex('c6'));
      parts.push(payload.subarray(p, p + chunkSize));
    }
    const bytes = Buffer.concat(parts);
    const alloc = new CountingAllocator();
    const third = Math.floor(bytes.length / 3);
    const run = decodeWithCuts(bytes, [third, 2 * third], { allocator: alloc });
    expect(run.errors).toEqual([]);
    expect(run.raw).toHaveLength(2);
    const video = run.raw[1]!;
    expect(video.pooled).toBe(true);
    expect(video.payload.equals(payload)).toBe(true);
    expect(alloc.acquired).toEqual([payload.length]);
  });

  it('fills the reassembly buffer without growing it when a single-chunk message spans two reads', () => {
    const bytes = hex('03 000000 000005 14 00000000 68656c6c6f');
    const alloc = new CountingAllocator();
    const run = decodeWithCuts(bytes, [14], { allocator: alloc });
    expect(run.raw[0]!.pooled).toBe(true);
    expect(run.raw[0]!.payload.toString()).toBe('hello');
    expect(alloc.acquired).toEqual([5]);
  });

  it('releases the partial buffer when Abort discards a message', () => {
    const bytes = Buffer.concat([
      hex('06 000000 00012c 09 01000000'),
      P128,
      hex('02 000000 000004 02 00000000 00000006'),
    ]);
    const alloc = new CountingAllocator();
    const run = decodeWithCuts(bytes, [], { allocator: alloc });
    expect(run.reader.stats().discardedPartials).toBe(1);
    expect(alloc.released).toBe(1);
    expect(alloc.outstanding).toBe(0);
  });
});

describe('ChunkReader acknowledgements', () => {
  it('asks for an acknowledgement once the peer window is reached, with the sequence number wrapped at 2^32', () => {
    const bytes = hex('02 000000 000004 05 00000000 00000010'); // Window Ack Size 16; 16 bytes
    const run = decodeWithCuts(bytes, [], { bytesAlreadyReceived: 2 ** 32 - 10 });
    expect(run.acks).toEqual([6]);
  });

  it('asks again after each further window', () => {
    const win = hex('02 000000 000004 05 00000000 00000020'); // window 32
    const msg = hex('03 000000 000005 14 00000000 68656c6c6f'); // 17 bytes
    const run = decodeWithCuts(Buffer.concat([win, msg, msg, msg, msg]), [16, 33, 50, 67]);
    // Bytes count from the start of the connection: after 16 (window set) no ack; 33 >= 32 -> ack 33;
    // 50 - 33 = 17; 67 - 33 = 34 -> ack 67; 84 - 67 = 17.
    expect(run.acks).toEqual([33, 67]);
  });

  it('sends no acknowledgement before the peer sets a window', () => {
    const msg = hex('03 000000 000005 14 00000000 68656c6c6f');
    expect(decodeWithCuts(Buffer.concat(Array(100).fill(msg))).acks).toEqual([]);
  });
});

describe('ChunkReader bad input', () => {
  it('rejects a message longer than the limit before allocating', () => {
    const alloc = new CountingAllocator();
    const run = decodeWithCuts(hex('06 000000 000065 09 01000000'), [], { maxMessageBytes: 100, allocator: alloc });
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toBeInstanceOf(LimitError);
    expect(run.errors[0]!.code).toBe('RTMP_ERR_MESSAGE_TOO_LARGE');
    expect(run.errors[0]!.detail.offset).toBe(12);
    expect(alloc.acquired).toEqual([]);
  });

  it('rejects a chunk stream beyond the limit', () => {
    const bytes = hex(
      '03 000000 000001 14 00000000 00  04 000000 000001 08 01000000 00  05 000000 000001 09 01000000 00',
    );
    const run = decodeWithCuts(bytes, [], { maxChunkStreams: 2 });
    expect(run.messages).toHaveLength(2);
    expect(run.errors.map((e) => e.code)).toEqual(['RTMP_ERR_CHUNK_STREAM_LIMIT']);
  });

  it('rejects Set Chunk Size 0 and a size with bit 31 set', () => {
    for (const size of ['00000000', '80000000', 'ffffffff']) {
      const run = decodeWithCuts(hex(`02 000000 000004 01 00000000 ${size}`));
      expect(
        run.errors.map((e) => e.code),
        size,
      ).toEqual(['RTMP_ERR_CHUNK_SIZE']);
      expect(run.errors[0]).toBeInstanceOf(ProtocolError);
    }
  });

  it('rejects a fmt 1 header on a chunk stream that has had no fmt 0 header', () => {
    const run = decodeWithCuts(hex('44 00000a 000002 09 0405'));
    expect(run.errors.map((e) => e.code)).toEqual(['RTMP_ERR_CHUNK_STREAM_UNINITIALISED']);
    expect(run.errors[0]!.message).toContain('chunk stream 4');
  });

  it('rejects a protocol control message that is too short', () => {
    const run = decodeWithCuts(hex('02 000000 000002 01 00000000 0001'));
    expect(run.errors.map((e) => e.code)).toEqual(['RTMP_ERR_CONTROL_MALFORMED']);
  });

  it('skips and counts messages of unknown type without failing', () => {
    const run = decodeWithCuts(hex('03 000000 000002 30 00000000 abcd  03 000000 000001 14 00000000 01'));
    expect(run.errors).toEqual([]);
    expect(run.messages.map((m) => m.typeId)).toEqual([20]);
    expect(run.reader.stats().unknownMessages).toBe(1);
  });

  it('is dead after an error: it reports once and ignores later bytes', () => {
    const errors: unknown[] = [];
    const messages: unknown[] = [];
    const reader = new ChunkReader({
      onMessage: (m) => messages.push(m),
      onError: (e) => errors.push(e),
    });
    expect(reader.push(hex('44 00000a 000002 09 0405'))).toBe(false);
    expect(reader.push(hex('03 000000 000001 14 00000000 01'))).toBe(false);
    expect(errors).toHaveLength(1);
    expect(messages).toHaveLength(0);
    expect(reader.dead).toBe(true);
  });

  it('reports an exception thrown by the sink as an error instead of throwing out of push', () => {
    const errors: { code: string }[] = [];
    const reader = new ChunkReader({
      onMessage: () => {
        throw new Error('boom');
      },
      onError: (e) => errors.push(e),
    });
    expect(reader.push(hex('03 000000 000001 14 00000000 01'))).toBe(false);
    expect(errors.map((e) => e.code)).toEqual(['RTMP_ERR_READER_DEAD']);
  });
});

describe('extendTimestamp', () => {
  it('places a wrapped 32-bit timestamp after the previous one', () => {
    expect(extendTimestamp(2 ** 32 - 5, 3)).toBe(2 ** 32 + 3);
    expect(extendTimestamp(3 * 2 ** 32 + 100, 50)).toBe(3 * 2 ** 32 + 50);
    expect(extendTimestamp(1000, 2000)).toBe(2000);
  });

  it('never goes below zero for a first backward jump across 0', () => {
    expect(extendTimestamp(10, 0xfffffff0)).toBe(0xfffffff0);
  });
});

describe('ChunkReader skim mode (players that read only headers and marks)', () => {
  const video300 = Buffer.concat([
    hex('06 000000 00012c 09 01000000'),
    P300.subarray(0, 128),
    hex('c6'),
    P300.subarray(128, 256),
    hex('c6'),
    P300.subarray(256),
  ]);

  it('keeps the first N bytes of a multi-chunk video message and reports its full length, however the bytes are split', () => {
    const check = (cuts: number[]) => {
      const run = decodeWithCuts(video300, cuts, { skimMedia: 64 });
      expect(run.errors).toEqual([]);
      expect(run.raw).toHaveLength(1);
      expect(run.raw[0]!.length).toBe(300);
      expect(run.raw[0]!.payload.toString('hex')).toBe(P300.subarray(0, 64).toString('hex'));
    };
    check([]);
    for (let cut = 1; cut < video300.length; cut++) check([cut]);
    check(Array.from({ length: video300.length - 1 }, (_, i) => i + 1));
  });

  it('keeps the prefix as a view when it lies inside one read, without allocating', () => {
    const alloc = new CountingAllocator();
    const run = decodeWithCuts(video300, [], { skimMedia: 64, allocator: alloc });
    expect(run.raw[0]!.pooled).toBe(false);
    expect(alloc.acquired).toEqual([]);
  });

  it('never skims commands, and skims audio as well as video', () => {
    const bytes = hex('03 000000 000005 14 00000000 68656c6c6f  04 000000 000003 08 01000000 aabbcc');
    const run = decodeWithCuts(bytes, [], { skimMedia: 2 });
    expect(run.raw.map((m) => [m.payload.toString('hex'), m.length])).toEqual([
      ['68656c6c6f', 5],
      ['aabb', 3],
    ]);
  });
});

/** An admission that records what it was asked and refuses what its rules say. */
class RecordingAdmission implements MessageAdmission {
  admitted: [number, number][] = [];
  held = 0;
  maxHeld = 0;
  constructor(
    private readonly refuseType = -1,
    private readonly holdBound = Infinity,
  ) {}
  admit(typeId: number, length: number): boolean {
    this.admitted.push([typeId, length]);
    return typeId !== this.refuseType;
  }
  hold(bytes: number): boolean {
    if (this.held + bytes > this.holdBound) return false;
    this.held += bytes;
    this.maxHeld = Math.max(this.maxHeld, this.held);
    return true;
  }
  unhold(bytes: number): void {
    this.held -= bytes;
  }
}

describe('ChunkReader admission', () => {
  it('asks about each message once, at its header, before any payload arrives', () => {
    const admission = new RecordingAdmission(9);
    const alloc = new CountingAllocator();
    // A command, then the header alone of an 8 MB video message (chunk size 0x7fffffff first).
    const bytes = hex(
      '02 000000 000004 01 00000000 7fffffff  03 000000 000001 14 00000000 05  06 000000 800000 09 01000000',
    );
    const run = decodeWithCuts(bytes, [], { admission, allocator: alloc });
    expect(admission.admitted).toEqual([
      [1, 4],
      [20, 1],
      [9, 0x800000],
    ]);
    expect(run.messages.map((m) => m.typeId)).toEqual([1, 20]);
    // Refused: dead at once, no error of its own (the admission closes the connection), nothing allocated.
    expect(run.errors).toEqual([]);
    expect(run.reader.dead).toBe(true);
    expect(alloc.acquired).toEqual([]);
  });

  it('holds a split message by its declared length from its first chunk until it is delivered', () => {
    const admission = new RecordingAdmission();
    const msg = Buffer.concat([hex('06 000000 000100 09 01000000'), pattern(128), hex('c6'), pattern(128, 128)]);
    const reader = new ChunkReader({ onMessage: () => {}, onError: () => {} }, { admission });
    reader.push(msg.subarray(0, 20));
    expect(admission.held).toBe(256);
    reader.push(msg.subarray(20));
    expect(admission.held).toBe(0);
    expect(admission.maxHeld).toBe(256);
  });

  it('holds nothing for a message that arrives whole in one read (a view)', () => {
    const admission = new RecordingAdmission();
    decodeWithCuts(hex('03 000000 000005 14 00000000 68656c6c6f'), [], { admission });
    expect(admission.maxHeld).toBe(0);
  });

  it('gives back what it held when a partial message is aborted, replaced or the reader destroyed', () => {
    const admission = new RecordingAdmission();
    const reader = new ChunkReader({ onMessage: () => {}, onError: () => {} }, { admission });
    // First chunks (128 bytes at the default chunk size) of 256-byte messages.
    reader.push(Buffer.concat([hex('06 000000 000100 09 01000000'), pattern(128)]));
    expect(admission.held).toBe(256);
    reader.push(hex('02 000000 000004 02 00000000 00000006')); // Abort chunk stream 6
    expect(admission.held).toBe(0);
    reader.push(Buffer.concat([hex('06 000000 000100 09 01000000'), pattern(128)]));
    reader.push(Buffer.concat([hex('06 000000 000200 09 01000000'), pattern(128)])); // a new header: the first is abandoned
    expect(admission.held).toBe(512);
    reader.destroy();
    expect(admission.held).toBe(0);
  });

  it('stops, holding nothing, when the admission refuses the bytes of a message', () => {
    const admission = new RecordingAdmission(-1, 300);
    const alloc = new CountingAllocator();
    const reader = new ChunkReader({ onMessage: () => {}, onError: () => {} }, { admission, allocator: alloc });
    reader.push(Buffer.concat([hex('06 000000 000100 09 01000000'), pattern(128)]));
    expect(reader.push(Buffer.concat([hex('04 000000 000100 08 01000000'), pattern(128)]))).toBe(true);
    expect(reader.dead).toBe(true);
    expect(admission.held).toBe(0);
    expect(alloc.acquired).toEqual([256]);
    expect(alloc.outstanding).toBe(0);
    expect(reader.push(hex('c6 00'))).toBe(false);
  });
});
