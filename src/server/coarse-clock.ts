/**
 * A clock read once per fan-out slice and per probe tick, for what needs the time of many
 * events but not to the microsecond (how long messages have waited in a player's queue):
 * `performance.now()` on every message of every player would cost more than the rest of the
 * bookkeeping. Stale by at most a slice or a tick (250 ms).
 */
export const coarseClock = { nowMs: performance.now() };

/** Reads the clock now (and returns it). */
export function updateCoarseClock(): number {
  coarseClock.nowMs = performance.now();
  return coarseClock.nowMs;
}
