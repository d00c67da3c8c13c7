import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { parseRtmpUrl, type RtmpUrl } from '../../src/client/url.js';
import { resolveServerConfig, type ServerConfigInput } from '../../src/server/config.js';
import { createLogger } from '../../src/server/logger.js';
import { RtmpServer, type ListenAddresses, type ServerStats } from '../../src/server/server.js';

export interface TestServer {
  server: RtmpServer;
  port: number;
  addresses: ListenAddresses;
  url: (stream?: string) => RtmpUrl;
  logs: string[];
  close: () => Promise<void>;
}

/** The built-in server in this process on a free loopback port, logging into `logs`. */
export async function startServer(settings: ServerConfigInput = {}): Promise<TestServer> {
  const logs: string[] = [];
  const config = resolveServerConfig({ port: 0, logLevel: 'debug', ...settings });
  const server = new RtmpServer(
    config,
    createLogger('debug', (l) => logs.push(l)),
  );
  const addresses = await server.listen();
  const port = addresses.port;
  return {
    server,
    port,
    addresses,
    logs,
    url: (stream = '') => parseRtmpUrl(`rtmp://127.0.0.1:${port}/live${stream ? `/${stream}` : ''}`),
    close: () => server.close(200),
  };
}

export const CLI = resolve(import.meta.dirname, '../../dist/src/cli/main.js');

export interface ServerProcess {
  pid: number;
  port: number;
  output: () => string;
  stats: () => Promise<ServerStats>;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** `rtmpbench serve` in its own process (built CLI); resolves once it printed its listening line. */
export function startServerProcess(args: string[] = []): Promise<ServerProcess> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start: ${out} ${err}`));
    }, 10_000);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening rtmp:\/\/[^:]+:(\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      /** The stats port, once the server logged it (only when a stats port is configured). */
      const statsPort = async (): Promise<number> => {
        for (let i = 0; i < 100; i++) {
          const s = /stats url=http:\/\/[^:]+:(\d+)/.exec(err);
          if (s) return Number(s[1]);
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error(`the server logged no stats URL: ${err}`);
      };
      resolvePromise({
        pid: child.pid!,
        port: Number(m[1]),
        output: () => out + err,
        stats: async () => (await (await fetch(`http://127.0.0.1:${await statsPort()}/stats`)).json()) as ServerStats,
        stop: async (signal = 'SIGTERM') => {
          if (child.exitCode === null) child.kill(signal);
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          const code = await exited;
          clearTimeout(t);
          return code;
        },
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!/listening/.test(out)) reject(new Error(`server exited with ${code}: ${err}`));
    });
  });
}

/** Polls until `check` is true (or fails after `timeoutMs`). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
