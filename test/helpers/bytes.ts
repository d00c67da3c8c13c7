import type { BufferAllocator } from '../../src/protocol/allocator.js';
import { ChunkReader, type ChunkReaderOptions } from '../../src/protocol/chunk-reader.js';
import type { RtmpError } from '../../src/protocol/errors.js';
import type { RtmpMessage } from '../../src/protocol/message.js';

/** Bytes from hex, ignoring spaces, newlines and `#` comments to the end of a line. */
export function hex(text: string): Buffer {
  const clean = text.replace(/#[^\n]*/g, '').replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex: ${clean}`);
  return Buffer.from(clean, 'hex');
}

/** `n` bytes counting up from `start` (mod 256): payloads whose bytes differ from neighbours. */
export function pattern(n: number, start = 0): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (start + i) & 0xff;
  return b;
}

export interface DecodedForTest {
  csid: number;
  typeId: number;
  streamId: number;
  timestamp: number;
  payload: string;
}

export interface DecodeRun {
  messages: DecodedForTest[];
  raw: RtmpMessage[];
  errors: RtmpError[];
  acks: number[];
  reader: ChunkReader;
}

/** Decodes `bytes` pushed in the pieces given by `cuts` (ascending split offsets). */
export function decodeWithCuts(bytes: Buffer, cuts: number[] = [], options: ChunkReaderOptions = {}): DecodeRun {
  const run: DecodeRun = { messages: [], raw: [], errors: [], acks: [], reader: null as unknown as ChunkReader };
  run.reader = new ChunkReader(
    {
      onMessage(m) {
        run.raw.push(m);
        run.messages.push({
          csid: m.csid,
          typeId: m.typeId,
          streamId: m.streamId,
          timestamp: m.timestamp,
          payload: m.payload.toString('hex'),
        });
      },
      onAcknowledgementDue(seq) {
        run.acks.push(seq);
      },
      onError(err) {
        run.errors.push(err);
      },
    },
    options,
  );
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    // Copy each piece so views of one piece can never alias another's memory.
    run.reader.push(Buffer.from(bytes.subarray(start, cut)));
    start = cut;
  }
  return run;
}

export function bytewise(bytes: Buffer, options: ChunkReaderOptions = {}): DecodeRun {
  return decodeWithCuts(
    bytes,
    Array.from({ length: Math.max(0, bytes.length - 1) }, (_, i) => i + 1),
    options,
  );
}

/** An allocator that records every acquire and release. */
export class CountingAllocator implements BufferAllocator {
  acquired: number[] = [];
  released = 0;
  outstanding = 0;
  maxOutstanding = 0;
  acquire(size: number): Buffer {
    this.acquired.push(size);
    this.outstanding += size;
    if (this.outstanding > this.maxOutstanding) this.maxOutstanding = this.outstanding;
    return Buffer.alloc(size);
  }
  release(buf: Buffer): void {
    this.released++;
    this.outstanding -= buf.length;
  }
}
