import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../input/usage-error.js';
import { parseRtmpUrl } from '../client/url.js';
import type { AttackSettings } from '../lab/probe/attack/settings.js';
import { PROBES, selectProbes } from '../lab/probe/list.js';
import {
  checkTargets,
  probeTargets,
  targetFromArgument,
  targetsFromScenario,
  type ProbeTargetSpec,
} from '../lab/probe/targets.js';
import { stopChildrenOnSignals } from '../proc/children.js';
import type { ProbeComparison } from '../results/probe.js';
import { countsLine, formatProbeConsole, formatProbeList, probeMarkdown } from '../report/probe.js';
import { EXIT_OK, EXIT_RUN_FAILED, EXIT_THRESHOLD_FAILED, EXIT_USAGE } from './exit-codes.js';

interface ProbeFlags {
  scenario?: string;
  stream?: string;
  only?: string;
  json?: boolean;
  markdown?: boolean;
  out?: string;
  insecure?: boolean;
  waitMs?: string;
  concurrency?: string;
  list?: boolean;
  serverPid?: string;
  ownServer?: boolean;
  rssBoundMb?: string;
  attackConnections?: string;
  attackMs?: string;
  rtmps?: string;
  httpFlv?: string;
  hls?: string;
  llHls?: string;
}

/** Exit code of a probe: 3 when a server could not be probed at all, 1 when a probe failed, else 0. */
function probeExitCode(c: ProbeComparison): number {
  if (c.servers.some((s) => s.unreachable !== null)) return EXIT_RUN_FAILED;
  return c.servers.some((s) => s.counts.fail > 0) ? EXIT_THRESHOLD_FAILED : EXIT_OK;
}

/** Flags and arguments to targets and options; throws UsageError listing what is wrong. */
function resolveInput(
  args: readonly string[],
  flags: ProbeFlags,
): {
  specs: ProbeTargetSpec[];
  only: string[];
  waitMs?: number;
  concurrency?: number;
  attack: Partial<AttackSettings>;
} {
  const problems: string[] = [];
  const specs: ProbeTargetSpec[] = [];
  for (const a of args) {
    try {
      specs.push(targetFromArgument(a));
    } catch (e) {
      problems.push((e as UsageError).reason ?? String(e));
    }
  }
  if (flags.scenario !== undefined) {
    try {
      specs.push(...targetsFromScenario(flags.scenario));
    } catch (e) {
      problems.push((e as UsageError).reason ?? String(e));
    }
  }
  if (specs.length === 0 && problems.length === 0)
    problems.push(
      'nothing to probe: give rtmp[s]:// URLs, server names (builtin, nginx-rtmp, ' +
        'node-media-server) or --scenario FILE',
    );
  const only = (flags.only ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const { unknown } = selectProbes(only);
  if (unknown.length > 0)
    problems.push(`--only: no probe or group named ${unknown.map((u) => `"${u}"`).join(', ')} (--list shows them)`);
  const num = (flag: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v.trim()) || Number(v) < min) {
      problems.push(`${flag}: "${v}" is not a whole number of at least ${min}`);
      return undefined;
    }
    return Number(v);
  };
  const waitMs = num('--wait-ms', flags.waitMs, 100);
  const concurrency = num('--concurrency', flags.concurrency, 1);
  const attack: Partial<AttackSettings> = {};
  const pid = num('--server-pid', flags.serverPid, 1);
  if (pid !== undefined) attack.server = { pid, group: false };
  const rssMb = num('--rss-bound-mb', flags.rssBoundMb, 1);
  if (rssMb !== undefined) attack.rssBoundBytes = rssMb * 1024 * 1024;
  const connections = num('--attack-connections', flags.attackConnections, 1);
  if (connections !== undefined) attack.connections = connections;
  const attackMs = num('--attack-ms', flags.attackMs, 100);
  if (attackMs !== undefined) attack.durationMs = attackMs;
  if (flags.rtmps !== undefined) {
    try {
      const url = parseRtmpUrl(flags.rtmps);
      if (url.protocol !== 'rtmps') problems.push(`--rtmps: "${flags.rtmps}" is not an rtmps:// URL`);
      else attack.tls = { url, insecure: flags.insecure === true };
    } catch (e) {
      problems.push(`--rtmps: ${(e as Error).message}`);
    }
  }
  const http: AttackSettings['http'] = {};
  for (const [kind, value] of [
    ['http-flv', flags.httpFlv],
    ['hls', flags.hls],
    ['ll-hls', flags.llHls],
  ] as const) {
    if (value === undefined) continue;
    if (!/^https?:\/\//.test(value)) problems.push(`--${kind}: "${value}" is not an http:// URL`);
    else http[kind] = value;
  }
  if (Object.keys(http).length > 0) attack.http = http;
  problems.push(...checkTargets(specs));
  if (problems.length > 0) throw new UsageError(problems.join('\n  '));
  return {
    specs,
    only,
    ...(waitMs !== undefined ? { waitMs } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    attack,
  };
}

async function probeCommand(args: string[], flags: ProbeFlags): Promise<number> {
  if (flags.list) {
    process.stdout.write(`${formatProbeList(PROBES)}\n`);
    return EXIT_OK;
  }
  let input: ReturnType<typeof resolveInput>;
  try {
    input = resolveInput(args, flags);
  } catch (e) {
    console.error(`rtmpbench probe: nothing was probed:\n  ${(e as UsageError).reason}`);
    return EXIT_USAGE;
  }
  stopChildrenOnSignals();
  let comparison: ProbeComparison;
  const tty = process.stderr.isTTY === true;
  try {
    comparison = await probeTargets(input.specs, {
      only: input.only,
      ...(flags.stream !== undefined ? { streamPrefix: flags.stream } : {}),
      insecure: flags.insecure === true,
      ...(input.waitMs !== undefined ? { waitMs: input.waitMs } : {}),
      ...(input.concurrency !== undefined ? { concurrency: input.concurrency } : {}),
      attack: input.attack,
      ownServer: flags.ownServer === true,
      onServer: (name, i, n) => console.error(`rtmpbench probe: ${name}${n > 1 ? ` (${i + 1} of ${n})` : ''}...`),
      onProbe: (o, done, total) => {
        if (tty) process.stderr.write(`\r  ${done}/${total} ${o.id}${' '.repeat(20)}${done === total ? '\n' : ''}`);
      },
    });
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`rtmpbench probe: nothing was probed:\n  ${e.reason}`);
    return EXIT_USAGE;
  }
  for (const s of comparison.servers) console.error(`rtmpbench probe: ${s.name}: ${countsLine(s)}`);
  const json = comparison.servers.length === 1 ? comparison.servers[0] : comparison;
  const markdown = probeMarkdown(comparison);
  if (flags.out !== undefined)
    writeFileSync(flags.out, flags.out.endsWith('.json') ? `${JSON.stringify(json, null, 2)}\n` : markdown);
  if (flags.json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  else if (flags.markdown) process.stdout.write(markdown);
  else process.stdout.write(`${formatProbeConsole(comparison, process.stdout.columns ?? 120)}\n`);
  return probeExitCode(comparison);
}

export function registerProbe(program: Command): void {
  program
    .command('probe')
    .description(
      'probe RTMP servers for the parts of the protocol they really handle, and print a compatibility matrix',
    )
    .argument(
      '[targets...]',
      'rtmp[s]://HOST[:PORT]/APP URLs of running servers, or servers to start for the probe: ' +
        'builtin, nginx-rtmp, node-media-server',
    )
    .option('--scenario <file>', "probe the servers of a scenario's compare.servers")
    .option(
      '--stream <name>',
      "prefix of the stream names the probes use (default: the URL's stream, else " +
        'rtmpbench-probe; each run and probe adds a unique suffix)',
    )
    .option('--only <ids>', 'probe ids or groups, comma-separated (e.g. chunking,media.hevc)')
    .option('--json', 'print the report as JSON')
    .option('--markdown', 'print the matrix as Markdown')
    .option('--out <file>', 'also write the report: JSON when the name ends in .json, else Markdown')
    .option('--insecure', 'accept self-signed certificates on rtmps://')
    .option('--wait-ms <ms>', 'how long each step waits for an answer (default 3000)')
    .option('--concurrency <n>', 'probes run at once (default 6)')
    .option('--list', 'list the probes (ids, groups, what passes) and exit')
    .option(
      '--server-pid <pid>',
      "the server's process, for the resilience probes: its RSS and descriptors are watched, and an " +
        'attack stops once its RSS grew past --rss-bound-mb (a server rtmpbench starts is known already)',
    )
    .option('--rss-bound-mb <mb>', 'resilience: the RSS growth at which an attack stops (default 256)')
    .option('--attack-connections <n>', 'resilience: most connections one attack opens (default 300)')
    .option('--attack-ms <ms>', 'resilience: how long one attack runs at most (default 8000)')
    .option('--rtmps <url>', "resilience: the server's rtmps:// endpoint, for the TLS attacks")
    .option('--http-flv <url>', 'resilience: HTTP-FLV URL of a stream ({stream} stands for its name)')
    .option('--hls <url>', 'resilience: HLS playlist URL of a stream ({stream} stands for its name)')
    .option('--ll-hls <url>', 'resilience: LL-HLS playlist URL of a stream, whose reloads block ({stream} as above)')
    .option('--own-server', 'resilience: the target is yours; allow attacks on a host that is not loopback')
    .action(async (args: string[], flags: ProbeFlags) => {
      process.exitCode = await probeCommand(args, flags);
    });
}
