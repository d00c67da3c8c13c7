import type { Command } from 'commander';
import { parseDurationMs, parseStartAt } from '../input/units.js';
import { UsageError } from '../input/usage-error.js';
import { Coordinator } from '../load/coordinator.js';
import { newRunId } from '../load/share-run.js';
import { EXIT_OK } from './exit-codes.js';

interface CoordinateFlags {
  shares: string;
  listen?: string;
  runId?: string;
  startAt?: string;
  idle?: string;
}

/** HOST:PORT or PORT (host 127.0.0.1). */
export function parseListen(v: string, flag: string): { host: string; port: number } {
  const m = /^(?:(.+):)?(\d{1,5})$/.exec(v.trim());
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || port > 65535) throw new UsageError(`${flag}: "${v}" is not [HOST:]PORT`);
  return { host: m[1] ?? '127.0.0.1', port };
}

/** A --start-at time in the future (ms since the epoch); bad input is a UsageError. */
export function startAtFlag(v: string): number {
  const now = Date.now();
  const at = parseStartAt(v, now);
  if (at === null)
    throw new UsageError(
      `--start-at: "${v}" is not an ISO time with its zone (2026-12-06T10:30:00Z) or a time from now (+30s)`,
    );
  if (at <= now)
    throw new UsageError(
      `--start-at: ${new Date(at).toISOString()} is in the past (now ${new Date(now).toISOString()})`,
    );
  return at;
}

async function coordinateCommand(flags: CoordinateFlags): Promise<number> {
  const count = Number(flags.shares);
  if (!Number.isInteger(count) || count < 1)
    throw new UsageError(`--shares: "${flags.shares}" is not a number of shares`);
  const { host, port } = parseListen(flags.listen ?? '7400', '--listen');
  const idleMs = parseDurationMs(flags.idle ?? '15s');
  if (idleMs === null || idleMs <= 0) throw new UsageError(`--idle: "${flags.idle}" is not a duration`);
  const runId = flags.runId ?? newRunId();
  const coordinator = new Coordinator({
    runId,
    count,
    ...(flags.startAt !== undefined ? { startAtWallMs: startAtFlag(flags.startAt) } : {}),
  });
  const bound = await coordinator.listen(port, host);
  console.error(`rtmpbench coordinate: run ${runId}, ${count} shares, at http://${host}:${bound}/`);
  await coordinator.idle(idleMs);
  await coordinator.close();
  console.error('rtmpbench coordinate: every share started and went quiet: done');
  return EXIT_OK;
}

export function registerCoordinate(program: Command): void {
  program
    .command('coordinate')
    .description(
      'serve the common start and the reference clock of a run spread over machines (run --shard I/N --coordinator URL)',
    )
    .requiredOption('--shares <n>', 'how many shares the run has')
    .option('--listen <[host:]port>', 'where to listen (default: 127.0.0.1:7400)')
    .option('--run-id <id>', 'the run id every share records (default: a new one)')
    .option(
      '--start-at <time>',
      'start at this time (ISO with zone, or +30s from now) rather than when every share has joined',
    )
    .option('--idle <time>', 'stop this long after the start once no share asks anything (default: 15s)')
    .action(async (flags: CoordinateFlags) => {
      process.exitCode = await coordinateCommand(flags);
    });
}
