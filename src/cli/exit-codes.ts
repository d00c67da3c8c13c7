/** Exit codes of the CLI (DESIGN.md). */
export const EXIT_OK = 0;
/** A threshold of the scenario failed. */
export const EXIT_THRESHOLD_FAILED = 1;
/** Bad usage or an invalid scenario: every problem is listed before any socket opens. */
export const EXIT_USAGE = 2;
/** The run itself failed (the target could not be reached, the server did not start...). */
export const EXIT_RUN_FAILED = 3;
