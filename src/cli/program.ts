import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { EXIT_RUN_FAILED, EXIT_USAGE } from './exit-codes.js';
import { registerCompare } from './compare.js';
import { registerCoordinate } from './coordinate.js';
import { registerK8s } from './k8s.js';
import { registerMerge } from './merge.js';
import { registerProfile } from './profile.js';
import { registerProbe } from './probe.js';
import { registerReport } from './report.js';
import { registerRun } from './run.js';
import { registerSchema } from './schema.js';
import { registerServe } from './serve.js';
import { isRtmpError } from '../protocol/errors.js';
import { UsageError } from '../input/usage-error.js';

/** The `rtmpbench` command: a thin shell over the library API, one file per subcommand. */
function buildProgram(): Command {
  const program = new Command('rtmpbench')
    .description('RTMP load generator and benchmarking suite with an optimized built-in RTMP server')
    .version(VERSION)
    .showHelpAfterError('(run rtmpbench --help for usage)')
    .exitOverride();
  registerRun(program);
  registerCompare(program);
  registerReport(program);
  registerMerge(program);
  registerCoordinate(program);
  registerK8s(program);
  registerProfile(program);
  registerProbe(program);
  registerServe(program);
  registerSchema(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** Parses and runs; resolves to the process exit code and never throws. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every parse problem is a usage error.
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      console.error(`rtmpbench: ${err.reason}`);
      return EXIT_USAGE;
    }
    console.error(`rtmpbench: ${isRtmpError(err) ? err.message : ((err as Error)?.message ?? String(err))}`);
    return EXIT_RUN_FAILED;
  }
}
