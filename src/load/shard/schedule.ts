import { monotonicUs } from '../../media/timing-mark.js';

/**
 * Things to do at given times (viewers joining on the scenario's stages), walked by one
 * timer: what has happened is dropped, so memory holds only what is still to come.
 */
export class Schedule<T> {
  private readonly events: { atUs: number; item: T }[];
  private next = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    events: { atUs: number; item: T }[],
    private readonly run: (item: T) => void,
  ) {
    this.events = [...events].sort((a, b) => a.atUs - b.atUs);
  }

  /** Events still to come. */
  get pending(): number {
    return Math.max(0, this.events.length - this.next);
  }

  start(): void {
    this.arm();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.next = this.events.length;
    this.events.length = 0;
  }

  private arm(): void {
    const e = this.events[this.next];
    if (e === undefined) {
      this.events.length = 0;
      return;
    }
    this.timer = setTimeout(() => this.fire(), Math.max(0, (e.atUs - monotonicUs()) / 1000));
  }

  private fire(): void {
    this.timer = null;
    const now = monotonicUs();
    while (this.next < this.events.length && this.events[this.next]!.atUs <= now) {
      const e = this.events[this.next]!;
      // Let go of what has happened.
      this.events[this.next++] = undefined as unknown as { atUs: number; item: T };
      this.run(e.item);
    }
    this.arm();
  }
}

/**
 * Churn: viewers joining as a Poisson process (exponential gaps at `joinsPerSecond`), each
 * staying an exponentially distributed time. One timer; each viewer's stay is its own.
 */
export class Churn {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly joinsPerSecond: number,
    private readonly meanSessionMs: number,
    /** Starts one churning viewer that should leave after `stayMs`. */
    private readonly join: (stayMs: number) => void,
    private readonly random: () => number = Math.random,
  ) {}

  start(): void {
    if (this.joinsPerSecond > 0) this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    const waitMs = (-Math.log(1 - this.random()) / this.joinsPerSecond) * 1000;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopped) return;
      this.join(-Math.log(1 - this.random()) * this.meanSessionMs);
      this.arm();
    }, waitMs);
  }
}
