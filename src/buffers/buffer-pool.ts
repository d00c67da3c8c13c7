import type { BufferAllocator } from '../protocol/allocator.js';

export interface BufferPoolOptions {
  /** Smallest size class in bytes (a power of two). Smaller requests get this class. */
  minClassBytes?: number;
  /** Largest size class in bytes (a power of two). Larger requests are not pooled. */
  maxClassBytes?: number;
  /** Most bytes the free lists may hold; a release beyond it drops the buffer. */
  maxHeldBytes?: number;
  /** Fill released buffers with 0xdb and reject double releases (slow; for tests). */
  debug?: boolean;
}

export interface BufferPoolStats {
  /** Acquires served from a free list. */
  hits: number;
  /** Acquires that allocated new memory (including unpooled, oversized ones). */
  misses: number;
  /** Releases dropped because the pool was at its cap. */
  dropped: number;
  /** Bytes sitting in free lists now. */
  heldBytes: number;
  /** Pooled bytes (whole classes) acquired and not yet released. */
  outstandingBytes: number;
}

const POISON = 0xdb;

/**
 * Size-classed pool of byte buffers. Each class is a power of two; a request takes the
 * smallest class that fits and gets a Buffer of exactly the requested length that views
 * the start of a class-sized ArrayBuffer. `release` finds the class from that ArrayBuffer.
 *
 * Ownership: every `acquire` has exactly one `release`, by whoever holds the buffer last.
 * A buffer not from this pool is ignored by `release` (counted nowhere), so views of
 * socket reads can flow through the same code paths.
 */
export class BufferPool implements BufferAllocator {
  private readonly minShift: number;
  private readonly maxShift: number;
  private readonly minClassBytes: number;
  private readonly maxClassBytes: number;
  private readonly maxHeldBytes: number;
  private readonly debug: boolean;
  private readonly free: ArrayBuffer[][];
  private readonly owned = new WeakSet<ArrayBuffer>();
  private readonly freeSet: Set<ArrayBuffer> | null;
  private hits = 0;
  private misses = 0;
  private dropped = 0;
  private heldBytes = 0;
  private outstandingBytes = 0;

  constructor(options: BufferPoolOptions = {}) {
    const minClass = options.minClassBytes ?? 1024;
    const maxClass = options.maxClassBytes ?? 16 * 1024 * 1024;
    if (!isPowerOfTwo(minClass) || !isPowerOfTwo(maxClass) || minClass > maxClass) {
      throw new RangeError(`pool classes must be powers of two with min <= max (got ${minClass}, ${maxClass})`);
    }
    this.minShift = Math.log2(minClass);
    this.maxShift = Math.log2(maxClass);
    this.minClassBytes = minClass;
    this.maxClassBytes = maxClass;
    this.maxHeldBytes = options.maxHeldBytes ?? 64 * 1024 * 1024;
    this.debug = options.debug ?? false;
    this.free = [];
    for (let s = 0; s <= this.maxShift; s++) this.free.push([]);
    this.freeSet = this.debug ? new Set() : null;
  }

  acquire(size: number): Buffer {
    if (size > this.maxClassBytes) {
      // Too large to keep: allocated and left to the garbage collector.
      this.misses++;
      return Buffer.allocUnsafe(size);
    }
    // 32 - clz32(size - 1) is ceil(log2(size)) for size >= 2.
    const shift = size <= this.minClassBytes ? this.minShift : 32 - Math.clz32(size - 1);
    const list = this.free[shift]!;
    let ab = list.pop();
    if (ab !== undefined) {
      this.hits++;
      this.heldBytes -= ab.byteLength;
      this.freeSet?.delete(ab);
    } else {
      this.misses++;
      // Not zero-filled (every byte is written before use): allocUnsafeSlow's own ArrayBuffer.
      ab = Buffer.allocUnsafeSlow(1 << shift).buffer as ArrayBuffer;
      this.owned.add(ab);
    }
    this.outstandingBytes += ab.byteLength;
    return Buffer.from(ab, 0, size);
  }

  release(buf: Buffer): void {
    const ab = buf.buffer;
    if (!(ab instanceof ArrayBuffer) || !this.owned.has(ab)) return;
    if (this.freeSet !== null) {
      if (this.freeSet.has(ab)) throw new Error('BufferPool: buffer released twice');
      new Uint8Array(ab).fill(POISON);
    }
    this.outstandingBytes -= ab.byteLength;
    if (this.heldBytes + ab.byteLength > this.maxHeldBytes) {
      this.dropped++;
      return;
    }
    this.heldBytes += ab.byteLength;
    this.free[31 - Math.clz32(ab.byteLength)]!.push(ab);
    this.freeSet?.add(ab);
  }

  stats(): BufferPoolStats {
    return {
      hits: this.hits,
      misses: this.misses,
      dropped: this.dropped,
      heldBytes: this.heldBytes,
      outstandingBytes: this.outstandingBytes,
    };
  }

  /** Empties the free lists (for shutdown, or to measure from a clean state). */
  trim(): void {
    for (const list of this.free) list.length = 0;
    this.freeSet?.clear();
    this.heldBytes = 0;
  }
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}
