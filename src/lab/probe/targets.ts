import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRtmpUrl } from '../../client/url.js';
import { UsageError } from '../../input/usage-error.js';
import { readScenarioFile, resolveScenarioPath } from '../../load/scenario-file.js';
import { resolveScenario } from '../../load/scenario.js';
import {
  SERVER_KINDS,
  serverAvailability,
  startCommand,
  startServer,
  ServerStartError,
  type RunningServer,
  type ServerKind,
} from '../../proc/servers.js';
import { freePort } from '../../proc/port.js';
import { runToEnd } from '../../proc/spawn.js';
import type { ProbeComparison, ProbeReport } from '../../results/probe.js';
import type { ServerSpec } from '../../results/scenario.js';
import { countResults } from '../../results/probe.js';
import { VERSION } from '../../version.js';
import type { AttackSettings } from './attack/settings.js';
import { selectProbes } from './list.js';
import { probeServer, type ProbeServerOptions } from './runner.js';

/**
 * What `rtmpbench probe` probes: URLs of running servers, servers rtmpbench starts for the
 * probe (builtin, nginx-rtmp, node-media-server; each in its own process, stopped by PID
 * afterwards), or the servers of a scenario's `compare.servers`.
 */

export type ProbeTargetSpec =
  | { kind: 'url'; url: string; name?: string }
  | { kind: 'start'; server: ServerKind }
  | { kind: 'command'; name: string; url: string; start: string };

/** A command-line argument: a URL or a server kind. */
export function targetFromArgument(arg: string): ProbeTargetSpec {
  if ((SERVER_KINDS as readonly string[]).includes(arg)) return { kind: 'start', server: arg as ServerKind };
  if (/^rtmps?:\/\//i.test(arg)) {
    parseRtmpUrl(arg);
    return { kind: 'url', url: arg };
  }
  throw new UsageError(
    `"${arg}" is neither an rtmp[s]:// URL nor a server rtmpbench starts (${SERVER_KINDS.join(', ')})`,
  );
}

/** The servers of a scenario's compare.servers. */
export function targetsFromScenario(nameOrPath: string): ProbeTargetSpec[] {
  const file = readScenarioFile(resolveScenarioPath(nameOrPath));
  const { scenario, problems } = resolveScenario(file.data);
  if (scenario === null) throw new UsageError(`${file.path} is not a valid scenario:\n  ${problems.join('\n  ')}`);
  const servers: ServerSpec[] = scenario.compare?.servers ?? [];
  if (scenario.compare === undefined || servers.length === 0)
    throw new UsageError(`${file.path} has no compare.servers to probe`);
  return servers.map((s): ProbeTargetSpec => {
    if (typeof s === 'string') return { kind: 'start', server: s };
    return s.start !== undefined
      ? { kind: 'command', name: s.name, url: s.url, start: s.start }
      : { kind: 'url', url: s.url, name: s.name };
  });
}

/** Problems that stop a probe before anything starts (servers that are not installed). */
export function checkTargets(specs: readonly ProbeTargetSpec[]): string[] {
  const problems: string[] = [];
  for (const s of specs) {
    if (s.kind !== 'start') continue;
    const { available, hint } = serverAvailability(s.server);
    if (!available) problems.push(`${s.server} is not installed here (${hint})`);
  }
  return problems;
}

function unreachableReport(url: string, name: string, why: string): ProbeReport {
  return {
    target: url,
    name,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    tool: { name: 'rtmpbench', version: VERSION },
    unreachable: why,
    counts: countResults([]),
    probes: [],
  };
}

/**
 * Probes one target, starting and stopping its server when rtmpbench runs it. A server rtmpbench
 * starts is started afresh for each attack (resilience probe), so what one attack leaves behind
 * (memory it holds, a server that stopped) does not decide the next one's result.
 */
export async function probeTarget(spec: ProbeTargetSpec, opts: ProbeServerOptions = {}): Promise<ProbeReport> {
  if (spec.kind === 'url')
    return probeServer(spec.url, { ...opts, ...(spec.name !== undefined ? { name: spec.name } : {}) });
  const { probes } = selectProbes(opts.only);
  const attacks = probes.filter((p) => p.attack === true);
  if (attacks.length === 0) return probeStarted(spec, opts, false);
  const groups = [probes.filter((p) => p.attack !== true), ...attacks.map((a) => [a])].filter((g) => g.length > 0);
  const parts: ProbeReport[] = [];
  const reasons: (string | null)[] = [];
  let done = 0;
  for (const group of groups) {
    const part = await probeStarted(
      spec,
      {
        ...opts,
        only: group.map((p) => p.id),
        onProbe: (o) => opts.onProbe?.(o, ++done, probes.length),
      },
      group[0]!.attack === true,
    );
    // A server that did not start: its probes are not run (the target is unreachable when none started).
    reasons.push(part.unreachable);
    if (part.unreachable !== null)
      part.probes = group.map((def) => ({
        id: def.id,
        group: def.group,
        title: def.title,
        definition: def.definition,
        result: 'error',
        detail: `not run: ${part.unreachable}`,
        evidence: {},
        durationMs: 0,
      }));
    parts.push(part);
  }
  const unreachable = reasons.every((r) => r !== null) ? reasons[0]! : null;
  const all = unreachable === null ? parts.flatMap((p) => p.probes) : [];
  return {
    ...parts[0]!,
    durationMs: parts.reduce((t, p) => t + p.durationMs, 0),
    unreachable,
    counts: countResults(all),
    probes: all,
  };
}

/** LL-HLS part length of a built-in server started for attacks (at most half its 2 s segments). */
const LL_HLS_PART_MS = 500;

/**
 * A self-signed certificate for the RTMPS endpoint of a built-in server started for attacks (the
 * TLS attacks need one), made with openssl in a folder of its own; null without openssl.
 */
async function selfSignedCertificate(): Promise<{ dir: string; cert: string; key: string } | null> {
  const dir = mkdtempSync(join(tmpdir(), 'rtmpbench-probe-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  try {
    const r = await runToEnd('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
    ]);
    if (r.code === 0) return { dir, cert, key };
  } catch {
    // no openssl: the TLS attacks are n/a
  }
  rmSync(dir, { recursive: true, force: true });
  return null;
}

/** Starts the target's server (with its HTTP outputs for attacks), probes it, stops it. */
async function probeStarted(
  spec: Exclude<ProbeTargetSpec, { kind: 'url' }>,
  opts: ProbeServerOptions,
  attacks: boolean,
): Promise<ProbeReport> {
  let server: RunningServer;
  const name = spec.kind === 'start' ? spec.server : spec.name;
  // The built-in server started for attacks offers RTMPS too (a self-signed certificate), so the TLS attacks run.
  const builtinAttacked = attacks && spec.kind === 'start' && spec.server === 'builtin';
  const tls = builtinAttacked ? await selfSignedCertificate() : null;
  const tlsPort = tls !== null ? await freePort() : null;
  try {
    if (spec.kind === 'start')
      server = await startServer(spec.server, {
        http: attacks,
        // The built-in server's playlists block reloads with LL-HLS parts: the held LL-HLS requests attack that.
        ...(builtinAttacked
          ? {
              builtinArgs: [
                '--hls-part-ms',
                String(LL_HLS_PART_MS),
                ...(tls !== null ? ['--tls-port', String(tlsPort), '--tls-cert', tls.cert, '--tls-key', tls.key] : []),
              ],
            }
          : {}),
      });
    else {
      const u = parseRtmpUrl(spec.url);
      server = await startCommand(spec, u.host, u.port);
    }
  } catch (e) {
    if (tls !== null) rmSync(tls.dir, { recursive: true, force: true });
    if (!(e instanceof ServerStartError)) throw e;
    return unreachableReport(
      spec.kind === 'command' ? spec.url : spec.server,
      name,
      `${name} did not start: ${e.message}`,
    );
  }
  // The server's process is known: attacks watch its RSS and descriptors.
  const attack: Partial<AttackSettings> = {
    server: { pid: server.pgid ?? server.pid, group: server.pgid !== undefined },
    http: {
      ...(server.playUrls['http-flv'] !== undefined ? { 'http-flv': server.playUrls['http-flv'] } : {}),
      ...(server.playUrls.hls !== undefined ? { hls: server.playUrls.hls } : {}),
      ...(server.kind === 'builtin' && server.playUrls.hls !== undefined ? { 'll-hls': server.playUrls.hls } : {}),
    },
    ...(tlsPort !== null ? { tls: { url: parseRtmpUrl(`rtmps://127.0.0.1:${tlsPort}/live`), insecure: true } } : {}),
    ...opts.attack,
  };
  try {
    return await probeServer(server.url, { ...opts, name, attack });
  } finally {
    await server.stop();
    if (tls !== null) rmSync(tls.dir, { recursive: true, force: true });
  }
}

/** Probes each target in turn (one server at a time, so they do not share the machine's cores). */
export async function probeTargets(
  specs: readonly ProbeTargetSpec[],
  opts: ProbeServerOptions & { onServer?: (name: string, index: number, total: number) => void } = {},
): Promise<ProbeComparison> {
  const servers: ProbeReport[] = [];
  for (const [i, spec] of specs.entries()) {
    opts.onServer?.(
      spec.kind === 'start' ? spec.server : spec.kind === 'command' ? spec.name : (spec.name ?? spec.url),
      i,
      specs.length,
    );
    servers.push(await probeTarget(spec, opts));
  }
  return { servers };
}
