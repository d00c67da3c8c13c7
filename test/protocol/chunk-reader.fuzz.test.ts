import { describe, expect, it } from 'vitest';
import { ChunkReader } from '../../src/protocol/chunk-reader.js';
import { ChunkWriter, flattenEncoded } from '../../src/protocol/chunk-writer.js';
import { MSG_AUDIO, MSG_COMMAND_AMF0, MSG_VIDEO } from '../../src/protocol/constants.js';
import { abortMessage, setChunkSizeMessage, windowAckSizeMessage } from '../../src/protocol/control.js';
import { connectCommand } from '../../src/protocol/commands.js';
import { CountingAllocator, pattern } from '../helpers/bytes.js';

/** xorshift32: a deterministic stream of pseudo-random numbers, so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

function validStream(rand: () => number): Buffer {
  const w = new ChunkWriter({ compressHeaders: rand() < 0.5 });
  const parts = [flattenEncoded(w.encode(connectCommand({ app: 'live', tcUrl: 'rtmp://127.0.0.1/live' })))];
  parts.push(flattenEncoded(w.encode(windowAckSizeMessage(2500))));
  const size = [128, 256, 4096][Math.floor(rand() * 3)]!;
  parts.push(flattenEncoded(w.encode(setChunkSizeMessage(size))));
  w.setChunkSize(size);
  let ts = rand() < 0.3 ? 0xfffff0 : 0;
  for (let i = 0; i < 6; i++) {
    ts += Math.floor(rand() * 40);
    const video = rand() < 0.5;
    const length = Math.floor(rand() * (video ? 3000 : 300));
    parts.push(
      flattenEncoded(
        w.encode({
          csid: video ? 6 : 4,
          typeId: video ? MSG_VIDEO : MSG_AUDIO,
          streamId: 1,
          timestamp: ts,
          payload: pattern(length, i),
        }),
      ),
    );
    if (rand() < 0.1) parts.push(flattenEncoded(w.encode(abortMessage(6))));
  }
  parts.push(
    flattenEncoded(w.encode({ csid: 3, typeId: MSG_COMMAND_AMF0, streamId: 0, timestamp: 0, payload: pattern(50) })),
  );
  return Buffer.concat(parts);
}

function mutate(base: Buffer, rand: () => number): Buffer {
  let b = Buffer.from(base);
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const kind = Math.floor(rand() * 6);
    const at = Math.floor(rand() * Math.max(1, b.length));
    if (kind === 0 && b.length > 0) {
      b[at] = b[at]! ^ (1 << Math.floor(rand() * 8));
    } else if (kind === 1 && b.length > 0) {
      b[at] = Math.floor(rand() * 256);
    } else if (kind === 2) {
      const ins = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 16) }, () => Math.floor(rand() * 256)));
      b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
    } else if (kind === 3) {
      b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(rand() * 32))]);
    } else if (kind === 4) {
      b = b.subarray(0, at);
    } else {
      const len = Math.floor(rand() * 64);
      b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]);
    }
  }
  return b;
}

function randomBytes(rand: () => number): Buffer {
  const b = Buffer.allocUnsafe(Math.floor(rand() * 2048));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

describe('ChunkReader fuzz', () => {
  it('survives 100,000 random and mutated streams with no throw, no hang and bounded memory', () => {
    const rand = rng(0x5eed1234);
    const maxMessageBytes = 64 * 1024;
    const maxChunkStreams = 16;
    const bases = Array.from({ length: 32 }, () => validStream(rand));
    let failures = 0;
    let delivered = 0;
    let bytes = 0;
    let maxOutstanding = 0;
    const violations: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const input = i % 4 === 0 ? randomBytes(rand) : mutate(bases[i % bases.length]!, rand);
      bytes += input.length;
      const alloc = new CountingAllocator();
      let errors = 0;
      const reader = new ChunkReader(
        {
          onMessage(m) {
            delivered++;
            if (m.pooled) alloc.release(m.payload);
          },
          onError() {
            errors++;
          },
        },
        { maxMessageBytes, maxChunkStreams, allocator: alloc },
      );
      let start = 0;
      const pieces = 1 + Math.floor(rand() * 4);
      for (let p = 0; p < pieces; p++) {
        const end = p === pieces - 1 ? input.length : start + Math.floor(rand() * (input.length - start + 1));
        // push never throws: a failure is reported through onError.
        reader.push(input.subarray(start, end));
        start = end;
      }
      reader.destroy();
      // Collected rather than asserted per stream: 100,000 expect() calls would dominate the run.
      if (errors > 1) violations.push(`stream ${i}: ${errors} errors reported`);
      if (errors > 0) failures++;
      for (const size of alloc.acquired)
        if (size > maxMessageBytes) violations.push(`stream ${i}: acquired ${size} bytes`);
      if (alloc.outstanding !== 0) violations.push(`stream ${i}: ${alloc.outstanding} bytes never released`);
      maxOutstanding = Math.max(maxOutstanding, alloc.maxOutstanding);
    }
    expect(violations.slice(0, 10)).toEqual([]);
    // The fuzzer must exercise both outcomes, or it tests nothing.
    expect(failures).toBeGreaterThan(1000);
    expect(delivered).toBeGreaterThan(100_000);
    expect(maxOutstanding).toBeLessThanOrEqual(maxChunkStreams * maxMessageBytes);
    expect(bytes).toBeGreaterThan(10_000_000);
  }, 120_000);
});
