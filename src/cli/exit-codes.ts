import { RunError } from '../load/errors.js';
import { UsageError } from '../input/usage-error.js';

/** Exit codes of the CLI (DESIGN.md). */
export const EXIT_OK = 0;
/** A threshold of the scenario failed. */
export const EXIT_THRESHOLD_FAILED = 1;
/** Bad usage or an invalid scenario: every problem is listed before any socket opens. */
export const EXIT_USAGE = 2;
/** The run itself failed (the target could not be reached, the server did not start...). */
export const EXIT_RUN_FAILED = 3;

/**
 * Says an expected failure on stderr and gives its exit code: bad usage 2, a failed run 3.
 * Anything else is a bug and is rethrown.
 */
export function failureExit(command: string, e: unknown): number {
  if (e instanceof UsageError) {
    console.error(`rtmpbench ${command}: ${e.reason}`);
    return EXIT_USAGE;
  }
  if (e instanceof RunError) {
    console.error(`rtmpbench ${command}: ${e.message}`);
    return EXIT_RUN_FAILED;
  }
  throw e;
}
