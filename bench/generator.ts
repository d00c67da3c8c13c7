/**
 * The load generator's own cost, measured with the generator itself (`runScenario`) on one
 * worker thread against the built-in server in its own process on the same machine:
 * CPU-seconds per 1000 player-minutes and per 100 publisher-minutes at 600 kbps and
 * 2.5 Mbps, with full per-frame accounting (marks, sequence numbers, histograms), and
 * publisher pacing accuracy (p99 lateness against the schedule).
 *
 *   npm run bench:generator [-- --cases players-600k-5000,publishers-2500k-500 --duration 30]
 *
 * The server runs with merged writes (100 ms) so that it, not the generator, has spare CPU.
 */
import { runScenario } from '../src/load/orchestrator.js';
import { resolveScenario } from '../src/load/scenario.js';
import { argValue, environment, formatTable, writeResult } from './lib/env.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Case {
  id: string;
  kind: 'players' | 'publishers';
  count: number;
  videoBitrate: number;
}

const ALL: Case[] = [
  { id: 'players-600k-1000', kind: 'players', count: 1000, videoBitrate: 600_000 },
  { id: 'players-600k-2500', kind: 'players', count: 2500, videoBitrate: 600_000 },
  { id: 'players-600k-5000', kind: 'players', count: 5000, videoBitrate: 600_000 },
  { id: 'players-2500k-1000', kind: 'players', count: 1000, videoBitrate: 2_500_000 },
  { id: 'publishers-600k-100', kind: 'publishers', count: 100, videoBitrate: 600_000 },
  { id: 'publishers-600k-500', kind: 'publishers', count: 500, videoBitrate: 600_000 },
  { id: 'publishers-2500k-100', kind: 'publishers', count: 100, videoBitrate: 2_500_000 },
  { id: 'publishers-2500k-500', kind: 'publishers', count: 500, videoBitrate: 2_500_000 },
];

interface Row {
  case: string;
  sessions: number;
  connected: number;
  generatorCpuSeconds: number;
  sessionMinutes: number;
  cpuPerUnit: number;
  unit: string;
  serverCpuSeconds: number;
  framesReceived: number;
  framesExpected: number;
  pacingP99Ms: number;
  pacingMaxMs: number;
  endToEndP99Ms: number;
}

async function runCase(c: Case, durationSec: number, rampSec: number, out: string): Promise<Row> {
  const input =
    c.kind === 'players'
      ? { name: c.id, streams: 1, players: { perStream: c.count }, publishers: { videoBitrate: c.videoBitrate } }
      : { name: c.id, streams: c.count, players: { perStream: 0 }, publishers: { videoBitrate: c.videoBitrate } };
  const r = resolveScenario({
    ...input,
    workers: 1,
    duration: durationSec,
    ramp: rampSec,
    server: { mergeWriteMs: 100, maxConnections: 20_000 },
  });
  if (r.scenario === null) throw new Error(r.problems.join('; '));
  const { summary } = await runScenario({ scenario: r.scenario, outDir: out });
  // Sessions ramp linearly: the ramp counts half.
  const sessionMinutes = (c.count * (durationSec - rampSec / 2)) / 60;
  const perUnit = c.kind === 'players' ? 1000 : 100;
  const fps = r.scenario.media.fps;
  const expected = c.kind === 'players' ? Math.round(c.count * (durationSec - rampSec / 2) * fps) : 0;
  return {
    case: c.id,
    sessions: c.count,
    connected: c.kind === 'players' ? summary.sessions.players.connected : summary.sessions.publishers.connected,
    generatorCpuSeconds: summary.generator.cpuSeconds,
    sessionMinutes,
    cpuPerUnit: (summary.generator.cpuSeconds / sessionMinutes) * perUnit,
    unit: `CPU s / ${perUnit} ${c.kind === 'players' ? 'player' : 'publisher'}-min`,
    serverCpuSeconds: summary.server?.cpuSeconds ?? NaN,
    framesReceived: summary.throughput.framesReceived,
    framesExpected: expected,
    pacingP99Ms: summary.latencyMs.pacing.p99,
    pacingMaxMs: summary.latencyMs.pacing.max,
    endToEndP99Ms: summary.latencyMs.endToEnd.p99,
  };
}

async function main(): Promise<void> {
  const wanted = (argValue('cases') ?? ALL.map((c) => c.id).join(',')).split(',');
  const durationSec = Number(argValue('duration') ?? 30);
  const rampSec = Number(argValue('ramp') ?? 10);
  const out = mkdtempSync(join(tmpdir(), 'rtmpbench-genbench-'));
  const rows: Row[] = [];
  try {
    for (const id of wanted) {
      const c = ALL.find((x) => x.id === id);
      if (!c) throw new Error(`unknown case ${id}; cases: ${ALL.map((x) => x.id).join(', ')}`);
      console.error(`running ${id} (${durationSec} s)...`);
      const row = await runCase(c, durationSec, rampSec, out);
      rows.push(row);
      console.error(
        `  ${row.cpuPerUnit.toFixed(2)} ${row.unit}, pacing p99 ${row.pacingP99Ms} ms, connected ${row.connected}/${row.sessions}`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  const env = environment();
  const path = writeResult('generator', { bench: 'generator', env, durationSec, rampSec, rows }, argValue('out'));
  console.log(
    `generator cost: one worker thread, built-in server on the same ${env.cpus}-core machine, ${env.cpuModel}, Node ${env.node}\n`,
  );
  console.log(
    formatTable(
      rows.map((r) => ({
        case: r.case,
        connected: `${r.connected}/${r.sessions}`,
        'generator CPU s': r.generatorCpuSeconds.toFixed(1),
        cost: `${r.cpuPerUnit.toFixed(2)} ${r.unit}`,
        'frames received': r.framesExpected > 0 ? `${((r.framesReceived / r.framesExpected) * 100).toFixed(1)}%` : '-',
        'pacing p99 ms': r.pacingP99Ms.toFixed(2),
        'e2e p99 ms': r.framesExpected > 0 ? r.endToEndP99Ms.toFixed(1) : '-',
      })),
    ),
  );
  console.log(`\nwritten to ${path}`);
}

await main();
