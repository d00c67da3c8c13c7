import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseFlv } from '../../src/media/flv-file.js';
import { parsePlaylist, type MediaPlaylist } from '../../src/media/m3u8.js';
import { hasTool, run, testSourceArgs, publishFile } from '../helpers/tools.js';
import { startServer, waitFor } from '../helpers/server.js';

/**
 * The built-in server's HTTP-FLV, WebSocket-FLV and HLS outputs against real decoders: ffmpeg
 * publishes a real H.264/AAC clip (made here by ffmpeg) in real time; ffmpeg records the
 * HTTP-FLV output and the HLS playlist, ffprobe checks every TS segment and the playlist, and
 * each output must decode without an error with every one of the clip's frames.
 */

const ready = hasTool('ffmpeg') && hasTool('ffprobe', 'apt-get install ffmpeg');
const work = mkdtempSync(join(tmpdir(), 'rtmpbench-http-interop-'));
const clip = join(work, 'clip.flv');
const FPS = 25;
const SECONDS = 6;
const FRAMES = FPS * SECONDS;

beforeAll(async () => {
  if (!ready) return;
  const r = await run(
    'ffmpeg',
    [...testSourceArgs({ seconds: SECONDS, fps: FPS, gopSeconds: 2 }), '-f', 'flv', '-y', clip],
    60_000,
  );
  expect(r.code, r.stderr).toBe(0);
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function videoFrames(file: string): Promise<number> {
  const r = await run(
    'ffprobe',
    [
      '-v',
      'error',
      '-count_frames',
      '-select_streams',
      'v',
      '-show_entries',
      'stream=nb_read_frames',
      '-of',
      'csv=p=0',
      file,
    ],
    60_000,
  );
  // MPEG-TS files list the stream under their program too: the first line is the stream's.
  return Number(r.stdout.trim().split('\n')[0]);
}

/** ffmpeg's complaints while decoding every frame of `input` (empty when it decodes cleanly). */
async function decodeErrors(input: string): Promise<string> {
  const r = await run('ffmpeg', ['-v', 'error', '-i', input, '-f', 'null', '-'], 60_000);
  return r.code === 0 ? r.stderr : `exit ${r.code}: ${r.stderr}`;
}

describe.skipIf(!ready)('the built-in server over HTTP with ffmpeg and ffprobe', () => {
  it('serves HTTP-FLV, WebSocket-FLV and HLS of an ffmpeg publication that decode cleanly with every frame', async () => {
    // HLS from the publish on (not on demand), so its segments hold the publication from its first frame.
    const srv = await startServer({ httpPort: 0, hlsSegmentMs: 2000, hlsOnDemand: false });
    const http = `http://127.0.0.1:${srv.addresses.httpPort}`;
    const flvOut = join(work, 'http.flv');
    try {
      const publisher = publishFile(clip, `rtmp://127.0.0.1:${srv.port}/live/clip`);
      await waitFor(() => srv.server.getStats().publishers === 1, 10_000, 'the publisher');
      // Both join within the first GOP (2 s): the GOP cache starts them at the first frame.
      const reader = run(
        'ffmpeg',
        ['-hide_banner', '-loglevel', 'error', '-i', `${http}/live/clip.flv`, '-c', 'copy', '-f', 'flv', '-y', flvOut],
        60_000,
      );
      // A plain WebSocket client keeps the messages: joined, they are an FLV file.
      const wsChunks: Buffer[] = [];
      const ws = new WebSocket(`ws://127.0.0.1:${srv.addresses.httpPort}/live/clip.flv`, { perMessageDeflate: false });
      ws.on('message', (data: Buffer) => wsChunks.push(data));
      const wsEnded = new Promise<number>((r) => ws.once('close', (code) => r(code)));

      const pub = await publisher;
      expect(pub.code, pub.stderr).toBe(0);
      const got = await reader;
      expect(got.code, got.stderr).toBe(0);
      expect(await wsEnded).toBe(1000);

      // HTTP-FLV as ffmpeg recorded it, and WebSocket-FLV as our viewer received it.
      expect(await decodeErrors(flvOut)).toBe('');
      expect(await videoFrames(flvOut)).toBe(FRAMES);
      const wsFile = join(work, 'ws.flv');
      writeFileSync(wsFile, Buffer.concat(wsChunks));
      const wsTags = parseFlv(readFileSync(wsFile)).tags;
      expect(wsTags.filter((t) => t.typeId === 9 && t.payload[1] === 1).length).toBe(FRAMES); // AVC NAL units, not headers
      expect(await decodeErrors(wsFile)).toBe('');
      expect(await videoFrames(wsFile)).toBe(FRAMES);

      // HLS: the ended playlist lists the whole publication.
      const text = await (await fetch(`${http}/live/clip/index.m3u8`)).text();
      const playlist = parsePlaylist(text) as MediaPlaylist;
      expect(playlist.kind).toBe('media');
      expect(playlist.endList).toBe(true);
      expect(playlist.segments.length).toBe(3);
      expect(text.match(/#EXT-X-PROGRAM-DATE-TIME:/g)?.length).toBe(3);
      for (const s of playlist.segments) {
        expect(s.durationS).toBeCloseTo(2, 1);
        expect(s.durationS).toBeLessThanOrEqual(playlist.targetDurationS);
        const file = join(work, `seg${s.msn}.ts`);
        const res = await fetch(`${http}/live/clip/${s.uri}`);
        expect(res.headers.get('cache-control')).toContain('immutable');
        writeFileSync(file, Buffer.from(await res.arrayBuffer()));
        const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'json', file]);
        expect(probe.stderr).toBe('');
        expect(
          (JSON.parse(probe.stdout) as { streams: { codec_name: string }[] }).streams.map((x) => x.codec_name).sort(),
        ).toEqual(['aac', 'h264']);
        // Each segment starts with a keyframe and decodes on its own.
        const first = await run('ffprobe', [
          '-v',
          'error',
          '-select_streams',
          'v',
          '-read_intervals',
          '%+#1',
          '-show_entries',
          'frame=key_frame',
          '-of',
          'csv=p=0',
          file,
        ]);
        expect(first.stdout.trim().split('\n')[0]).toMatch(/^1\b/);
        expect(await decodeErrors(file)).toBe('');
      }
      const probe = await run(
        'ffprobe',
        ['-v', 'error', '-show_entries', 'format=format_name,duration', '-of', 'json', `${http}/live/clip/index.m3u8`],
        60_000,
      );
      expect(probe.stderr).toBe('');
      const format = (JSON.parse(probe.stdout) as { format: { format_name: string; duration: string } }).format;
      expect(format.format_name).toBe('hls');
      expect(Number(format.duration)).toBeCloseTo(SECONDS, 0);
      expect(await decodeErrors(`${http}/live/clip/index.m3u8`)).toBe('');
      expect(await videoFrames(`${http}/live/clip/index.m3u8`)).toBe(FRAMES);
      expect(srv.logs.filter((l) => / (warn|error) /.test(l))).toEqual([]);
    } finally {
      await srv.close();
    }
  }, 90_000);

  it('serves HLS on demand that ffmpeg plays live and decodes cleanly', async () => {
    const srv = await startServer({ httpPort: 0, hlsSegmentMs: 1000 });
    const url = `http://127.0.0.1:${srv.addresses.httpPort}/live/clip/index.m3u8`;
    const out = join(work, 'live.ts');
    try {
      const publisher = publishFile(clip, `rtmp://127.0.0.1:${srv.port}/live/clip`);
      await waitFor(() => srv.server.getStats().streams.some((s) => s.videoFramesIn > 10), 10_000, 'the first frames');
      // The first request starts the muxing (from the GOP cache) and waits for the first segment.
      const reader = await run(
        'ffmpeg',
        ['-hide_banner', '-loglevel', 'error', '-i', url, '-c', 'copy', '-f', 'mpegts', '-y', out],
        60_000,
      );
      expect(reader.code, reader.stderr).toBe(0);
      expect((await publisher).code).toBe(0);
      expect(await decodeErrors(out)).toBe('');
      // From a keyframe (the GOP cache's when the muxing started) to the end of the publication.
      const frames = await videoFrames(out);
      expect(frames).toBeGreaterThan(0);
      expect((FRAMES - frames) % (2 * FPS)).toBe(0);
    } finally {
      await srv.close();
    }
  }, 90_000);
});
