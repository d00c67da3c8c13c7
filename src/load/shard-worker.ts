import type { MessagePort } from 'node:worker_threads';
import { runShard, type ShardResult, type ShardTask } from './shard.js';

/** piscina entry: one task is one worker's whole share of a run; ticks go back over `port`. */
export default async function shardWorker(task: ShardTask & { port: MessagePort }): Promise<ShardResult> {
  const { port, ...shard } = task;
  try {
    return await runShard(shard, (tick) => port.postMessage(tick));
  } finally {
    port.close();
  }
}
