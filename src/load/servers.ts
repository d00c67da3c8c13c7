import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../protocol/errors.js';
import { PACKAGE_ROOT } from '../version.js';
import { trackChild } from './children.js';

export const SERVER_KINDS = ['builtin', 'node-media-server', 'nginx-rtmp'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

/** A server started for a run, in its own process (so its CPU and memory are its own). */
export interface RunningServer {
  kind: ServerKind;
  pid: number;
  port: number;
  /** rtmp://127.0.0.1:PORT/live */
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

/** The built CLI (next to this file in dist/; from src/ under the test runner, the built one). */
function cliPath(): string {
  const sibling = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  return existsSync(sibling) ? sibling : join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js');
}

const NGINX_RTMP_MODULES = ['/usr/lib/nginx/modules/ngx_rtmp_module.so', '/usr/share/nginx/modules/ngx_rtmp_module.so'];

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
  const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
  return { available: module !== undefined && nginx !== undefined, hint: 'apt-get install nginx libnginx-mod-rtmp' };
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode}: ${output().slice(-2000)}`);
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the server did not accept connections on port ${port} within ${timeoutMs} ms: ${output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function launch(cmd: string, args: string[], cwd?: string): { child: ChildProcess; output: () => string } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, output: () => out };
}

function stopper(child: ChildProcess, cleanup: () => void): () => Promise<number | null> {
  const exited = new Promise<number | null>((r) => {
    if (child.exitCode !== null) r(child.exitCode);
    else child.once('exit', (code) => r(code));
  });
  const untrack = trackChild(() => child.kill('SIGTERM'));
  void exited.then(untrack);
  return async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    const code = await exited;
    clearTimeout(t);
    cleanup();
    return code;
  };
}

/** Starts a server of the given kind on a free loopback port. */
export async function startServer(kind: ServerKind, opts: StartOptions = {}): Promise<RunningServer> {
  const { available, hint } = serverAvailability(kind);
  if (!available) throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `${kind} is not installed here (${hint})`);
  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  const dir = mkdtempSync(join(tmpdir(), `rtmpbench-${kind}-`));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const port = await freePort();
  let launched: { child: ChildProcess; output: () => string };
  if (kind === 'builtin') {
    launched = launch(process.execPath, [cliPath(), 'serve', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn', ...(opts.builtinArgs ?? [])]);
  } else if (kind === 'node-media-server') {
    const app = createRequire(import.meta.url).resolve('node-media-server/bin/app.js');
    const config = join(dir, 'config.json');
    // Media only: no HTTP, no recording, no admin console; its own data directory.
    writeFileSync(
      config,
      JSON.stringify({ bind: '127.0.0.1', rtmp: { port }, store: { path: join(dir, 'data') }, auth: { play: false, publish: false, secret: 'rtmpbench' }, notify: { url: '' } }),
    );
    launched = launch(process.execPath, [app, '-c', config, '--no-admin'], dir);
  } else {
    const module = NGINX_RTMP_MODULES.find((m) => existsSync(m))!;
    const conf = join(dir, 'nginx.conf');
    // One process (master_process off), one core: the same footing as the Node servers.
    writeFileSync(
      conf,
      [
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
        `    chunk_size ${opts.chunkSize ?? 4096};`,
        '    application live { live on; }',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    launched = launch(existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx', ['-p', dir, '-c', conf]);
  }
  const { child, output } = launched;
  const stop = stopper(child, cleanup);
  try {
    await waitForPort(port, child, timeoutMs, output);
  } catch (e) {
    await stop();
    throw e;
  }
  return { kind, pid: child.pid!, port, url: `rtmp://127.0.0.1:${port}/live`, output, stop };
}
