import type { Scenario, Stage, ViewerGroup } from '../results/scenario.js';
import { expandAddressList } from '../input/address-list.js';
import { peakPlayersPerStream } from '../results/scenario.js';
import { DEFAULT_PLAY_URLS, fillPlayUrl, viewerGroups } from './play-urls.js';
import { shardScenario, type PlayerPlan, type ShardTask } from './worker-protocol.js';

/** Workers report once per second. */
const TICK_MS = 1000;

/** When a scenario does not say, a viewer without video for this many GOPs (and at least 5 s) is failed. */
const NO_VIDEO_GOPS = 3;
const NO_VIDEO_MIN_MS = 5000;

function firstVideoWithinMs(s: Scenario): number {
  return s.players.firstVideoWithinMs ?? Math.max(NO_VIDEO_MIN_MS, NO_VIDEO_GOPS * s.media.gopMs);
}

/** Players per stream wanted at `tMs` after the start (linear within each stage). */
export function targetAt(stages: readonly Stage[], tMs: number): number {
  let start = 0;
  let from = 0;
  for (const st of stages) {
    if (tMs < start + st.durationMs) return from + ((st.target - from) * (tMs - start)) / st.durationMs;
    start += st.durationMs;
    from = st.target;
  }
  return from;
}

/**
 * When player `index` (0-based, per stream) should be connected: the intervals of the run
 * during which the target exceeds `index + 0.5`. Returns [startMs, stopMs] pairs; a stop of
 * Infinity means "until the end".
 */
export function playerWindows(stages: readonly Stage[], index: number): [number, number][] {
  const threshold = index + 0.5;
  const on: [number, number][] = [];
  const add = (a: number, b: number) => {
    const last = on[on.length - 1];
    if (last !== undefined && last[1] >= a) last[1] = Math.max(last[1], b);
    else if (b > a) on.push([a, b]);
  };
  let start = 0;
  let from = 0;
  for (const st of stages) {
    const end = start + st.durationMs;
    const to = st.target;
    const crossing = from === to ? start : start + ((threshold - from) / (to - from)) * st.durationMs;
    if (from > threshold && to > threshold) add(start, end);
    else if (from <= threshold && to > threshold) add(crossing, end);
    else if (from > threshold && to <= threshold) add(start, crossing);
    start = end;
    from = to;
  }
  const last = on[on.length - 1];
  if (last !== undefined && last[1] >= start) last[1] = Infinity;
  return on;
}

/**
 * A group's viewers per stream over time: the scenario's stages scaled to its size at the
 * peak, or, for a group with a start of its own, none until then, all of them over its ramp.
 */
function groupStages(s: Scenario, g: ViewerGroup, peak: number): Stage[] {
  const perStream = g.perStream;
  if (g.startMs !== undefined) {
    const ramp = Math.max(1, g.rampMs ?? 1000);
    return [
      { durationMs: Math.max(1, g.startMs), target: 0 },
      { durationMs: ramp, target: perStream },
      { durationMs: Math.max(1, s.durationMs - g.startMs - ramp), target: perStream },
    ];
  }
  if (peak === 0)
    return perStream === 0
      ? []
      : [
          { durationMs: 1, target: perStream },
          { durationMs: Math.max(1, s.durationMs - 1), target: perStream },
        ];
  return s.stages.map((st) => ({ durationMs: st.durationMs, target: Math.round((st.target * perStream) / peak) }));
}

export interface ShardOf {
  index: number;
  count: number;
}

export interface PlanOptions {
  /** This machine's share of a run spread over machines. */
  shardOf?: ShardOf;
  /** HTTP port of an external target, for {httpPort} in play URLs. */
  httpPort?: number;
  /** The host's offset to a distributed run's reference clock, µs (0 on one host). */
  clockOffsetUs?: number;
}

/**
 * Splits a scenario into one task per worker, in two steps. Over the machines of a run spread
 * with `shardOf`: stream S is published by machine S mod N, and its viewers watch from that
 * machine too when there are at least as many streams as machines (stream-affine, so their
 * latency never crosses hosts); with fewer streams than machines each stream's viewers are
 * dealt round-robin over all machines (some on the publisher's, the controls of the others).
 * Then over this machine's workers: with two or more workers and both kinds of session,
 * publishers get workers of their own (bursts of viewer reads would otherwise delay the pacing
 * timer and show up as latency); viewers are dealt round-robin over the rest. Shard numbers
 * run over the whole run: this machine's are I*W..I*W+W-1 of N*W.
 */
export function planShards(
  s: Scenario,
  workers: number,
  url: string,
  startAtUs: number,
  opts: PlanOptions = {},
): ShardTask[] {
  const machines = opts.shardOf?.count ?? 1;
  const here = opts.shardOf?.index ?? 0;
  const offset = here * workers;
  const peak = peakPlayersPerStream(s);
  const groups = viewerGroups(s);
  const tasks: ShardTask[] = Array.from({ length: workers }, (_, k) => ({
    shard: offset + k,
    shards: machines * workers,
    url,
    ...shardScenario(s),
    publish: [],
    players: [],
    // RTMP viewers without a URL of their own play the target's app (its query included).
    groups: groups.map((g) => ({
      protocol: g.protocol,
      url:
        g.protocol === 'rtmp' && g.url === undefined
          ? ''
          : fillPlayUrl(g.url ?? DEFAULT_PLAY_URLS[g.protocol], url, opts.httpPort ?? s.httpPort),
      ...(g.name !== undefined ? { name: g.name } : {}),
    })),
    churn: { ...s.churn, joinsPerSecond: 0 },
    slowReadKbps: s.players.slowReadKbps,
    firstVideoWithinMs: firstVideoWithinMs(s),
    startAtUs,
    tickMs: TICK_MS,
    clockOffsetUs: opts.clockOffsetUs ?? 0,
  }));
  // This machine's part: the streams it publishes and the viewers it plays.
  const streams = s.streamNames.length;
  const publish = Array.from({ length: s.publishedStreams }, (_, st) => st).filter((st) => st % machines === here);
  const players: PlayerPlan[] = [];
  const dealt = new Array<number>(streams).fill(0);
  for (const [group, g] of groups.entries()) {
    // Each group follows the stages in proportion to its size at the peak.
    const stages = groupStages(s, g, peak);
    const count = Math.max(0, ...stages.map((st) => st.target));
    const windows = Array.from({ length: count }, (_, i) =>
      playerWindows(stages, i).map(([a, b]): [number, number | null] => [a, Number.isFinite(b) ? b : null]),
    );
    for (let st = 0; st < streams; st++) {
      for (let i = 0; i < count; i++) {
        const machine = streams >= machines ? st % machines : dealt[st]! % machines;
        dealt[st]! += 1;
        if (machine !== here) continue;
        players.push({ stream: st, group, slow: group === 0 && i < s.players.slowPerStream, windows: windows[i]! });
      }
    }
  }
  // Over this machine's workers.
  const split = workers >= 2 && publish.length > 0 && groups.some((g) => g.perStream > 0);
  const pubWorkers = split ? Math.max(1, Math.round(workers / 4)) : workers;
  const playerBase = split ? pubWorkers : 0;
  const playerWorkers = workers - playerBase;
  for (const [j, st] of publish.entries()) tasks[j % pubWorkers]!.publish.push(st);
  for (const [n, plan] of players.entries()) tasks[playerBase + (n % playerWorkers)]!.players.push(plan);
  // Churning players join on the player workers, each machine its share of the rate.
  for (let k = playerBase; k < workers; k++)
    tasks[k]!.churn.joinsPerSecond = s.churn.joinsPerSecond / machines / playerWorkers;
  // Source addresses: each shard deals them round-robin from where the previous shard's sessions ended.
  if (s.localAddresses !== undefined) {
    const addresses = expandAddressList(s.localAddresses).addresses;
    let next = 0;
    for (const t of tasks) {
      t.sourceAddresses = addresses;
      t.sourceAddressOffset = next % addresses.length;
      next += t.publish.length + t.players.length;
    }
  }
  return tasks;
}
