import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCpuQuota, type CpuQuota } from './cpu-quota.js';
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
  /** The port of its HTTP outputs, when asked for (`StartOptions.http`). */
  httpPort?: number;
  /**
   * Where viewers play a stream, by protocol, for what this server serves: URL templates in
   * which `{stream}` stands for the stream name (app `live`).
   */
  playUrls: PlayUrls;
  /** The CPU quota it runs under, cores (absent: none). */
  cpuQuota?: number;
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
  /**
   * Serve viewers over HTTP too, on a free port of its own: the built-in server's HTTP-FLV,
   * WebSocket-FLV and HLS; node-media-server's HTTP-FLV and WebSocket-FLV; nginx-rtmp's HLS
   * (`hls on`, the fragments served by nginx's http block). `true` takes the defaults.
   */
  http?: HttpOutputOptions | boolean;
  /** Hold the server to this many cores (a cgroup of its own; see cpu-quota.ts). */
  cpuQuota?: number;
  /**
   * Node servers (the built-in one, node-media-server) write /tmp/perf-PID.map (node
   * --perf-basic-prof), so a perf profile names their JavaScript frames.
   */
  perfBasicProf?: boolean;
}

/** Play URL templates by viewer protocol (`{stream}` is the stream name). */
export type PlayUrls = Partial<Record<'rtmp' | 'http-flv' | 'ws-flv' | 'hls', string>>;

/** HTTP outputs of a server under test, on a free port of their own. */
export interface HttpOutputOptions {
  /**
   * HLS segment length in seconds: nginx-rtmp's `hls_fragment`, the built-in server's
   * `--hls-segment-ms` (default 2).
   */
  hlsFragmentS?: number;
  /**
   * Seconds of segments the HLS playlist lists: nginx-rtmp's `hls_playlist_length`, the built-in
   * server's `--hls-window` in segments (default 6 segments).
   */
  hlsPlaylistS?: number;
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
export function serveCommand(
  args: readonly string[],
  nodeArgs: readonly string[] = [],
): { cmd: string; args: string[] } {
  const cli = ownModule(import.meta.url, '../cli/main.js');
  return { cmd: process.execPath, args: [...nodeArgs, ...cli.execArgv, cli.path, 'serve', ...args] };
}

function nginxConfig(
  dir: string,
  port: number,
  chunkSize: number,
  hls: { httpPort: number; fragmentS: number; playlistS: number } | null,
): string {
  const module = NGINX_RTMP_MODULES.find((m) => existsSync(m))!;
  const hlsDir = join(dir, 'hls');
  // One process (master_process off), one core: the same footing as the Node servers.
  const lines = [
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
  ];
  if (hls === null) {
    lines.push('    application live { live on; }', '  }', '}', '');
    return lines.join('\n');
  }
  // nginx-rtmp writes the HLS fragments and playlist into a directory; nginx's http block serves it.
  lines.push(
    '    application live {',
    '      live on;',
    '      hls on;',
    `      hls_path ${hlsDir};`,
    `      hls_fragment ${hls.fragmentS}s;`,
    `      hls_playlist_length ${hls.playlistS}s;`,
    '    }',
    '  }',
    '}',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, t)};`),
    '  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }',
    '  server {',
    `    listen 127.0.0.1:${hls.httpPort};`,
    '    location /hls/ {',
    `      alias ${hlsDir}/;`,
    '      add_header Cache-Control no-cache;',
    "      add_header Access-Control-Allow-Origin '*';",
    '    }',
    '  }',
    '}',
    '',
  );
  return lines.join('\n');
}

/** Starts a server of the given kind on a free loopback port. */
export async function startServer(kind: ServerKind, opts: StartOptions = {}): Promise<RunningServer> {
  const { available, hint } = serverAvailability(kind);
  if (!available) throw new ServerStartError(`${kind} is not installed here (${hint})`);
  const dir = mkdtempSync(join(tmpdir(), `rtmpbench-${kind}-`));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const port = await freePort();
  const http = opts.http === undefined || opts.http === false ? null : opts.http === true ? {} : opts.http;
  const httpPort = http === null ? undefined : await freePort();
  const fragmentS = http?.hlsFragmentS ?? 2;
  const playlistS = http?.hlsPlaylistS ?? 6 * fragmentS;
  const local = `127.0.0.1:${port}`;
  const web = `127.0.0.1:${httpPort}`;
  const playUrls: PlayUrls = { rtmp: `rtmp://${local}/live/{stream}` };
  const nodeArgs = opts.perfBasicProf === true ? ['--perf-basic-prof'] : [];
  let handle: ChildHandle;
  if (kind === 'builtin') {
    const httpArgs = httpPort === undefined ? [] : ['--http-port', String(httpPort)];
    if (http?.hlsFragmentS !== undefined) httpArgs.push('--hls-segment-ms', String(Math.round(fragmentS * 1000)));
    if (http?.hlsPlaylistS !== undefined)
      httpArgs.push('--hls-window', String(Math.max(2, Math.round(playlistS / fragmentS))));
    const serve = serveCommand(
      ['--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn', ...httpArgs, ...(opts.builtinArgs ?? [])],
      nodeArgs,
    );
    handle = launch(serve.cmd, serve.args);
    if (httpPort !== undefined)
      Object.assign(playUrls, {
        'http-flv': `http://${web}/live/{stream}.flv`,
        'ws-flv': `ws://${web}/live/{stream}.flv`,
        hls: `http://${web}/live/{stream}/index.m3u8`,
      });
  } else if (kind === 'node-media-server') {
    const app = createRequire(import.meta.url).resolve('node-media-server/bin/app.js');
    const config = join(dir, 'config.json');
    // Media (and with `http`, HTTP-FLV and WebSocket-FLV); no recording, no admin console; its own data directory.
    writeFileSync(
      config,
      JSON.stringify({
        bind: '127.0.0.1',
        rtmp: { port },
        ...(httpPort === undefined ? {} : { http: { port: httpPort } }),
        store: { path: join(dir, 'data') },
        auth: { play: false, publish: false, secret: 'rtmpbench' },
        notify: { url: '' },
      }),
    );
    handle = launch(process.execPath, [...nodeArgs, app, '-c', config, '--no-admin'], { cwd: dir });
    if (httpPort !== undefined)
      Object.assign(playUrls, {
        'http-flv': `http://${web}/live/{stream}.flv`,
        'ws-flv': `ws://${web}/live/{stream}.flv`,
      });
  } else {
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      nginxConfig(
        dir,
        port,
        opts.chunkSize ?? 4096,
        httpPort === undefined ? null : { httpPort, fragmentS, playlistS },
      ),
    );
    handle = launch(NGINX_BINARIES.find((p) => existsSync(p))!, ['-p', dir, '-c', conf]);
    if (httpPort !== undefined) playUrls.hls = `http://${web}/hls/{stream}.m3u8`;
  }
  // Under a quota from its first instruction: the process is moved into its cgroup at once.
  let quota: CpuQuota | null = null;
  const stop = async () => {
    const code = await handle.stop();
    quota?.remove();
    cleanup();
    return code;
  };
  try {
    if (opts.cpuQuota !== undefined) {
      quota = createCpuQuota(opts.cpuQuota);
      quota.add(handle.pid);
    }
    for (const p of httpPort === undefined ? [port] : [port, httpPort]) {
      await waitForPort(p, {
        timeoutMs: opts.startTimeoutMs ?? 15_000,
        abandon: () => (handle.running ? null : `${kind} exited at start`),
      });
    }
  } catch (e) {
    await stop();
    throw new ServerStartError(`${(e as Error).message}: ${handle.output().slice(-2000).trim()}`);
  }
  return {
    kind,
    pid: handle.pid,
    port,
    url: `rtmp://127.0.0.1:${port}/live`,
    ...(httpPort === undefined ? {} : { httpPort }),
    ...(quota !== null ? { cpuQuota: quota.cores } : {}),
    playUrls,
    output: () => handle.output(),
    stop,
  };
}

/**
 * A server a user names by URL and starts with a shell command, in a process group of its own
 * (the shell and whatever it starts are measured and stopped together).
 */
export async function startCommand(
  spec: { name: string; url: string; start: string },
  host: string,
  port: number,
  timeoutMs = 15_000,
  cpuQuota?: number,
): Promise<RunningServer> {
  const handle = launch('/bin/sh', ['-c', spec.start], { group: true });
  let quota: CpuQuota | null = null;
  const stop = async () => {
    const code = await handle.stop();
    quota?.remove();
    return code;
  };
  try {
    if (cpuQuota !== undefined) {
      quota = createCpuQuota(cpuQuota);
      quota.addGroup(handle.pid);
    }
    await waitForPort(port, {
      host,
      timeoutMs,
      intervalMs: 100,
      abandon: () => (handle.running ? null : `"${spec.start}" exited`),
    });
    // What the shell started before it was moved is moved now (children started later inherit the group).
    quota?.addGroup(handle.pid);
  } catch (e) {
    await stop();
    throw new ServerStartError(`${spec.name}: ${(e as Error).message}: ${handle.output().slice(-2000).trim()}`);
  }
  return {
    kind: 'command',
    pid: handle.pid,
    pgid: handle.pid,
    port,
    url: spec.url,
    ...(quota !== null ? { cpuQuota: quota.cores } : {}),
    playUrls: { rtmp: `${spec.url.replace(/\/+$/, '')}/{stream}` },
    output: () => handle.output(),
    stop,
  };
}
