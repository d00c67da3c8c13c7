import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/buffers/buffer-pool.js';
import { RingQueue } from '../../src/buffers/ring-queue.js';

describe('BufferPool', () => {
  it('gives buffers of exactly the requested size from power-of-two classes', () => {
    const pool = new BufferPool({ minClassBytes: 1024 });
    const a = pool.acquire(10);
    const b = pool.acquire(3000);
    expect(a.length).toBe(10);
    expect(a.buffer.byteLength).toBe(1024);
    expect(b.length).toBe(3000);
    expect(b.buffer.byteLength).toBe(4096);
  });

  it('reuses a released buffer of the same class and counts hits and misses', () => {
    const pool = new BufferPool();
    const a = pool.acquire(5000);
    pool.release(a);
    const b = pool.acquire(6000);
    expect(b.buffer).toBe(a.buffer);
    expect(pool.stats()).toMatchObject({ hits: 1, misses: 1, heldBytes: 0, outstandingBytes: 8192 });
    pool.release(b);
    expect(pool.stats()).toMatchObject({ heldBytes: 8192, outstandingBytes: 0 });
  });

  it('drops releases beyond its cap instead of growing', () => {
    const pool = new BufferPool({ maxHeldBytes: 16 * 1024 });
    const bufs = [pool.acquire(8192), pool.acquire(8192), pool.acquire(8192)];
    for (const b of bufs) pool.release(b);
    expect(pool.stats()).toMatchObject({ heldBytes: 16 * 1024, dropped: 1 });
  });

  it('does not pool requests above the largest class', () => {
    const pool = new BufferPool({ maxClassBytes: 4096 });
    const big = pool.acquire(10_000);
    pool.release(big);
    expect(pool.stats()).toMatchObject({ misses: 1, heldBytes: 0 });
  });

  it('ignores buffers it did not hand out', () => {
    const pool = new BufferPool();
    pool.release(Buffer.alloc(4096));
    pool.release(Buffer.allocUnsafeSlow(1024));
    expect(pool.stats().heldBytes).toBe(0);
  });

  it('in debug mode poisons released buffers and rejects a double release', () => {
    const pool = new BufferPool({ debug: true });
    const a = pool.acquire(100);
    a.fill(1);
    pool.release(a);
    expect(a[0]).toBe(0xdb);
    expect(() => pool.release(a)).toThrow(/twice/);
  });

  it('rejects class bounds that are not powers of two', () => {
    expect(() => new BufferPool({ minClassBytes: 1000 })).toThrow(RangeError);
  });
});

describe('RingQueue', () => {
  it('keeps FIFO order across growth and wrap-around', () => {
    const q = new RingQueue<number>(4);
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < (round % 7) + 1; i++) q.push(next++);
      for (let i = 0; i < (round % 5) + 1 && q.length > 0; i++) out.push(q.shift()!);
    }
    while (q.length > 0) out.push(q.shift()!);
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
  });

  it('peeks, indexes and iterates without removing', () => {
    const q = new RingQueue<string>(2);
    q.push('a');
    q.push('b');
    q.push('c');
    expect(q.peek()).toBe('a');
    expect(q.at(2)).toBe('c');
    expect(q.at(3)).toBeUndefined();
    expect([...q]).toEqual(['a', 'b', 'c']);
    q.clear();
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
  });
});
