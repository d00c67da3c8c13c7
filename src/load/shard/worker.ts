import type { MessagePort } from 'node:worker_threads';
import { isOrchestratorMessage, type ShardResult, type ShardTask } from '../worker-protocol.js';
import { Shard } from './shard.js';

/** piscina entry: one task is one worker's whole share of a run; ticks go back over `port`. */
export default async function shardWorker(task: ShardTask & { port: MessagePort }): Promise<ShardResult> {
  const { port, ...shardTask } = task;
  // The orchestrator may end the run early (a capacity search that broke its thresholds).
  const stopped = new Promise<number>((resolve) =>
    port.on('message', (m: unknown) => {
      if (isOrchestratorMessage(m)) resolve(m.atUs);
    }),
  );
  try {
    return await new Shard(shardTask, (m) => port.postMessage(m)).run(stopped);
  } finally {
    port.close();
  }
}
