import type { RunSummary } from '../results/summary.js';
import type { ServerStats } from '../server/server-stats.js';

/** The built-in server's own counts that a run reports (from its /stats endpoint). */
export type ServerCounts = Pick<NonNullable<RunSummary['server']>, 'drops' | 'closedByReason' | 'io' | 'gc'>;

/** The part of /stats a run reads, in the shape the server defines it. */
type StatsResponse = Pick<ServerStats, 'drops' | 'connections' | 'io' | 'bytesIn' | 'process'>;

/**
 * The built-in server's counts, read from its stats endpoint before and after a run: the run's
 * share is the difference (the server's start-up is not the run's).
 */
export class ServerCounters {
  private before: ServerCounts | null = null;

  constructor(private readonly statsPort: number) {}

  async start(): Promise<void> {
    this.before = await this.read();
  }

  /** The run's share of the server's counts (null if the server does not answer). */
  async finish(): Promise<ServerCounts | null> {
    const after = await this.read();
    return after === null ? null : runShare(after, this.before);
  }

  private async read(): Promise<ServerCounts | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.statsPort}/stats`, { signal: AbortSignal.timeout(3000) });
      if (!res.ok) return null;
      const st = (await res.json()) as StatsResponse;
      return {
        drops: st.drops,
        closedByReason: st.connections.closedByReason,
        io: { ...st.io, bytesIn: st.bytesIn },
        gc: st.process.gc,
      };
    } catch {
      return null;
    }
  }
}

const nonZero = <T extends Record<string, number>>(a: T): T =>
  Object.fromEntries(Object.entries(a).filter(([, v]) => v !== 0)) as T;

/** Counts of the server's lifetime minus those before the run. */
function runShare(after: ServerCounts, before: ServerCounts | null): ServerCounts {
  if (before === null) return after;
  const minus = <T extends Record<string, number>>(a: T, b: T | undefined): T =>
    Object.fromEntries(Object.entries(a).map(([k, v]) => [k, Math.round((v - (b?.[k] ?? 0)) * 10) / 10])) as T;
  return {
    ...(after.drops !== undefined ? { drops: minus(after.drops, before.drops) } : {}),
    ...(after.closedByReason !== undefined
      ? { closedByReason: nonZero(minus(after.closedByReason, before.closedByReason)) }
      : {}),
    ...(after.io !== undefined ? { io: minus(after.io, before.io) } : {}),
    ...(after.gc !== undefined ? { gc: minus(after.gc, before.gc) } : {}),
  };
}
