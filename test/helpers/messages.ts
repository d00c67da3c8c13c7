import { BufferPool } from '../../src/buffers/buffer-pool.js';
import { type MessageClass, SharedMessage } from '../../src/server/shared-message.js';

/** A pool that checks its buffers come back, and messages of a class and size from it. */
export const pool = new BufferPool({ debug: true });

export function message(cls: MessageClass, bytes: number): SharedMessage {
  return new SharedMessage(pool.acquire(bytes).fill(cls), cls, 0, pool);
}
