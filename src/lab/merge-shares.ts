import { UsageError } from '../input/usage-error.js';
import { accountShares, readAccountingLog } from '../load/accounting-log.js';
import { planShards } from '../load/plan.js';
import type { ProtocolKey } from '../protocol/delivery.js';
import { addCounters, COUNTER_NAMES, newCounters, type Counters } from '../results/counters.js';
import type { LoadedRun } from '../results/folder.js';
import { checkManifest, type ShareRecord } from '../results/share.js';

/**
 * What `merge` checks of the shares of a run spread over machines before it adds anything up,
 * and the frame accounting it does again over all of them. A folder that is not whole (its
 * manifest), a share of another run or scenario, a share given twice, or shares that do not
 * say the same number of shares are refused, naming the folder; a missing share is refused
 * unless the merge is told to take part of the run, which it then says.
 */

/** Any target: a plan's sessions per share do not depend on it. */
const PLAN_URL = 'rtmp://127.0.0.1/app';

export interface ShareCheck {
  /** The shares by index (null: plain runs, merged as before without identity checks). */
  shares: ShareRecord[] | null;
  /** Shares not given (with allowPartial), and the fraction of the run's planned viewers they had. */
  missing: { indexes: number[]; fractionOfPlayersPlanned: number } | null;
}

export function checkShares(runs: readonly LoadedRun[], allowPartial: boolean): ShareCheck {
  const withShare = runs.filter((r) => r.summary.share !== undefined);
  if (withShare.length === 0) return { shares: null, missing: null };
  if (withShare.length < runs.length) {
    const plain = runs.find((r) => r.summary.share === undefined)!;
    throw new UsageError(
      `${plain.dir} is not a share of a distributed run (no share in its summary): merge shares, or plain runs, not both`,
    );
  }
  for (const r of runs) {
    const problem = checkManifest(r.dir);
    if (problem !== null) throw new UsageError(`${r.dir} is not a whole share: ${problem}`);
  }
  const first = runs[0]!;
  const s0 = first.summary.share!;
  const byIndex = new Map<number, LoadedRun>();
  for (const r of runs) {
    const s = r.summary.share!;
    if (s.runId !== s0.runId)
      throw new UsageError(
        `${r.dir} is a share of run ${s.runId ?? '(none)'}, ${first.dir} of run ${s0.runId ?? '(none)'}`,
      );
    if (s.scenarioHash !== s0.scenarioHash)
      throw new UsageError(`${r.dir} ran another scenario than ${first.dir} (scenario hashes differ)`);
    if (s.count !== s0.count)
      throw new UsageError(`${r.dir} is share ${s.index} of ${s.count}, ${first.dir} share ${s0.index} of ${s0.count}`);
    const twin = byIndex.get(s.index);
    if (twin !== undefined)
      throw new UsageError(
        `${r.dir} and ${twin.dir} are both share ${s.index} of the run (a share given twice, or run twice)`,
      );
    byIndex.set(s.index, r);
  }
  const missingIndexes = Array.from({ length: s0.count }, (_, i) => i).filter((i) => !byIndex.has(i));
  const shares = [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, r]) => r.summary.share!);
  if (missingIndexes.length === 0) return { shares, missing: null };
  if (!allowPartial) {
    throw new UsageError(
      `shares ${missingIndexes.join(', ')} of ${s0.count} are missing (merge them too, or --allow-partial to merge part of the run)`,
    );
  }
  // The viewers the missing shares had planned: the plan is the same on every machine.
  const scenario = first.summary.scenario;
  const missingPlayers = missingIndexes.reduce(
    (n, index) =>
      n +
      planShards(scenario, 1, PLAN_URL, 0, { shardOf: { index, count: s0.count } }).reduce(
        (t, k) => t + k.players.length,
        0,
      ),
    0,
  );
  const present = shares.reduce((n, s) => n + s.playersPlanned, 0);
  const total = present + missingPlayers;
  return {
    shares,
    missing: {
      indexes: missingIndexes,
      fractionOfPlayersPlanned: total === 0 ? 0 : Math.round((missingPlayers / total) * 1e4) / 1e4,
    },
  };
}

/** The counters with every share's own frame accounting taken out and one accounting over all shares put in. */
export interface Reaccounted {
  counters: Counters;
  byProtocol: Map<ProtocolKey, Counters>;
  expectedSource: 'send-logs' | 'none';
}

const minus = (a: Counters, b: Counters): Counters => {
  const out = newCounters();
  for (const k of COUNTER_NAMES) out[k] = a[k] - b[k];
  return out;
};

/**
 * Frame accounting again over every share's send logs and viewer records (accounting.ndjson),
 * so viewers of a stream another share published are accounted as on one machine; null when a
 * share kept no records (a plain run, an older share, a log cut short).
 */
export function reaccount(
  runs: readonly LoadedRun[],
  counters: Counters,
  byProtocol: ReadonlyMap<ProtocolKey, Counters>,
): Reaccounted | null {
  const logs = runs.map((r) => readAccountingLog(r.dir));
  if (logs.some((l) => l === null)) return null;
  const records = logs as NonNullable<(typeof logs)[number]>[];
  const s = runs[0]!.summary.scenario;
  // The streams the given shares were to publish (the plan is the same on every machine).
  const published = new Set(
    runs.flatMap((r) => {
      const share = r.summary.share;
      return share === undefined
        ? []
        : planShards(s, 1, PLAN_URL, 0, { shardOf: { index: share.index, count: share.count } }).flatMap(
            (t) => t.publish,
          );
    }),
  );
  const accounting = accountShares(records, published, s.stallThresholdMs);
  let out = counters;
  for (const l of records) out = minus(out, l.added);
  addCounters(out, accounting.added);
  const by = new Map<ProtocolKey, Counters>();
  for (const [k, c] of byProtocol) {
    let v = c;
    for (const l of records) v = minus(v, l.addedBy.get(k) ?? newCounters());
    by.set(k, addCounters(v, accounting.addedBy.get(k) ?? newCounters()));
  }
  return { counters: out, byProtocol: by, expectedSource: accounting.source };
}
