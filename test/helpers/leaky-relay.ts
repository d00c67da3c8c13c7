import { resolve } from 'node:path';
import { launch } from '../../src/proc/spawn.js';

const RELAY = resolve(import.meta.dirname, '../../dist/bench/lib/leaky-relay.js');

export interface LeakyRelay {
  pid: number;
  port: number;
  output: () => string;
  stop: () => Promise<number | null>;
}

/**
 * bench/lib/leaky-relay.ts (built) in its own process, relaying to `targetPort` and keeping
 * `keepBytes` per connection it ever relayed; resolves once it listens. It collects garbage
 * every second in a small young generation, so a test of twenty seconds sees what it keeps,
 * not V8 growing its heap (which takes a Node process about a minute of churn to settle).
 */
export async function startLeakyRelay(targetPort: number, keepBytes: number): Promise<LeakyRelay> {
  const handle = launch(process.execPath, [
    '--expose-gc',
    '--max-semi-space-size=1',
    RELAY,
    '--target-port',
    String(targetPort),
    '--keep-bytes',
    String(keepBytes),
  ]);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = /listening (\d+)/.exec(handle.output());
    if (m) return { pid: handle.pid, port: Number(m[1]), output: handle.output, stop: () => handle.stop() };
    if (!handle.running || Date.now() > deadline) {
      await handle.stop();
      throw new Error(`the relay did not start: ${handle.output()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
