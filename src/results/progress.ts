/** A run in progress, once per second: what a progress line or a live view shows. */
export interface Progress {
  tSec: number;
  durationSec: number;
  publishersUp: number;
  playersUp: number;
  playersPlanned: number;
  mbpsReceived: number;
  /** p99 end-to-end latency over the last second, ms (null before any frame). */
  p99EndToEndMs: number | null;
  /** Failures so far. */
  errors: number;
  /** The busiest generator thread's event-loop utilisation over the last second. */
  generatorEventLoopUtilization: number | null;
}
