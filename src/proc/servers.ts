import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownModule } from './own-module.js';
import { freePort, waitForPort } from './port.js';
import { launch, type ChildHandle } from './spawn.js';

/**
 * Servers under test, each started in a process of its own (so its CPU and memory are its
 * own) on a free loopback port and stopped by PID: the built-in server, node-media-server,
 * nginx-rtmp, or any server a shell command starts (in a process group of its own).
 */

export const SERVER_KINDS = ['builtin', 'node-media-server', 'nginx-rtmp'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

export interface RunningServer {
  kind: ServerKind | 'command';
  pid: number;
  /** The process group, when the server runs in one of its own (custom start commands). */
  pgid?: number;
  port: number;
  /** rtmp://127.0.0.1:PORT/live (or the URL a custom server was given). */
  url: string;
  /** stdout and stderr so far (for error messages). */
  output(): string;
  /** Stops exactly this process (SIGTERM, then SIGKILL after 3 s) and removes its files. */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  /** Extra `rtmpbench serve` flags for the built-in server. */
  builtinArgs?: string[];
  /** Outgoing chunk size for node-media-server and nginx-rtmp configs. */
  chunkSize?: number;
  /** Deadline for the server to accept connections. */
  startTimeoutMs?: number;
}

/** Where the server failed to start: its own words are in the message. */
export class ServerStartError extends Error {
  override name = 'ServerStartError';
}

const NGINX_RTMP_MODULES = ['/usr/lib/nginx/modules/ngx_rtmp_module.so', '/usr/share/nginx/modules/ngx_rtmp_module.so'];
const NGINX_BINARIES = ['/usr/sbin/nginx', '/usr/bin/nginx'];

/** Whether a comparison server can be started on this machine, and if not, how to get it. */
export function serverAvailability(kind: ServerKind): { available: boolean; hint: string } {
  if (kind === 'builtin') return { available: true, hint: '' };
  if (kind === 'node-media-server') {
    try {
      createRequire(import.meta.url).resolve('node-media-server/bin/app.js');
      return { available: true, hint: '' };
    } catch {
      return { available: false, hint: 'npm install node-media-server' };
    }
  }
  const module = NGINX_RTMP_MODULES.find((m) => existsSync(m));
  const nginx = NGINX_BINARIES.find((p) => existsSync(p));
  return { available: module !== undefined && nginx !== undefined, hint: 'apt-get install nginx libnginx-mod-rtmp' };
}

/** The command line of `rtmpbench serve` (the built CLI, or its source under tsx). */
export function serveCommand(args: readonly string[]): { cmd: string; args: string[] } {
  const cli = ownModule(import.meta.url, '../cli/main.js');
  return { cmd: process.execPath, args: [...cli.execArgv, cli.path, 'serve', ...args] };
}

function nginxConfig(dir: string, port: number, chunkSize: number): string {
  const module = NGINX_RTMP_MODULES.find((m) => existsSync(m))!;
  // One process (master_process off), one core: the same footing as the Node servers.
  return [
    `load_module ${module};`,
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    `error_log ${join(dir, 'error.log')} warn;`,
    `pid ${join(dir, 'nginx.pid')};`,
    'events { worker_connections 20000; }',
    'rtmp {',
    '  server {',
    `    listen 127.0.0.1:${port};`,
    `    chunk_size ${chunkSize};`,
    '    application live { live on; }',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Starts a server of the given kind on a free loopback port. */
export async function startServer(kind: ServerKind, opts: StartOptions = {}): Promise<RunningServer> {
  const { available, hint } = serverAvailability(kind);
  if (!available) throw new ServerStartError(`${kind} is not installed here (${hint})`);
  const dir = mkdtempSync(join(tmpdir(), `rtmpbench-${kind}-`));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const port = await freePort();
  let handle: ChildHandle;
  if (kind === 'builtin') {
    const serve = serveCommand(['--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn', ...(opts.builtinArgs ?? [])]);
    handle = launch(serve.cmd, serve.args);
  } else if (kind === 'node-media-server') {
    const app = createRequire(import.meta.url).resolve('node-media-server/bin/app.js');
    const config = join(dir, 'config.json');
    // Media only: no HTTP, no recording, no admin console; its own data directory.
    writeFileSync(config, JSON.stringify({ bind: '127.0.0.1', rtmp: { port }, store: { path: join(dir, 'data') }, auth: { play: false, publish: false, secret: 'rtmpbench' }, notify: { url: '' } }));
    handle = launch(process.execPath, [app, '-c', config, '--no-admin'], { cwd: dir });
  } else {
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, nginxConfig(dir, port, opts.chunkSize ?? 4096));
    handle = launch(NGINX_BINARIES.find((p) => existsSync(p))!, ['-p', dir, '-c', conf]);
  }
  const stop = async () => {
    const code = await handle.stop();
    cleanup();
    return code;
  };
  try {
    await waitForPort(port, {
      timeoutMs: opts.startTimeoutMs ?? 15_000,
      abandon: () => (handle.running ? null : `${kind} exited at start`),
    });
  } catch (e) {
    await stop();
    throw new ServerStartError(`${(e as Error).message}: ${handle.output().slice(-2000).trim()}`);
  }
  return { kind, pid: handle.pid, port, url: `rtmp://127.0.0.1:${port}/live`, output: () => handle.output(), stop };
}

/**
 * A server a user names by URL and starts with a shell command, in a process group of its own
 * (the shell and whatever it starts are measured and stopped together).
 */
export async function startCommand(spec: { name: string; url: string; start: string }, host: string, port: number, timeoutMs = 15_000): Promise<RunningServer> {
  const handle = launch('/bin/sh', ['-c', spec.start], { group: true });
  const stop = () => handle.stop();
  try {
    await waitForPort(port, { host, timeoutMs, intervalMs: 100, abandon: () => (handle.running ? null : `"${spec.start}" exited`) });
  } catch (e) {
    await stop();
    throw new ServerStartError(`${spec.name}: ${(e as Error).message}: ${handle.output().slice(-2000).trim()}`);
  }
  return { kind: 'command', pid: handle.pid, pgid: handle.pid, port, url: spec.url, output: () => handle.output(), stop };
}
