/**
 * The built-in server's reliability under session churn: N viewers connect, get a frame and
 * leave (in waves), then M publishers publish a GOP and unpublish (or drop), against the server
 * in its own process, while one healthy stream plays throughout. It checks that
 *
 * - RSS after the last wave is within 10% of the highest level it reached in the first half of
 *   the viewer waves, and at least the first two (memory reused, not grown), and the leak verdict on the run is not `leak`;
 * - descriptors are back to the baseline, connections back to the healthy pair, and no stream
 *   but the healthy one is left in the registry;
 * - the healthy viewer lost no frame; no cycle failed.
 *
 * Viewers connect from 127.0.0.1..127.0.0.N in turn (`--addresses`), so closed connections in
 * TIME_WAIT do not exhaust the ephemeral ports; one viewer in ten leaves with a TCP reset, one
 * publisher in four drops its connection without unpublishing; half of the publishers use a new
 * stream name, half use the same few names again and again.
 *
 *   npm run bench:reliability -- [--viewers 100000] [--publishes 10000] [--waves 10] [--concurrency 16]
 *                                [--addresses 16] [--out FILE] [--json]
 *
 * Prints one verdict line (and the JSON with `--json`); exit 0 when every check passed, 1 when
 * one failed. The committed figure: results/baselines/reliability/ (README there).
 */
import { loopbackAddresses, publisherCycles, viewerCycles, type CycleCounts } from './lib/cycles.js';
import { argValue, environment, writeResult } from './lib/env.js';
import { startHealthyStream, startWatchedServer } from './lib/server-watch.js';
import { leakVerdict, type LeakSample } from '../src/metrics/leak.js';
import { leakFigures, type LeakFigures } from '../src/results/leak.js';

const viewers = Number(argValue('viewers') ?? 100_000);
const publishes = Number(argValue('publishes') ?? 10_000);
const waves = Math.max(2, Number(argValue('waves') ?? 10));
const concurrency = Number(argValue('concurrency') ?? 16);
const addresses = Number(argValue('addresses') ?? 16);
const outPath = argValue('out');
const asJson = process.argv.includes('--json');
/** RSS after the last wave may be this much above its level after the first waves. */
const RSS_TOLERANCE = 0.1;
const HEALTHY = 'healthy';

interface Check {
  name: string;
  passed: boolean;
  detail: string;
}

interface WaveResult {
  wave: number;
  kind: 'viewers' | 'publishers';
  cycles: number;
  failed: number;
  noFrame: number;
  errors: Record<string, number>;
  rssBytes: number;
  fds: number | null;
  threads: number;
  openConnections: number;
  streams: number;
  settled: boolean;
  seconds: number;
}

const MB = 1024 * 1024;
const mb = (b: number) => `${(b / MB).toFixed(1)} MB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const startedMs = performance.now();
  const watched = await startWatchedServer();
  const samples: LeakSample[] = [];
  let ended = 0;
  const sample = () => {
    const r = watched.resources();
    samples.push({
      tSec: (performance.now() - startedMs) / 1000,
      rssBytes: r.rssBytes,
      fds: r.fds,
      sessionsEnded: ended,
    });
  };
  const sampler = setInterval(sample, 1000);
  const healthy = await startHealthyStream(watched.url, HEALTHY);
  const checks: Check[] = [];
  const results: WaveResult[] = [];
  let leak: LeakFigures | null = null;
  try {
    await sleep(1500);
    await watched.settle(2, 1);
    const baseline = await watched.quietResources();
    const baselineDescriptors = watched.descriptors();
    const localAddresses = loopbackAddresses(addresses);
    const settleAndRecord = async (
      wave: number,
      kind: WaveResult['kind'],
      counts: CycleCounts,
      waveStartMs: number,
    ) => {
      const settled = await watched.settle(2, 1);
      const s = await watched.stats();
      const r = await watched.quietResources();
      const row: WaveResult = {
        wave,
        kind,
        cycles: counts.ended,
        failed: counts.failed,
        noFrame: counts.noFrame,
        errors: counts.errors,
        rssBytes: r.rssBytes,
        fds: r.fds,
        threads: r.threads,
        openConnections: s.connections.open,
        streams: s.streams.length,
        settled,
        seconds: Math.round((performance.now() - waveStartMs) / 100) / 10,
      };
      results.push(row);
      process.stderr.write(
        `${kind} wave ${wave}: ${row.cycles} cycles (${row.failed} failed, ${row.noFrame} without a frame) in ${row.seconds} s; RSS ${mb(row.rssBytes)}, ${row.fds} descriptors, ${row.openConnections} connections, ${row.streams} streams\n`,
      );
    };

    const perWave = Math.ceil(viewers / waves);
    let before = 0;
    for (let w = 0; w < waves; w++) {
      const t0 = performance.now();
      const counts = await viewerCycles({
        url: watched.url,
        streamName: HEALTHY,
        cycles: Math.min(perWave, viewers - w * perWave),
        concurrency,
        localAddresses,
        resetEvery: 10,
        onCycle: (c) => (ended = before + c.ended),
      });
      before += counts.ended;
      await settleAndRecord(w + 1, 'viewers', counts, t0);
    }
    const publishWaves = Math.max(1, Math.min(waves, Math.ceil(publishes / 500)));
    const perPublishWave = Math.ceil(publishes / publishWaves);
    for (let w = 0; w < publishWaves; w++) {
      const t0 = performance.now();
      const offset = w * perPublishWave;
      const counts = await publisherCycles({
        url: watched.url,
        // Even cycles: a new name each; odd: the name of the worker running them, used again
        // and again (one publisher at a time each).
        streamName: (i, worker) => ((offset + i) % 2 === 0 ? `cycle-${offset + i}` : `again-${worker}`),
        cycles: Math.min(perPublishWave, publishes - offset),
        concurrency: 4,
        localAddresses,
        dropEvery: 4,
        onCycle: (c) => (ended = before + c.ended),
      });
      before += counts.ended;
      await settleAndRecord(w + 1, 'publishers', counts, t0);
    }
    sample();
    clearInterval(sampler);

    const viewerRows = results.filter((r) => r.kind === 'viewers');
    // The level memory reached in the first half of the viewer waves: V8 and the allocator size
    // their heaps to the load once (a step at some wave), and later waves must not go beyond it.
    const firstHalf = viewerRows.slice(0, Math.max(2, Math.ceil(viewerRows.length / 2)));
    const reference = firstHalf.reduce((a, r) => (r.rssBytes > a.rssBytes ? r : a));
    const last = results[results.length - 1]!;
    const finalStats = await watched.stats();
    const frames = healthy.frames();
    const failed = results.reduce((a, r) => a + r.failed, 0);
    const noFrame = results.reduce((a, r) => a + r.noFrame, 0);
    leak = leakFigures(leakVerdict(samples, { warmupSec: (viewerRows[0]!.seconds ?? 0) + 2 }));
    const growth = last.rssBytes / reference.rssBytes - 1;
    checks.push(
      {
        name: 'rss',
        passed: growth <= RSS_TOLERANCE,
        detail: `RSS ${mb(reference.rssBytes)} at most in the first ${firstHalf.length} viewer waves (wave ${reference.wave}), ${mb(last.rssBytes)} at the end (${(growth * 100).toFixed(1)}%, at most ${RSS_TOLERANCE * 100}%)`,
      },
      {
        name: 'descriptors',
        passed: last.fds === null || baseline.fds === null || last.fds <= baseline.fds,
        detail: `descriptors ${baseline.fds} at the start, ${last.fds} at the end`,
      },
      {
        name: 'connections',
        passed: finalStats.connections.open === 2,
        detail: `${finalStats.connections.open} connections open at the end (the healthy publisher and viewer: 2)`,
      },
      {
        name: 'registry',
        passed: finalStats.streams.length === 1 && finalStats.streams[0]!.key === `live/${HEALTHY}`,
        detail: `streams left: ${finalStats.streams.map((s) => s.key).join(', ')}`,
      },
      {
        name: 'healthy-viewer',
        passed: healthy.alive() && frames.lost === 0 && frames.duplicated === 0 && frames.outOfOrder === 0,
        detail: `healthy viewer: ${frames.received} frames, ${frames.lost} lost, ${frames.duplicated} duplicated, ${frames.outOfOrder} out of order, ${healthy.alive() ? 'connected' : 'DISCONNECTED'}`,
      },
      {
        name: 'cycles',
        passed: failed === 0 && noFrame === 0,
        detail: `${failed} cycles failed, ${noFrame} viewers without a frame`,
      },
      { name: 'leak', passed: leak.verdict !== 'leak', detail: `leak verdict ${leak.verdict}: ${leak.reason}` },
    );
    const passed = checks.every((c) => c.passed);
    const endDescriptors = watched.descriptors();
    const descriptorChanges = Object.fromEntries(
      [...new Set([...Object.keys(baselineDescriptors), ...Object.keys(endDescriptors)])]
        .filter((fd) => baselineDescriptors[fd] !== endDescriptors[fd])
        .map((fd) => [fd, `${baselineDescriptors[fd] ?? '-'} -> ${endDescriptors[fd] ?? '-'}`]),
    );
    const durationSec = Math.round((performance.now() - startedMs) / 1000);
    const result = {
      bench: 'reliability',
      env: environment(),
      command: `npm run bench:reliability -- ${process.argv.slice(2).join(' ')}`.trim(),
      settings: { viewers, publishes, waves, concurrency, addresses, rssTolerance: RSS_TOLERANCE },
      passed,
      durationSec,
      checks,
      baseline: { rssBytes: baseline.rssBytes, fds: baseline.fds, threads: baseline.threads },
      descriptorChanges,
      waves: results,
      healthyViewer: frames,
      closedByReason: finalStats.connections.closedByReason,
      accepted: finalStats.connections.accepted,
      leak,
      samples: samples.map((s) => [Math.round(s.tSec * 10) / 10, s.rssBytes, s.fds, s.sessionsEnded]),
    };
    const line = `reliability ${passed ? 'PASS' : 'FAIL'}: ${viewers} viewer and ${publishes} publisher cycles in ${durationSec} s; ${checks.map((c) => `${c.passed ? '' : 'FAILED '}${c.detail}`).join('; ')}`;
    console.log(line);
    if (asJson) console.log(JSON.stringify(result));
    const path = writeResult('reliability', result, outPath);
    process.stderr.write(`written to ${path}\n`);
    process.exitCode = passed ? 0 : 1;
  } finally {
    clearInterval(sampler);
    await healthy.stop();
    await watched.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 3;
});
