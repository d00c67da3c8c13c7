/**
 * Where the chunk reader gets buffers for messages it must reassemble. The protocol layer
 * only knows this interface; `src/buffers/buffer-pool.ts` implements it with reuse.
 */
export interface BufferAllocator {
  /** A buffer of exactly `size` bytes whose contents are undefined until written. */
  acquire(size: number): Buffer;
  /** Gives a buffer from `acquire` back. Callers release each buffer at most once. */
  release(buf: Buffer): void;
}

/** Plain allocation; `release` leaves the buffer to the garbage collector. */
export const HEAP_ALLOCATOR: BufferAllocator = {
  acquire(size: number): Buffer {
    return Buffer.allocUnsafe(size);
  },
  release(): void {
    // Garbage collected.
  },
};
