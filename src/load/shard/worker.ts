import type { MessagePort } from 'node:worker_threads';
import { setMarkClockOffset } from '../../media/timing-mark.js';
import { isOrchestratorMessage, type ShardResult, type ShardTask } from '../worker-protocol.js';
import { Shard } from './shard.js';

/** piscina entry: one task is one worker's whole share of a run; ticks go back over `port`. */
export default async function shardWorker(task: ShardTask & { port: MessagePort }): Promise<ShardResult> {
  const { port, ...shardTask } = task;
  // Marks on the run's reference clock (0 on one host); measured again while the run goes on.
  setMarkClockOffset(shardTask.clockOffsetUs);
  // The orchestrator may end the run early (a capacity search that broke its thresholds).
  const stopped = new Promise<number>((resolve) =>
    port.on('message', (m: unknown) => {
      if (!isOrchestratorMessage(m)) return;
      if (m.kind === 'stop') resolve(m.atUs);
      else setMarkClockOffset(m.offsetUs);
    }),
  );
  try {
    return await new Shard(shardTask, (m) => port.postMessage(m)).run(stopped);
  } finally {
    port.close();
  }
}
