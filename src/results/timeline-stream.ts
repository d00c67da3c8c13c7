import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LiveSecond, RunObserver, RunStart } from './live.js';
import type { TimelinePoint } from './timeline.js';

/**
 * timeline.ndjson: the run's timeline as it goes, one JSON line per second (the same points
 * timeline.json holds at the end), appended to the run's folder as each second is built, so
 * any pipeline can tail it while the run lasts.
 */

export const TIMELINE_STREAM_FILE = 'timeline.ndjson';

/** One point as one line of NDJSON. */
export function timelineLine(point: TimelinePoint): string {
  return `${JSON.stringify(point)}\n`;
}

export class TimelineStream implements RunObserver {
  private path: string | null = null;

  onStart(start: RunStart): void {
    this.path = join(start.resultsDir, TIMELINE_STREAM_FILE);
    appendFileSync(this.path, '');
  }

  onSecond(second: LiveSecond): void {
    // A line is written whole by one call, so a reader never sees half of one once the call returns.
    if (this.path !== null) appendFileSync(this.path, timelineLine(second.point));
  }
}
