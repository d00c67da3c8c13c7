import type { MessagePort } from 'node:worker_threads';
import { runShard, type ShardResult, type ShardTask } from './shard.js';

/** piscina entry: one task is one worker's whole share of a run; ticks go back over `port`. */
export default async function shardWorker(task: ShardTask & { port: MessagePort }): Promise<ShardResult> {
  const { port, ...shard } = task;
  // The orchestrator may end the run early (a capacity search that broke its thresholds).
  const stopped = new Promise<number>((resolve) => port.on('message', (m: { type?: string; atUs?: number }) => m?.type === 'stop' && resolve(m.atUs ?? 0)));
  try {
    return await runShard(shard, (tick) => port.postMessage(tick), stopped);
  } finally {
    port.close();
  }
}
