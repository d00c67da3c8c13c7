import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start } from './tools.js';

/**
 * Real servers with HTTP outputs for the viewer tests, each in its own process with its own
 * temporary config, stopped by PID: node-media-server (HTTP-FLV and WebSocket-FLV) and nginx
 * with Debian's RTMP module (HLS written by nginx-rtmp, served by nginx's http block).
 */

export interface Peer {
  rtmpPort: number;
  httpPort: number;
  pid: number;
  output: () => string;
  stop: () => Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitForPort(port: number, timeoutMs: number, alive: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (!alive()) throw new Error(`the server exited: ${output()}`);
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function hasNodeMediaServer(): boolean {
  try {
    createRequire(import.meta.url).resolve('node-media-server/bin/app.js');
    return true;
  } catch {
    return false;
  }
}

/** node-media-server with RTMP and HTTP (HTTP-FLV and WS-FLV at /{app}/{stream}.flv). */
export async function startNodeMediaServer(): Promise<Peer> {
  const app = createRequire(import.meta.url).resolve('node-media-server/bin/app.js');
  const dir = mkdtempSync(join(tmpdir(), 'rtmpbench-nms-'));
  const [rtmpPort, httpPort] = [await freePort(), await freePort()];
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      bind: '127.0.0.1',
      rtmp: { port: rtmpPort },
      http: { port: httpPort },
      store: { path: join(dir, 'data') },
      auth: { play: false, publish: false, secret: 'rtmpbench' },
      notify: { url: '' },
    }),
  );
  const p = start(process.execPath, [app, '-c', config, '--no-admin']);
  const stop = async () => {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(rtmpPort, 15_000, () => p.child.exitCode === null, p.output);
    await waitForPort(httpPort, 15_000, () => p.child.exitCode === null, p.output);
  } catch (e) {
    await stop();
    throw e;
  }
  return { rtmpPort, httpPort, pid: p.child.pid!, output: p.output, stop };
}

const NGINX_RTMP_MODULES = ['/usr/lib/nginx/modules/ngx_rtmp_module.so', '/usr/share/nginx/modules/ngx_rtmp_module.so'];

export function nginxRtmpModule(): string | null {
  return NGINX_RTMP_MODULES.find((m) => existsSync(m)) ?? null;
}

export interface NginxHlsOptions {
  fragmentS?: number;
  playlistLengthS?: number;
}

/**
 * nginx with nginx-rtmp writing HLS (`hls on`) into a temporary directory and nginx's http block
 * serving it at /hls/{stream}.m3u8; one process (`master_process off`), stopped by PID.
 */
export async function startNginxHls(opts: NginxHlsOptions = {}): Promise<Peer & { hlsDir: string }> {
  const module = nginxRtmpModule();
  if (module === null) throw new Error('the nginx RTMP module is not installed (apt-get install libnginx-mod-rtmp)');
  const dir = mkdtempSync(join(tmpdir(), 'rtmpbench-nginx-hls-'));
  const hlsDir = join(dir, 'hls');
  const [rtmpPort, httpPort] = [await freePort(), await freePort()];
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    [
      `load_module ${module};`,
      'daemon off;',
      'master_process off;',
      'worker_processes 1;',
      `error_log ${join(dir, 'error.log')} info;`,
      `pid ${join(dir, 'nginx.pid')};`,
      'events { worker_connections 1024; }',
      'rtmp {',
      '  server {',
      `    listen 127.0.0.1:${rtmpPort};`,
      '    chunk_size 4096;',
      '    application live {',
      '      live on;',
      '      hls on;',
      `      hls_path ${hlsDir};`,
      `      hls_fragment ${opts.fragmentS ?? 1}s;`,
      `      hls_playlist_length ${opts.playlistLengthS ?? 6}s;`,
      '    }',
      '  }',
      '}',
      'http {',
      `  access_log off;`,
      `  client_body_temp_path ${join(dir, 'body')};`,
      `  proxy_temp_path ${join(dir, 'proxy')};`,
      `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
      `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
      `  scgi_temp_path ${join(dir, 'scgi')};`,
      '  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }',
      '  server {',
      `    listen 127.0.0.1:${httpPort};`,
      '    location /hls/ {',
      `      alias ${hlsDir}/;`,
      '      add_header Cache-Control no-cache;',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const nginx = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
  const p = start(nginx, ['-p', dir, '-c', conf]);
  const stop = async () => {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(rtmpPort, 15_000, () => p.child.exitCode === null, p.output);
    await waitForPort(httpPort, 15_000, () => p.child.exitCode === null, p.output);
  } catch (e) {
    await stop();
    throw e;
  }
  return { rtmpPort, httpPort, pid: p.child.pid!, output: p.output, stop, hlsDir };
}
