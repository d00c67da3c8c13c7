import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import { round3 } from './round.js';

/**
 * How busy one thread's event loop is: utilisation (share of time spent running callbacks,
 * perf_hooks' eventLoopUtilization) and how late timers fire (monitorEventLoopDelay). A load
 * generator whose loop is saturated adds its own delay to every latency it measures; these
 * figures say when that happened.
 */
export interface EventLoopSample {
  /** 0..1 over the interval. */
  utilization: number;
  delayP99Us: number;
  delayMaxUs: number;
}

/** Sampling resolution of the delay monitor: fine enough for ms-scale delays, cheap. */
const RESOLUTION_MS = 10;

export class EventLoopMeter {
  private readonly delay: IntervalHistogram;
  private readonly total: IntervalHistogram;
  private readonly startElu: EventLoopUtilization;
  private lastElu: EventLoopUtilization;

  constructor() {
    this.delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.total = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.delay.enable();
    this.total.enable();
    this.startElu = performance.eventLoopUtilization();
    this.lastElu = this.startElu;
  }

  /** The figures since the last call (or since the meter started). */
  sample(): EventLoopSample {
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, this.lastElu).utilization;
    this.lastElu = now;
    const out = figures(utilization, this.delay);
    this.delay.reset();
    return out;
  }

  /** The figures since the meter started. */
  whole(): EventLoopSample {
    return figures(
      performance.eventLoopUtilization(performance.eventLoopUtilization(), this.startElu).utilization,
      this.total,
    );
  }

  stop(): void {
    this.delay.disable();
    this.total.disable();
  }
}

function figures(utilization: number, h: IntervalHistogram): EventLoopSample {
  // The monitor counts delay beyond its own resolution timer; an empty histogram reads NaN.
  const ns = (v: number) => (Number.isFinite(v) ? Math.max(0, v - RESOLUTION_MS * 1e6) : 0);
  return {
    utilization: round3(Math.min(1, Math.max(0, utilization))),
    delayP99Us: Math.round(ns(h.count > 0 ? h.percentile(99) : NaN) / 1000),
    delayMaxUs: Math.round(ns(h.count > 0 ? h.max : NaN) / 1000),
  };
}
