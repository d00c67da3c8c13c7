import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { TIMELINE_FILE } from './folder.js';
import type { LiveSecond, RunObserver, RunStart } from './live.js';
import { timelineLine } from './timeline.js';

export { timelineLine };

/**
 * timeline.ndjson: the run's timeline as it goes, one JSON line per second, appended to the
 * run's folder as each second is built, so any pipeline can tail it while the run lasts and a
 * run that dies keeps the seconds it had. It is the folder's one timeline file: the run writes
 * no other copy at its end.
 */

export const TIMELINE_STREAM_FILE = TIMELINE_FILE;

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
