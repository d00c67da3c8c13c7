import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRtmpUrl } from '../client/url.js';
import { freePort, probePort } from '../proc/port.js';
import { startServer, type RunningServer } from '../proc/servers.js';
import type { Scenario } from '../results/scenario.js';
import { RunError } from './errors.js';
import { needsHttp } from './play-urls.js';

/** What a run loads: a URL, the server's process (to measure it), and its stats port when it is ours. */
export interface Target {
  url: string;
  kind: 'builtin' | 'external';
  pid?: number;
  statsPort: number | null;
  /** The port of the target's HTTP outputs ({httpPort} in play URLs), when known. */
  httpPort?: number;
  /** Stops what the run started (nothing for an external target). */
  stop(): Promise<void>;
}

/** How long a target may take to accept a first connection. */
const REACH_TIMEOUT_MS = 5000;

/**
 * Prepares a run's target: the built-in server, started in its own process with the scenario's
 * settings (and a stats port, so the run can report the server's own counts), or an external
 * URL, checked to be reachable before any worker starts.
 */
export async function prepareTarget(s: Scenario, opts: { perfBasicProf?: boolean } = {}): Promise<Target> {
  if (s.target !== 'builtin') {
    const t = parseRtmpUrl(s.target);
    const problem = await probePort(t.host, t.port, REACH_TIMEOUT_MS);
    if (problem !== null) throw new RunError(`cannot reach ${t.host}:${t.port}: ${problem}`);
    return {
      url: s.target,
      kind: 'external',
      ...(s.serverPid !== undefined ? { pid: s.serverPid } : {}),
      statsPort: null,
      ...(s.httpPort !== undefined ? { httpPort: s.httpPort } : {}),
      stop: async () => {},
    };
  }
  const scratch = mkdtempSync(join(tmpdir(), 'rtmpbench-run-'));
  const configFile = join(scratch, 'server.json');
  const statsPort =
    typeof s.server.statsPort === 'number' && s.server.statsPort > 0 ? s.server.statsPort : await freePort();
  // Viewers over HTTP: the server serves HTTP-FLV, WebSocket-FLV and HLS on a port of its own.
  const httpPort =
    typeof s.server.httpPort === 'number' && s.server.httpPort > 0
      ? s.server.httpPort
      : needsHttp(s)
        ? await freePort()
        : undefined;
  writeFileSync(
    configFile,
    JSON.stringify({ ...s.server, statsPort, ...(httpPort !== undefined ? { httpPort } : {}) }),
  );
  let server: RunningServer;
  try {
    server = await startServer('builtin', {
      builtinArgs: ['--config', configFile],
      ...(opts.perfBasicProf === true ? { perfBasicProf: true } : {}),
      ...(s.serverCpuQuota !== undefined ? { cpuQuota: s.serverCpuQuota } : {}),
    });
  } catch (e) {
    rmSync(scratch, { recursive: true, force: true });
    throw new RunError(`the built-in server did not start: ${(e as Error).message}`);
  }
  return {
    url: server.url,
    kind: 'builtin',
    pid: server.pid,
    statsPort,
    ...(httpPort !== undefined ? { httpPort } : {}),
    stop: async () => {
      await server.stop();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
