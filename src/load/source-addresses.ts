import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import os from 'node:os';
import { canonicalAddress, expandAddressList } from '../input/address-list.js';
import { UsageError } from '../input/usage-error.js';
import type { Scenario } from '../results/scenario.js';
import { planShards, type ShardOf } from './plan.js';
import { publicationWindow } from './restarts.js';
import type { ShardTask } from './worker-protocol.js';

/**
 * The check of a run's source addresses (`localAddresses`), before anything starts: every
 * address is the host's, and the sessions planned on each fit in the ephemeral port range.
 * A connection with a source address is bound before it connects, and a bound port is the
 * address's whatever the destination: one address gives at most as many concurrent sessions as
 * the range has ports (about 28,000 by default), to all targets together.
 */

const PORT_RANGE_FILE = '/proc/sys/net/ipv4/ip_local_port_range';
/** A port the generator closed stays in TIME_WAIT this long (Linux: fixed, TCP_TIMEWAIT_LEN) and cannot be bound. */
const TIME_WAIT_MS = 60_000;
/** Above this share of the range a run is warned about (a few ports go to other programs, TIME_WAIT of others). */
const WARN_SHARE = 0.9;
/**
 * Connections an HLS viewer may hold: its playlist connection (which also loads segments from the
 * same origin), and one more for segments served from another origin (a CDN). Every other viewer
 * and a publisher hold one.
 */
const HLS_CONNECTIONS = 2;

interface PortRange {
  low: number;
  high: number;
}

/** This network namespace's ephemeral port range (it is per namespace), or null where there is none to read. */
function readPortRange(file = PORT_RANGE_FILE): PortRange | null {
  try {
    const [low, high] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    return low !== undefined && high !== undefined && high >= low ? { low, high } : null;
  } catch {
    return null;
  }
}

/**
 * Whether this host can connect from an address: one of its interfaces' addresses, or any
 * address of a loopback interface's network (Linux binds all of 127.0.0.0/8 on `lo`).
 */
function hostAddressCheck(): (address: string) => boolean {
  const own = new Set<string>();
  const loopback = new BlockList();
  for (const list of Object.values(os.networkInterfaces()))
    for (const a of list ?? []) {
      const address = canonicalAddress(a.address.replace(/%.*$/, ''));
      own.add(address);
      const prefix = a.cidr === null ? -1 : Number(a.cidr.split('/')[1]);
      if (a.internal && prefix >= 0) loopback.addSubnet(address, prefix, a.family === 'IPv6' ? 'ipv6' : 'ipv4');
    }
  return (address) => own.has(address) || loopback.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The most ports this machine's sessions hold at once: publishers and viewers (HLS viewers
 * count HLS_CONNECTIONS), a session that left holding its port for TIME_WAIT_MS more (viewer
 * waves and stages, publisher restarts), churning viewers by Little's law (rate × the time each
 * holds a port).
 */
function portsHeldAtPeak(tasks: readonly ShardTask[]): number {
  const changes: [number, number][] = [];
  const hold = (fromMs: number, toMs: number | null, n: number) => {
    changes.push([fromMs, n]);
    if (toMs !== null) changes.push([toMs + TIME_WAIT_MS, -n]);
  };
  let churn = 0;
  for (const t of tasks) {
    for (const _ of t.publish) {
      if (t.restart === undefined) hold(0, null, 1);
      else
        for (let e = 0; publicationWindow(t.restart, e)[0] < t.durationMs; e++)
          hold(...publicationWindow(t.restart, e), 1);
    }
    for (const p of t.players) {
      const n = t.groups[p.group]?.protocol === 'hls' ? HLS_CONNECTIONS : 1;
      for (const [a, b] of p.windows) hold(a, b, n);
    }
    churn += (t.churn.joinsPerSecond * (t.churn.meanSessionMs + TIME_WAIT_MS)) / 1000;
  }
  // Ports are freed before others are taken at the same instant.
  changes.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let held = 0;
  let peak = 0;
  for (const [, n] of changes) {
    held += n;
    peak = Math.max(peak, held);
  }
  return peak + Math.ceil(churn);
}

/** What the port range says of a plan: a problem (over the range), a warning (near it), or nothing. */
function portRangeVerdict(
  sessions: number,
  addresses: number,
  range: PortRange,
): { problem: string } | { warning: string } | null {
  const perAddress = Math.ceil(sessions / addresses);
  const ports = range.high - range.low + 1;
  const text =
    `${sessions} sessions over ${addresses} address${addresses === 1 ? '' : 'es'} is ${perAddress} per address; ` +
    `this host allows ${ports} ports per address (ip_local_port_range ${range.low}-${range.high})`;
  if (perAddress > ports) return { problem: `${text}: give more addresses, or fewer sessions` };
  if (perAddress > WARN_SHARE * ports) return { warning: `${text}: close to the limit` };
  return null;
}

/**
 * Checks a scenario's source addresses against this host, for this machine's share of the run;
 * throws a UsageError with every problem, returns a warning (or null) otherwise.
 */
export function checkSourceAddresses(s: Scenario, shardOf?: ShardOf): string | null {
  if (s.localAddresses === undefined) return null;
  const { addresses, problems } = expandAddressList(s.localAddresses);
  const hostHas = hostAddressCheck();
  const missing = addresses.filter((a) => !hostHas(a));
  if (missing.length > 0)
    problems.push(
      `--local-address: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''} ` +
        `${missing.length === 1 ? 'is not an address' : 'are not addresses'} of this host`,
    );
  const range = readPortRange();
  let warning: string | null = null;
  if (range !== null && addresses.length > 0) {
    const tasks = planShards(s, 1, 'rtmp://source-address-check/app', 0, shardOf !== undefined ? { shardOf } : {});
    const verdict = portRangeVerdict(portsHeldAtPeak(tasks), addresses.length, range);
    if (verdict !== null && 'problem' in verdict) problems.push(`--local-address: ${verdict.problem}`);
    else if (verdict !== null) warning = `--local-address: ${verdict.warning}`;
  }
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return warning;
}
