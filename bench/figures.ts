/**
 * Every performance figure of the project in one run: codec micro benchmarks (tinybench),
 * figures that do not depend on the machine's speed (allocations and bytes copied per message,
 * header bytes, writes per message, garbage collections per GB), and two short macro
 * scenarios against the built-in server (fan-out to players, fan-in from publishers). Writes
 * one JSON file with the figures, the Node version, the CPU model and the commit.
 *
 *   npm run bench [-- --quick] [-- --suite micro|macro|all] [-- --out FILE] [-- --json]
 *
 * `npm run regress` (bench/regress.ts) runs this file in fresh processes, for the current tree and a baseline,
 * interleaved, and compares the figures.
 */
import { Bench } from 'tinybench';
import { BufferPool } from '../src/buffers/buffer-pool.js';
import { Player } from '../src/client/player.js';
import { Publisher } from '../src/client/publisher.js';
import { parseRtmpUrl } from '../src/client/url.js';
import { SyntheticSource } from '../src/media/synthetic.js';
import { monotonicUs } from '../src/media/timing-mark.js';
import { resolveServerConfig } from '../src/server/config.js';
import { RtmpServer } from '../src/server/server.js';
import { resolveScenario, type ScenarioInput } from '../src/load/scenario.js';
import { runScenario } from '../src/load/orchestrator.js';
import type { RunSummary } from '../src/results/summary.js';
import type { BufferAllocator } from '../src/protocol/allocator.js';
import { ChunkReader } from '../src/protocol/chunk-reader.js';
import { encodeMessage, encodeMessageContiguous } from '../src/protocol/chunk-writer.js';
import { connectCommand, parseCommand } from '../src/protocol/commands.js';
import { MSG_AUDIO, MSG_VIDEO } from '../src/protocol/constants.js';
import type { Figure, FiguresRun } from './lib/regress.js';
import { argValue, environment, formatTable, writeResult } from './lib/env.js';
import { socketReads, syntheticPublishStream } from './lib/fixtures.js';

const quick = process.argv.includes('--quick');
const asJson = process.argv.includes('--json');
const suite = argValue('suite') ?? 'all';
if (suite !== 'all' && suite !== 'micro' && suite !== 'macro') {
  console.error(`figures: --suite "${suite}" is not micro, macro or all`);
  process.exit(2);
}
const figures: Figure[] = [];
const add = (f: Figure) => figures.push(f);

/** An allocator that counts what the chunk reader asks of it (reassembly buffers). */
class CountingAllocator implements BufferAllocator {
  allocations = 0;
  bytes = 0;
  private readonly pool = new BufferPool();
  acquire(size: number): Buffer {
    this.allocations++;
    this.bytes += size;
    return this.pool.acquire(size);
  }
  release(buf: Buffer): void {
    this.pool.release(buf);
  }
}

/**
 * A deliberately slowed build, for checking that a regression is caught (`npm run regress`):
 * with RTMPBENCH_INJECT_COPIES=N in the environment every decoded message is copied N extra
 * times through the allocator: more bytes copied and buffers acquired per message (figures
 * that do not depend on the machine) and more time per message. Unset in normal use.
 */
const INJECTED_COPIES = (() => {
  const n = Number(process.env.RTMPBENCH_INJECT_COPIES ?? 0);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 16) : 0;
})();

function injectCopies(allocator: BufferAllocator, payload: Buffer): void {
  for (let i = 0; i < INJECTED_COPIES; i++) {
    const copy = allocator.acquire(payload.length);
    payload.copy(copy);
    allocator.release(copy);
  }
}

function decode(reads: Buffer[], allocator: BufferAllocator): number {
  let media = 0;
  const reader = new ChunkReader(
    {
      onMessage(m) {
        if (INJECTED_COPIES > 0) injectCopies(allocator, m.payload);
        if (m.typeId === MSG_VIDEO || m.typeId === MSG_AUDIO) media++;
        if (m.pooled) allocator.release(m.payload);
      },
      onError(e) {
        throw e;
      },
    },
    { allocator, maxMessageBytes: 16 * 1024 * 1024 },
  );
  for (const r of reads) reader.push(r);
  return media;
}

async function micro(): Promise<void> {
  const seconds = quick ? 4 : 10;
  const time = quick ? 300 : 1000;
  const streams = [128, 4096].map((chunkSize) => {
    const bytes = syntheticPublishStream({ chunkSize, seconds, keyframeBytes: 60_000 });
    return { chunkSize, bytes, reads: socketReads(bytes, 65_536) };
  });
  // Exact: what decoding costs in copies and allocations, per media message.
  for (const s of streams) {
    const counting = new CountingAllocator();
    const media = decode(s.reads, counting);
    add({
      name: `codec.decode.chunk${s.chunkSize}.copiedBytesPerMessage`,
      value: round(counting.bytes / media),
      unit: 'B',
      better: 'lower',
      machineIndependent: true,
      description: `bytes copied into reassembly buffers per media message (chunk size ${s.chunkSize}, 64 KB reads)`,
    });
    add({
      name: `codec.decode.chunk${s.chunkSize}.allocationsPerMessage`,
      value: round(counting.allocations / media, 4),
      unit: '',
      better: 'lower',
      machineIndependent: true,
      description: `reassembly buffers acquired per media message (chunk size ${s.chunkSize})`,
    });
  }
  const keyframe = Buffer.alloc(60_000, 7);
  keyframe[0] = 0x17;
  const encoded = encodeMessage({ csid: 6, typeId: MSG_VIDEO, streamId: 1, timestamp: 1000, payload: keyframe }, 4096);
  add({
    name: 'codec.encode.chunk4096.headerBytesPer60kFrame',
    value: encoded.headerBytes,
    unit: 'B',
    better: 'lower',
    machineIndependent: true,
    description: 'chunk header bytes of a 60 KB video message at chunk size 4096',
  });

  // Timings, side by side in one process; a Buffer.copy of the same bytes is the reference.
  const pool = new BufferPool();
  const s4096 = streams[1]!;
  const s128 = streams[0]!;
  const sink = Buffer.allocUnsafe(65_536);
  const connect = connectCommand({ app: 'live', tcUrl: 'rtmp://127.0.0.1/live', flashVer: 'FMLE/3.0' }).payload;
  const bench = new Bench({ time, warmupTime: time / 4 });
  bench
    .add('copy', () => {
      for (const r of s4096.reads) r.copy(sink);
    })
    .add('decode4096', () => decode(s4096.reads, pool))
    .add('decode128', () => decode(s128.reads, pool))
    .add('encode', () => {
      const buf = encodeMessageContiguous(
        { csid: 6, typeId: MSG_VIDEO, streamId: 1, timestamp: 1000, payload: keyframe },
        4096,
        pool,
      );
      pool.release(buf);
    })
    .add('amf0', () => parseCommand(connect));
  await bench.run();
  const mean = (n: string): number => {
    const r = bench.tasks.find((t) => t.name === n)!.result;
    if (r.state !== 'completed') throw new Error(`${n}: ${r.state}`);
    return r.latency.mean; // ms per iteration
  };
  const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);
  const copyMBps = mbps(s4096.bytes.length, mean('copy'));
  const d4096 = mbps(s4096.bytes.length, mean('decode4096'));
  const d128 = mbps(s128.bytes.length, mean('decode128'));
  add({
    name: 'codec.decode.chunk4096.MBps',
    value: round(d4096, 1),
    unit: 'MB/s',
    better: 'higher',
    machineIndependent: false,
    description: 'decoding a synthetic publish stream (chunk size 4096)',
  });
  add({
    name: 'codec.decode.chunk128.MBps',
    value: round(d128, 1),
    unit: 'MB/s',
    better: 'higher',
    machineIndependent: false,
    description: 'decoding a synthetic publish stream (chunk size 128)',
  });
  add({
    name: 'codec.decode.chunk4096.vsCopy',
    value: round(d4096 / copyMBps, 4),
    unit: '×',
    better: 'higher',
    machineIndependent: false,
    description:
      'decode speed as a ratio to Buffer.copy of the same bytes, measured in the same run (less machine-bound than MB/s, still a timing)',
  });
  add({
    name: 'codec.encode.keyframe60k.us',
    value: round(mean('encode') * 1000, 3),
    unit: 'µs',
    better: 'lower',
    machineIndependent: false,
    description: 'encoding a 60 KB video message into one pooled wire buffer (chunk size 4096)',
  });
  add({
    name: 'amf0.connect.decode.us',
    value: round(mean('amf0') * 1000, 3),
    unit: 'µs',
    better: 'lower',
    machineIndependent: false,
    description: 'decoding an FMLE connect command',
  });
}

/**
 * Write calls per message on the server's fan-out path, exactly: the server in this process,
 * 20 players, and a publisher that writes 100 ms of media at a time. The server cannot read
 * before the burst is written (one thread), so each burst arrives in one read, whatever the
 * machine: 1 write per message per player without batched reads, 1 per burst with them.
 */
async function serverWrites(): Promise<void> {
  // No pings (nor lag probes): a ping falling inside the bursts on a slow machine would add a message and a write.
  const server = new RtmpServer(resolveServerConfig({ port: 0, logLevel: 'error', pingIntervalMs: 0, maxLagMs: 0 }));
  const { port } = await server.listen();
  try {
    const url = parseRtmpUrl(`rtmp://127.0.0.1:${port}/live`);
    let frames = 0;
    const players = await Promise.all(
      Array.from({ length: 20 }, () => Player.open({ url, streamName: 'w', onVideo: () => frames++ })),
    );
    const publisher = await Publisher.open({
      url,
      streamName: 'w',
      source: new SyntheticSource({ videoBitrate: 600_000, fps: 30, gopSeconds: 1 }),
    });
    const before = { ...server.getStats().io };
    const startUs = monotonicUs();
    publisher.start(startUs);
    for (let i = 1; i <= 20; i++) {
      publisher.pump(startUs + i * 100_000 - 1);
      await new Promise((r) => setTimeout(r, 20));
    }
    const deadline = Date.now() + 10_000;
    while (frames < 20 * 60 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (frames !== 20 * 60) throw new Error(`server writes: players got ${frames} of ${20 * 60} frames`);
    const io = server.getStats().io;
    add({
      name: 'server.burst.writesPerMessage',
      value: round((io.writes - before.writes) / (io.messages - before.messages), 4),
      unit: '',
      better: 'lower',
      machineIndependent: true,
      description:
        'write calls per message to 20 in-process players when each read of the publisher brings 100 ms of media (exact)',
    });
    publisher.stop();
    for (const p of players) p.close();
  } finally {
    await server.close(200);
  }
}

/**
 * The fan-out path at steady state, exactly: the server in this process, 20 players, and a
 * publisher writing 100 ms of media at a time (one read each, as above). After a warm-up of two
 * GOPs (the buffer pool then holds every size the stream needs), 20 more bursts: the bytes the
 * server writes into buffers it acquires (each message's wire form, each read's batch; the chunk
 * headers are a few bytes of it, the rest is copied payload), and the pool's acquires and misses
 * (buffers it had to allocate), per message published. Lag probes are off: their pings come on
 * a timer, and a timer falling inside the bursts would change the counts.
 */
async function fanoutSteadyState(): Promise<void> {
  const server = new RtmpServer(resolveServerConfig({ port: 0, logLevel: 'error', pingIntervalMs: 0, maxLagMs: 0 }));
  const { port } = await server.listen();
  const pool = server.pool;
  let acquiredBytes = 0;
  const acquire = pool.acquire.bind(pool);
  pool.acquire = (size: number) => {
    acquiredBytes += size;
    return acquire(size);
  };
  try {
    const url = parseRtmpUrl(`rtmp://127.0.0.1:${port}/live`);
    let frames = 0;
    const players = await Promise.all(
      Array.from({ length: 20 }, () => Player.open({ url, streamName: 's', onVideo: () => frames++ })),
    );
    const publisher = await Publisher.open({
      url,
      streamName: 's',
      source: new SyntheticSource({ videoBitrate: 600_000, fps: 30, gopSeconds: 1 }),
    });
    const startUs = monotonicUs();
    publisher.start(startUs);
    const bursts = async (from: number, to: number) => {
      for (let i = from; i <= to; i++) {
        publisher.pump(startUs + i * 100_000 - 1);
        await new Promise((r) => setTimeout(r, 20));
      }
      const deadline = Date.now() + 10_000;
      while (frames < 20 * to * 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      if (frames !== 20 * to * 3)
        throw new Error(`fan-out steady state: players got ${frames} of ${20 * to * 3} frames`);
    };
    await bursts(1, 20);
    const before = { bytes: acquiredBytes, pool: pool.stats(), messages: server.getStats().streams[0]!.messagesIn };
    await bursts(21, 40);
    const after = pool.stats();
    const messages = server.getStats().streams[0]!.messagesIn - before.messages;
    const acquires = after.hits + after.misses - (before.pool.hits + before.pool.misses);
    add({
      name: 'server.fanout.copiedBytesPerMessage',
      value: round((acquiredBytes - before.bytes) / messages, 2),
      unit: 'B',
      better: 'lower',
      machineIndependent: true,
      description:
        'bytes the server writes into buffers it acquires per published message at steady state: wire form and batch (20 in-process players, 100 ms bursts; exact)',
    });
    add({
      name: 'server.fanout.poolAcquiresPerMessage',
      value: round(acquires / messages, 4),
      unit: '',
      better: 'lower',
      machineIndependent: true,
      description: 'buffer-pool acquires per published message at steady state (exact)',
    });
    add({
      name: 'server.fanout.poolMissesPerMessage',
      value: round((after.misses - before.pool.misses) / messages, 4),
      unit: '',
      better: 'lower',
      machineIndependent: true,
      description:
        'buffer-pool acquires that had to allocate, per published message at steady state (exact; 0 when buffers go back before the next burst)',
    });
    publisher.stop();
    for (const p of players) p.close();
  } finally {
    await server.close(200);
  }
}

/**
 * What the RTMP path costs with the HTTP outputs on and no HTTP viewer: the server in this
 * process, 20 RTMP players and a publisher writing 100 ms of media at a time (each burst in one
 * read, as above), once without an HTTP port and once with one. Buffers the server acquires
 * (message encodings, batches, reassembly; HLS segment memory) and their bytes, per message published, exactly;
 * the extra with HTTP on must be 0: a stream feeds its HTTP outputs only while one is in use.
 */
async function rtmpPathWithHttpIdle(): Promise<void> {
  const measure = async (httpPort: number | undefined) => {
    const server = new RtmpServer(
      resolveServerConfig({
        port: 0,
        logLevel: 'error',
        pingIntervalMs: 0,
        maxLagMs: 0,
        ...(httpPort === undefined ? {} : { httpPort }),
      }),
    );
    const { port } = await server.listen();
    const pool = server.pool;
    const counted = { acquires: 0, bytes: 0 };
    const acquire = pool.acquire.bind(pool);
    pool.acquire = (size: number) => {
      counted.acquires++;
      counted.bytes += size;
      return acquire(size);
    };
    try {
      const url = parseRtmpUrl(`rtmp://127.0.0.1:${port}/live`);
      let frames = 0;
      const players = await Promise.all(
        Array.from({ length: 20 }, () => Player.open({ url, streamName: 'h', onVideo: () => frames++ })),
      );
      const publisher = await Publisher.open({
        url,
        streamName: 'h',
        source: new SyntheticSource({ videoBitrate: 600_000, fps: 30, gopSeconds: 1 }),
      });
      const startUs = monotonicUs();
      publisher.start(startUs);
      await new Promise((r) => setTimeout(r, 50));
      const before = { ...counted, messages: server.getStats().streams[0]!.messagesIn };
      for (let i = 1; i <= 20; i++) {
        publisher.pump(startUs + i * 100_000 - 1);
        await new Promise((r) => setTimeout(r, 20));
      }
      const deadline = Date.now() + 10_000;
      while (frames < 20 * 60 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      if (frames !== 20 * 60) throw new Error(`RTMP path with HTTP idle: players got ${frames} of ${20 * 60} frames`);
      const stats = server.getStats();
      const messages = stats.streams[0]!.messagesIn - before.messages;
      // HLS segments live outside the pool: their memory counts as acquired too.
      const segmentBytes = stats.http?.hls.bytes ?? 0;
      publisher.stop();
      for (const p of players) p.close();
      return {
        acquires: (counted.acquires - before.acquires) / messages,
        bytes: (counted.bytes - before.bytes + segmentBytes) / messages,
      };
    } finally {
      await server.close(200);
    }
  };
  const off = await measure(undefined);
  const on = await measure(0);
  add({
    name: 'server.rtmpPath.acquiresPerMessage',
    value: round(off.acquires, 4),
    unit: '',
    better: 'lower',
    machineIndependent: true,
    description:
      'pooled buffers the server acquires per published message, 20 in-process players, 100 ms bursts (exact)',
  });
  add({
    name: 'server.rtmpPath.httpIdle.extraAcquiresPerMessage',
    value: round(on.acquires - off.acquires, 4),
    unit: '',
    better: 'lower',
    machineIndependent: true,
    description: 'the same with the HTTP outputs on and no HTTP viewer, less without them (must be 0)',
  });
  add({
    name: 'server.rtmpPath.httpIdle.extraAcquiredBytesPerMessage',
    value: round(on.bytes - off.bytes, 2),
    unit: 'B',
    better: 'lower',
    machineIndependent: true,
    description:
      'bytes of those buffers (and of HLS segments) per message with the HTTP outputs on and no HTTP viewer, less without them (must be 0)',
  });
}

async function macro(): Promise<void> {
  const durationS = quick ? 8 : 15;
  const run = async (input: ScenarioInput): Promise<RunSummary> => {
    const r = resolveScenario({ duration: durationS, ramp: 2, warmup: 2, ...input });
    if (r.scenario === null) throw new Error(r.problems.join('; '));
    return (await runScenario({ scenario: r.scenario, outDir: argValue('results') ?? '/tmp/rtmpbench-figures' }))
      .summary;
  };
  // Fan-out: one 600 kbps stream to many players.
  const out = await run({ name: 'figures-fanout', streams: 1, players: { perStream: quick ? 150 : 300 } });
  const pm = out.sessions.playerMinutes / 1000;
  add({
    name: 'macro.fanout.serverCpuPer1000PlayerMin',
    value: round(out.server!.cpuSeconds / pm, 2),
    unit: 'CPU-s',
    better: 'lower',
    machineIndependent: false,
    description: 'server CPU per 1000 player-minutes, one 600 kbps stream',
  });
  add({
    name: 'macro.fanout.generatorCpuPer1000PlayerMin',
    value: round(out.generator.cpuSeconds / pm, 2),
    unit: 'CPU-s',
    better: 'lower',
    machineIndependent: false,
    description: 'generator CPU per 1000 player-minutes',
  });
  add({
    name: 'macro.fanout.endToEndP99Ms',
    value: out.latencyMs.endToEnd.p99,
    unit: 'ms',
    better: 'lower',
    machineIndependent: false,
    description: 'end-to-end latency p99',
  });
  add({
    name: 'macro.fanout.framesLost',
    value: out.frames.lost,
    unit: '',
    better: 'lower',
    machineIndependent: true,
    description: 'frames lost by players (must stay 0)',
  });
  if (out.server?.io)
    add({
      name: 'macro.fanout.serverWritesPerMessage',
      value: round(out.server.io.writes / out.server.io.messages, 4),
      unit: '',
      better: 'lower',
      machineIndependent: false,
      description:
        'write calls per message the server hands to sockets (1 when every message is its own write; below 1 when reads bring several messages, which depends on timing)',
    });
  // Fan-in: publishers at a high bit rate, one player each.
  const inn = await run({
    name: 'figures-fanin',
    streams: quick ? 8 : 16,
    publishers: { videoBitrate: '2.5m', audioBitrate: '128k' },
    players: { perStream: 1 },
  });
  const ingestGB = inn.throughput.bytesSent / 1e9;
  add({
    name: 'macro.fanin.serverCpuPerGbIngested',
    value: round(inn.server!.cpuSeconds / ingestGB, 2),
    unit: 'CPU-s/GB',
    better: 'lower',
    machineIndependent: false,
    description: 'server CPU per GB received from publishers (2.5 Mbps streams, one player each)',
  });
  add({
    name: 'macro.fanin.publisherPacingP99Ms',
    value: inn.latencyMs.pacing.p99,
    unit: 'ms',
    better: 'lower',
    machineIndependent: false,
    description: 'publisher pacing error p99',
  });
  if (inn.server?.io?.bytesIn)
    add({
      name: 'macro.fanin.serverReadAllocatedBytesPerByte',
      value: round((inn.server.io.readAllocatedBytes ?? 0) / inn.server.io.bytesIn, 4),
      unit: '',
      better: 'lower',
      machineIndependent: true,
      description: 'bytes the server read into buffers allocated for the read, per byte received (0 with shared reads)',
    });
  if (inn.server?.gc) {
    add({
      name: 'macro.fanin.serverMajorGcPerGB',
      value: round(inn.server.gc.major / ingestGB, 2),
      unit: '/GB',
      better: 'lower',
      machineIndependent: false,
      description: 'major garbage collections of the server per GB ingested (few per run: coarse)',
    });
    add({
      name: 'macro.fanin.serverGcMsPerGB',
      value: round(inn.server.gc.ms / ingestGB, 1),
      unit: 'ms/GB',
      better: 'lower',
      machineIndependent: false,
      description: 'time the server spent in garbage collection per GB ingested',
    });
  }
}

function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

if (suite !== 'macro') {
  await micro();
  await serverWrites();
  await fanoutSteadyState();
  await rtmpPathWithHttpIdle();
}
if (suite !== 'micro') await macro();
const result: FiguresRun = { schemaVersion: 1, kind: 'rtmpbench-figures', env: environment(), quick, suite, figures };
if (asJson) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  console.log(
    formatTable(
      figures.map((f) => ({
        figure: f.name,
        value: f.value,
        unit: f.unit,
        better: f.better,
        'machine-independent': f.machineIndependent ? 'yes' : '',
      })),
    ),
  );
  console.log(`\nwritten to ${writeResult('figures', result, argValue('out'))}`);
}
