/**
 * Viewers per generator core, per protocol: N HTTP-FLV, WebSocket-FLV or HLS viewers in this
 * process (each on its own connections, reading every frame's mark, as the generator runs
 * them) against an origin in its own process (bench/lib/viewer-origin.ts: one 600 kbps
 * stream, encoded once). Reports this process's CPU-seconds per 1000 viewer-minutes, the
 * viewers one core would hold at that rate, event-loop utilisation, RSS per viewer, and the
 * share of expected frames received (a run that did not keep up says so).
 *
 *   npm run build && node dist/bench/viewers.js [--cases http-flv:1000,ws-flv:1000,hls:200] [--duration 20] [--warmup 5]
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { HlsViewer } from '../src/client/hls-viewer.js';
import { HttpFlvViewer } from '../src/client/http-flv-viewer.js';
import type { Viewer } from '../src/client/viewer.js';
import { WsFlvViewer } from '../src/client/ws-flv-viewer.js';
import { argValue, environment, formatTable, writeResult } from './lib/env.js';

type Protocol = 'http-flv' | 'ws-flv' | 'hls';

interface Row {
  case: string;
  viewers: number;
  opened: number;
  cpuSeconds: number;
  cpuSecPer1000ViewerMin: number;
  viewersPerCore: number;
  eventLoopUtilisation: number;
  rssMbPerViewer: number;
  framesReceivedShare: number;
}

const FPS = 30;

function startOrigin(): Promise<{ port: number; stop: () => Promise<void> }> {
  const here = fileURLToPath(import.meta.url);
  const script = here.replace(/viewers\.(ts|js)$/, 'lib/viewer-origin.$1');
  const child = spawn(process.execPath, [...process.execArgv, script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m)
        resolve({
          port: Number(m[1]),
          stop: async () => {
            child.kill('SIGTERM');
            const t = setTimeout(() => child.kill('SIGKILL'), 3000);
            await exited;
            clearTimeout(t);
          },
        });
    });
    child.once('exit', (code) => reject(new Error(`the origin exited with ${code}: ${out}`)));
  });
}

function open(protocol: Protocol, port: number): Promise<Viewer> {
  // Every frame is looked at as the generator would (mark read, sequence tracked).
  const onFrame = () => {};
  switch (protocol) {
    case 'http-flv':
      return HttpFlvViewer.open({ url: `http://127.0.0.1:${port}/live/s.flv`, onFrame });
    case 'ws-flv':
      return WsFlvViewer.open({ url: `ws://127.0.0.1:${port}/live/s.flv`, onFrame });
    case 'hls':
      return HlsViewer.open({ url: `http://127.0.0.1:${port}/hls/index.m3u8`, onFrame });
  }
}

async function runCase(protocol: Protocol, count: number, durationS: number, warmupS: number): Promise<Row> {
  const origin = await startOrigin();
  const viewers: Viewer[] = [];
  const rssBefore = process.memoryUsage().rss;
  try {
    // Join in batches of 50, as a ramp would.
    for (let i = 0; i < count; i += 50) {
      const batch = await Promise.allSettled(
        Array.from({ length: Math.min(50, count - i) }, () => open(protocol, origin.port)),
      );
      for (const b of batch) if (b.status === 'fulfilled') viewers.push(b.value);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, warmupS * 1000));
    const framesBefore = viewers.reduce((n, v) => n + v.counters.videoFrames, 0);
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, durationS * 1000));
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const framesReceived = viewers.reduce((n, v) => n + v.counters.videoFrames, 0) - framesBefore;
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const viewerMinutes = (viewers.length * wallS) / 60;
    return {
      case: `${protocol}-${count}`,
      viewers: count,
      opened: viewers.length,
      cpuSeconds: round(cpuSeconds, 2),
      cpuSecPer1000ViewerMin: round((cpuSeconds / viewerMinutes) * 1000, 2),
      viewersPerCore: Math.round((viewers.length * wallS) / cpuSeconds),
      eventLoopUtilisation: round(elu.utilization, 3),
      rssMbPerViewer: round((process.memoryUsage().rss - rssBefore) / 1e6 / Math.max(1, viewers.length), 3),
      framesReceivedShare: round(framesReceived / (viewers.length * wallS * FPS), 3),
    };
  } finally {
    for (const v of viewers) v.close();
    await origin.stop();
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

const cases = (argValue('cases') ?? 'http-flv:1000,ws-flv:1000,hls:200').split(',').map((c) => {
  const [protocol, n] = c.split(':');
  if (protocol !== 'http-flv' && protocol !== 'ws-flv' && protocol !== 'hls')
    throw new Error(`unknown protocol in case "${c}"`);
  return { protocol: protocol as Protocol, count: Number(n) };
});
const durationS = Number(argValue('duration') ?? 20);
const warmupS = Number(argValue('warmup') ?? 5);
const rows: Row[] = [];
for (const c of cases) {
  rows.push(await runCase(c.protocol, c.count, durationS, warmupS));
  console.error(formatTable(rows.slice(-1) as unknown as Record<string, number | string>[]));
}
console.log(formatTable(rows as unknown as Record<string, number | string>[]));
const path = writeResult('viewers', { environment: environment(), durationS, warmupS, rows }, argValue('out'));
console.log(`written to ${path}`);
