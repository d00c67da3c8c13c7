import type { Scenario } from '../results/scenario.js';

/**
 * Publisher churn on a fixed schedule from the run start, so that every worker knows which
 * publication of a stream is live at any moment without asking: publication k (its epoch) is
 * live from k·(every + pause) for `every`, then the stream is away for `pause`.
 */
export type RestartPlan = NonNullable<Scenario['restart']>;

function cycleMs(r: RestartPlan): number {
  return r.everyMs + r.pauseMs;
}

/** When publication `epoch` starts and stops, ms since the run start. */
export function publicationWindow(r: RestartPlan, epoch: number): [number, number] {
  const start = epoch * cycleMs(r);
  return [start, start + r.everyMs];
}

/** The publication live at `tMs` since the run start, or the next one during a pause. */
export function epochAt(r: RestartPlan | undefined, tMs: number): number {
  if (r === undefined || tMs < 0) return 0;
  const k = Math.floor(tMs / cycleMs(r));
  return tMs - k * cycleMs(r) < r.everyMs ? k : k + 1;
}

/** The name a stream is published under in an epoch: the same, or NAME-rK when renaming. */
export function publishedName(base: string, epoch: number, r: RestartPlan | undefined): string {
  return r?.rename && epoch > 0 ? `${base}-r${epoch}` : base;
}

/** Whether `tMs` lies near a publication's end (from a second before it stops to when the next one starts). */
export function nearRestart(r: RestartPlan | undefined, tMs: number, slackMs = 1000): boolean {
  if (r === undefined) return false;
  const inCycle = ((tMs % cycleMs(r)) + cycleMs(r)) % cycleMs(r);
  return inCycle >= r.everyMs - slackMs || inCycle < slackMs;
}
