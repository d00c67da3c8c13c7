import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChunkWriter, flattenEncoded } from '../../src/protocol/chunk-writer.js';
import { connectCommand, publishCommand, setDataFrameMessage } from '../../src/protocol/commands.js';
import { CSID_AUDIO, CSID_VIDEO, MSG_AUDIO, MSG_VIDEO } from '../../src/protocol/constants.js';
import { setChunkSizeMessage } from '../../src/protocol/control.js';
import { ROOT } from './env.js';
import { MiniServer } from './mini-server.js';
import { run, testSourceArgs } from './proc.js';

const FIXTURES = join(ROOT, 'bench', '.fixtures');

export interface FfmpegRecording {
  /** The chunk stream ffmpeg sent after the handshake. */
  bytes: Buffer;
  seconds: number;
  videoKbps: number;
}

/**
 * Records the bytes ffmpeg sends when it publishes H.264/AAC at `videoKbps` (a noisy test
 * pattern, so the encoder really uses that bitrate) to a loopback server built from the
 * codec. Cached under bench/.fixtures (same parameters, same file).
 */
export async function recordFfmpegPublish(opts: {
  seconds: number;
  videoKbps: number;
  size: string;
  fps: number;
}): Promise<FfmpegRecording> {
  const file = join(
    FIXTURES,
    `ffmpeg-publish-noisy-${opts.videoKbps}k-${opts.size}-${opts.fps}fps-${opts.seconds}s.bin`,
  );
  if (existsSync(file)) return { bytes: readFileSync(file), seconds: opts.seconds, videoKbps: opts.videoKbps };
  const server = new MiniServer();
  const port = await server.listen();
  const sessionP = server.nextSession();
  const result = await run(
    'ffmpeg',
    [
      ...testSourceArgs({
        seconds: opts.seconds,
        fps: opts.fps,
        size: opts.size,
        gopSeconds: 2,
        videoKbps: opts.videoKbps,
        noisy: true,
      }),
      '-f',
      'flv',
      `rtmp://127.0.0.1:${port}/live/bench`,
    ],
    300_000,
  );
  const session = await sessionP;
  await session.closed;
  await server.close();
  if (result.code !== 0 || session.errors.length > 0) {
    throw new Error(
      `recording ffmpeg's publish failed: ${result.stderr} ${session.errors.map((e) => e.message).join('; ')}`,
    );
  }
  const bytes = Buffer.concat(session.chunkStream);
  mkdirSync(FIXTURES, { recursive: true });
  writeFileSync(file, bytes);
  return { bytes, seconds: opts.seconds, videoKbps: opts.videoKbps };
}

/** Deterministic filler so payload bytes are not all equal. */
function filler(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/**
 * A publish chunk stream as a client would send it: connect, publish, metadata, then video
 * at `fps` with a `keyframeBytes` keyframe every `gopSeconds` and P-frames a tenth of that,
 * and 200-byte AAC frames at 44.1 kHz / 1024, at the given outgoing chunk size (announced by
 * Set Chunk Size), with compressed headers (fmt 1/2/3) like ffmpeg.
 */
export function syntheticPublishStream(opts: {
  chunkSize: number;
  seconds: number;
  keyframeBytes: number;
  fps?: number;
  gopSeconds?: number;
}): Buffer {
  const fps = opts.fps ?? 30;
  const gop = Math.round(fps * (opts.gopSeconds ?? 2));
  const pframeBytes = Math.round(opts.keyframeBytes / 10);
  const keyframe = Buffer.concat([Buffer.from([0x17, 0x01, 0, 0, 0]), filler(opts.keyframeBytes - 5, 1)]);
  const pframes = [2, 3, 4, 5].map((seed) =>
    Buffer.concat([Buffer.from([0x27, 0x01, 0, 0, 0]), filler(pframeBytes - 5, seed)]),
  );
  const audio = Buffer.concat([Buffer.from([0xaf, 0x01]), filler(198, 9)]);
  const w = new ChunkWriter({ compressHeaders: true });
  const parts: Buffer[] = [];
  const put = (m: Parameters<ChunkWriter['encode']>[0]) => parts.push(flattenEncoded(w.encode(m)));
  put(setChunkSizeMessage(opts.chunkSize));
  w.setChunkSize(opts.chunkSize);
  put(connectCommand({ app: 'live', tcUrl: 'rtmp://127.0.0.1/live' }));
  put(publishCommand(4, 1, 'bench'));
  put(setDataFrameMessage(1, { width: 1920, height: 1080, framerate: fps, videocodecid: 7, audiocodecid: 10 }));
  const audioIntervalMs = 1024 / 44.1;
  let nextAudio = 0;
  const frames = Math.round(opts.seconds * fps);
  for (let f = 0; f < frames; f++) {
    const ts = Math.round((f * 1000) / fps);
    while (nextAudio <= ts) {
      put({ csid: CSID_AUDIO, typeId: MSG_AUDIO, streamId: 1, timestamp: Math.round(nextAudio), payload: audio });
      nextAudio += audioIntervalMs;
    }
    const payload = f % gop === 0 ? keyframe : pframes[f % pframes.length]!;
    put({ csid: CSID_VIDEO, typeId: MSG_VIDEO, streamId: 1, timestamp: ts, payload });
  }
  return Buffer.concat(parts);
}

/** Cuts a byte stream into the pieces a socket would deliver (copies, like real reads). */
export function socketReads(bytes: Buffer, readSize: number): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < bytes.length; o += readSize) out.push(Buffer.from(bytes.subarray(o, o + readSize)));
  return out;
}
