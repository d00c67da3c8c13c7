/**
 * Codec micro benchmark: decoding real and synthetic publish byte streams with this codec,
 * with node-media-server's parser (its src/protocol/rtmp.js driven directly), and a
 * Buffer.copy reference over the same bytes; plus the cost of encode-once fan-out.
 *
 * Every figure is measured side by side in one process. Tasks run in several rounds with the
 * order rotated each round, and each ratio is computed per round; the report gives the median
 * and the spread (min..max) across rounds.
 *
 *   npm run bench:codec [-- --rounds 5 --time 400 --out FILE]
 */
import { createRequire } from 'node:module';
import { Bench } from 'tinybench';
import { BufferPool } from '../src/buffers/buffer-pool.js';
import { median } from '../src/metrics/stats.js';
import { ChunkReader } from '../src/protocol/chunk-reader.js';
import { encodeMessage, type EncodedMessage } from '../src/protocol/chunk-writer.js';
import { MSG_AUDIO, MSG_DATA_AMF0, MSG_VIDEO } from '../src/protocol/constants.js';
import { classifyAudio, classifyVideo, newAudioTagInfo, newVideoTagInfo } from '../src/protocol/media-tags.js';
import { argValue, environment, formatTable, writeResult } from './lib/env.js';
import { recordFfmpegPublish, socketReads, syntheticPublishStream } from './lib/fixtures.js';

const require = createRequire(import.meta.url);

interface NmsRtmp {
  handshakeState: number;
  onPacketCallback: (p: unknown) => void;
  onOutputCallback: (b: Buffer) => void;
  onConnectCallback: (r: unknown) => void;
  onPushCallback: () => void;
  onPlayCallback: () => void;
  parserData(b: Buffer): string | null;
}
type NmsRtmpClass = new () => NmsRtmp;

/** node-media-server's RTMP parser, or null when the package is not installed. */
function loadNms(): NmsRtmpClass | null {
  try {
    return require('node-media-server/src/protocol/rtmp.js') as NmsRtmpClass;
  } catch {
    return null;
  }
}

const NMS_HANDSHAKE_DONE = 3; // RTMP_HANDSHAKE_2 in node-media-server: start reading chunks.
const noop = (): void => {};

const pool = new BufferPool();
const videoInfo = newVideoTagInfo();
const audioInfo = newAudioTagInfo();

/** Decodes every read with our ChunkReader; returns the number of media/data messages. */
function decodeOurs(reads: Buffer[], classify: boolean): number {
  let media = 0;
  const reader = new ChunkReader(
    {
      onMessage(m) {
        const t = m.typeId;
        if (t === MSG_VIDEO) {
          media++;
          if (classify) classifyVideo(m.payload, videoInfo);
        } else if (t === MSG_AUDIO) {
          media++;
          if (classify) classifyAudio(m.payload, audioInfo);
        } else if (t === MSG_DATA_AMF0) {
          media++;
        }
        if (m.pooled) pool.release(m.payload);
      },
      onError(e) {
        throw e;
      },
    },
    { allocator: pool, maxMessageBytes: 16 * 1024 * 1024 },
  );
  for (const r of reads) reader.push(r);
  return media;
}

function decodeNms(Nms: NmsRtmpClass, reads: Buffer[]): number {
  let media = 0;
  const rtmp = new Nms();
  rtmp.handshakeState = NMS_HANDSHAKE_DONE;
  rtmp.onPacketCallback = () => {
    media++;
  };
  rtmp.onOutputCallback = noop;
  rtmp.onConnectCallback = noop;
  rtmp.onPushCallback = noop;
  rtmp.onPlayCallback = noop;
  for (const r of reads) rtmp.parserData(r);
  return media;
}

function copyReference(reads: Buffer[], target: Buffer): number {
  let o = 0;
  for (const r of reads) o += r.copy(target, o);
  return o;
}

interface Input {
  name: string;
  reads: Buffer[];
  bytes: number;
}

interface DecodeRow {
  input: string;
  task: string;
  mbPerSec: { median: number; min: number; max: number };
  ratioToNms: { median: number; min: number; max: number } | null;
  ratioToCopy: { median: number; min: number; max: number };
}

function spread(xs: number[]): { median: number; min: number; max: number } {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

async function benchDecode(
  inputs: Input[],
  Nms: NmsRtmpClass | null,
  rounds: number,
  timeMs: number,
): Promise<DecodeRow[]> {
  const rows: DecodeRow[] = [];
  for (const input of inputs) {
    // Equal work: both parsers must find the same media messages.
    const ours = decodeOurs(input.reads, true);
    if (Nms) {
      const theirs = decodeNms(Nms, input.reads);
      if (theirs !== ours)
        throw new Error(`${input.name}: node-media-server saw ${theirs} media messages, rtmpbench ${ours}`);
    }
    const target = Buffer.allocUnsafe(input.bytes);
    const tasks: [string, () => void][] = [
      ['rtmpbench ChunkReader', () => void decodeOurs(input.reads, false)],
      ['rtmpbench ChunkReader + classify', () => void decodeOurs(input.reads, true)],
      ['Buffer.copy reference', () => void copyReference(input.reads, target)],
    ];
    if (Nms) tasks.push(['node-media-server parser', () => void decodeNms(Nms, input.reads)]);
    const perRound = new Map<string, number[]>(tasks.map(([n]) => [n, []]));
    for (let round = 0; round < rounds; round++) {
      const bench = new Bench({ time: timeMs, warmupTime: 100, throws: true });
      // Rotate the order so no task always runs first (or last) in a round.
      for (let i = 0; i < tasks.length; i++) {
        const [name, fn] = tasks[(i + round) % tasks.length]!;
        bench.add(name, fn);
      }
      await bench.run();
      for (const task of bench.tasks) {
        const r = task.result;
        if (r.state !== 'completed') throw new Error(`${task.name}: ${r.state}`);
        perRound.get(task.name)!.push(input.bytes / 1e6 / (r.latency.mean / 1000));
      }
    }
    const nms = perRound.get('node-media-server parser');
    const copy = perRound.get('Buffer.copy reference')!;
    for (const [name] of tasks) {
      const mbps = perRound.get(name)!;
      rows.push({
        input: input.name,
        task: name,
        mbPerSec: spread(mbps),
        ratioToNms: nms ? spread(mbps.map((v, i) => v / nms[i]!)) : null,
        ratioToCopy: spread(mbps.map((v, i) => v / copy[i]!)),
      });
    }
  }
  return rows;
}

interface FanoutResult {
  players: number;
  messageBytes: number;
  chunkSize: number;
  encodeOnceArrayBufferBytes: number;
  encodeOncePerExtraPlayerBytes: number;
  encodePerPlayerArrayBufferBytes: number;
  encodePerPlayerPerExtraPlayerBytes: number;
}

function arrayBufferBytes(): number {
  global.gc?.();
  global.gc?.();
  return process.memoryUsage().arrayBuffers;
}

/**
 * Fan-out allocation: a 150 KB keyframe queued for N players, encoded once and shared,
 * versus encoded once per player. Measured as growth of ArrayBuffer memory (run with
 * --expose-gc for exact figures).
 */
function benchFanout(players: number): FanoutResult {
  const payload = Buffer.alloc(150_000, 7);
  const msg = { csid: 5, typeId: MSG_VIDEO, streamId: 1, timestamp: 1000, payload };
  const chunkSize = 4096;
  const measure = (n: number, once: boolean): number => {
    const queues: EncodedMessage[][] = Array.from({ length: n }, () => []);
    const before = arrayBufferBytes();
    const shared = once ? encodeMessage(msg, chunkSize) : null;
    for (const q of queues) q.push(shared ?? encodeMessage({ ...msg, payload: Buffer.from(payload) }, chunkSize));
    const after = arrayBufferBytes();
    if (queues.length !== n) throw new Error('unreachable');
    return after - before;
  };
  const once1 = measure(1, true);
  const onceN = measure(players, true);
  const per1 = measure(1, false);
  const perN = measure(players, false);
  return {
    players,
    messageBytes: payload.length,
    chunkSize,
    encodeOnceArrayBufferBytes: onceN,
    encodeOncePerExtraPlayerBytes: Math.max(0, (onceN - once1) / (players - 1)),
    encodePerPlayerArrayBufferBytes: perN,
    encodePerPlayerPerExtraPlayerBytes: (perN - per1) / (players - 1),
  };
}

async function main(): Promise<void> {
  const rounds = Number(argValue('rounds') ?? 5);
  const timeMs = Number(argValue('time') ?? 400);
  const Nms = loadNms();
  if (!global.gc) console.warn('run with node --expose-gc for exact fan-out memory figures');
  if (!Nms) console.warn('node-media-server is not installed: its column is left out (npm install to include it)');

  const inputs: Input[] = [];
  try {
    const rec = await recordFfmpegPublish({ seconds: 10, videoKbps: 2500, size: '1280x720', fps: 30 });
    inputs.push({
      name: `ffmpeg publish 2.5 Mbps (${(rec.bytes.length / 1e6).toFixed(1)} MB)`,
      reads: socketReads(rec.bytes, 65536),
      bytes: rec.bytes.length,
    });
  } catch (e) {
    console.warn(`skipping the ffmpeg recording (${(e as Error).message}); install ffmpeg to include it`);
  }
  for (const chunkSize of [128, 4096, 65536]) {
    const bytes = syntheticPublishStream({ chunkSize, seconds: 4, keyframeBytes: 150_000 });
    inputs.push({
      name: `synthetic 150 KB keyframes, chunk ${chunkSize}`,
      reads: socketReads(bytes, 65536),
      bytes: bytes.length,
    });
  }

  // Fan-out first: it reads process memory, which the decode rounds would leave in flux.
  const fanout = benchFanout(1000);
  const decode = await benchDecode(inputs, Nms, rounds, timeMs);
  const env = environment();
  const result = { bench: 'codec', env, rounds, timeMsPerTask: timeMs, readSize: 65536, decode, fanout };
  const path = writeResult('codec', result, argValue('out'));

  const fmt = (s: { median: number; min: number; max: number }, digits: number) =>
    `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}..${s.max.toFixed(digits)})`;
  console.log(
    `codec decode: median MB/s and ratios over ${rounds} rounds (min..max), ${env.cpuModel}, Node ${env.node}\n`,
  );
  console.log(
    formatTable(
      decode.map((r) => ({
        input: r.input,
        task: r.task,
        'MB/s': fmt(r.mbPerSec, 0),
        'x node-media-server': r.ratioToNms ? fmt(r.ratioToNms, 2) : '-',
        'x Buffer.copy': fmt(r.ratioToCopy, 2),
      })),
    ),
  );
  console.log(
    `\nfan-out of a ${fanout.messageBytes / 1000} KB keyframe to ${fanout.players} players at chunk size ${fanout.chunkSize}: ` +
      `encode once = ${fanout.encodeOncePerExtraPlayerBytes.toFixed(0)} payload bytes per extra player ` +
      `(encode per player = ${fanout.encodePerPlayerPerExtraPlayerBytes.toFixed(0)})`,
  );
  console.log(`\nwritten to ${path}`);
}

await main();
