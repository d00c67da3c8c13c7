import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SegmentFrames } from '../../src/client/hls-segment.js';
import { HlsViewer, type HlsRequestKind } from '../../src/client/hls-viewer.js';
import { parsePlaylist, type MediaPlaylist } from '../../src/media/m3u8.js';
import { publish } from '../helpers/media.js';
import { hasTool, run, testSourceArgs, publishFile } from '../helpers/tools.js';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';

/**
 * Low-latency HLS from the built-in server, with a real publisher (ffmpeg, a clip with a GOP of
 * 1 s) and real readers: 1 s segments in 200 ms MPEG-TS parts, blocking playlist reloads that
 * must not answer before the part they ask for exists, preload-hinted parts held until they are
 * complete, parts that join into their segment byte for byte, the generator's timing marks in
 * parts, the generator's viewer playing it as hls.js does, bad delivery directives, a bound on
 * held requests, clients that leave while held, and ffmpeg reading the same playlist.
 */

const ready = hasTool('ffmpeg') && hasTool('ffprobe', 'apt-get install ffmpeg');
const work = mkdtempSync(join(tmpdir(), 'rtmpbench-llhls-'));
const clip = join(work, 'clip.flv');
const FPS = 25;
const SECONDS = 10;
const PART_MS = 200;

let srv: TestServer;
let base = '';
let publisher: ReturnType<typeof run>;

/** One GET with a fresh connection: status, body, and whether the socket closed before an answer. */
function get(url: string, signal?: AbortSignal): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function playlist(query = ''): Promise<{ text: string; p: MediaPlaylist }> {
  const r = await get(`${base}/live/clip/index.m3u8${query}`);
  expect(r.status, r.body.toString()).toBe(200);
  const text = r.body.toString();
  return { text, p: parsePlaylist(text) as MediaPlaylist };
}

/** The (msn, index) of a part URI: `{publication}-{msn}.{index}.ts`. */
function partAt(uri: string): { msn: number; index: number } {
  const m = /-(\d+)\.(\d+)\.ts$/.exec(uri);
  if (m === null) throw new Error(`not a part URI: ${uri}`);
  return { msn: Number(m[1]), index: Number(m[2]) };
}

/** The part after the last one listed (what hls.js asks a blocking reload for). */
function nextOf(p: MediaPlaylist): { msn: number; index: number } {
  return { msn: (p.segments[p.segments.length - 1]?.msn ?? -1) + 1, index: p.pendingParts.length };
}

/** Whether a playlist lists part `index` of segment `msn`, or anything after it. */
function holds(p: MediaPlaylist, msn: number, index: number): boolean {
  const seg = p.segments.find((s) => s.msn === msn);
  if (seg !== undefined && seg.parts.length > index) return true;
  const last = p.segments[p.segments.length - 1];
  if (last !== undefined && last.msn > msn) return true;
  const pendingMsn = (last?.msn ?? -1) + 1;
  return pendingMsn === msn ? p.pendingParts.length > index : pendingMsn > msn && p.pendingParts.length > 0;
}

const held = () => srv.server.getStats().http?.hls.held ?? -1;

beforeAll(async () => {
  if (!ready) return;
  const r = await run(
    'ffmpeg',
    [...testSourceArgs({ seconds: SECONDS, fps: FPS, gopSeconds: 1 }), '-f', 'flv', '-y', clip],
    60_000,
  );
  expect(r.code, r.stderr).toBe(0);
  srv = await startServer({
    httpPort: 0,
    hlsSegmentMs: 1000,
    hlsPartMs: PART_MS,
    hlsOnDemand: false,
    hlsMaxHeldRequests: 1000,
  });
  base = `http://127.0.0.1:${srv.addresses.httpPort}`;
  publisher = publishFile(clip, `rtmp://127.0.0.1:${srv.port}/live/clip`);
  await waitFor(() => srv.server.getStats().publishers === 1, 10_000, 'the publisher');
}, 60_000);

afterAll(async () => {
  await srv?.close();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!ready)('LL-HLS from the built-in server (ffmpeg publishing, GOP 1 s, 200 ms parts)', () => {
  it('answers a blocking reload only once the part it asks for exists, and holds a preload-hinted part until it is whole', async () => {
    let { p } = await playlist();
    expect(p.serverControl?.canBlockReload).toBe(true);
    expect(p.serverControl?.partHoldBackS).toBeCloseTo((3 * PART_MS) / 1000, 3);
    expect(p.partTargetS).toBeCloseTo(PART_MS / 1000, 3);
    for (let round = 0; round < 8; round++) {
      // The next part to come: the preload hint, and the delivery directive hls.js would send for it.
      expect(p.preloadHints.length).toBe(1);
      const hint = p.preloadHints[0]!;
      const want = partAt(hint.uri);
      expect(holds(p, want.msn, want.index)).toBe(false);
      const [reload, part] = await Promise.all([
        playlist(`?_HLS_msn=${want.msn}&_HLS_part=${want.index}`),
        get(`${base}/live/clip/${hint.uri}`),
      ]);
      // Had the reload answered early, the playlist it carries would not list the part.
      expect(holds(reload.p, want.msn, want.index), reload.text).toBe(true);
      const listed =
        reload.p.segments.find((s) => s.msn === want.msn)?.parts[want.index] ??
        (reload.p.segments.some((s) => s.msn === want.msn) ? undefined : reload.p.pendingParts[want.index]);
      if (listed !== undefined) {
        // The part exists now: the held hint got it whole (it starts with PAT/PMT).
        expect(part.status).toBe(200);
        expect(part.body[0]).toBe(0x47);
        expect(part.body.length % 188).toBe(0);
        expect(listed.durationS).toBeLessThanOrEqual(PART_MS / 1000 + 1e-9);
      } else {
        // The segment ended before a part of that index: the hinted part will never exist.
        expect(part.status).toBe(404);
      }
      p = reload.p;
    }
  }, 30_000);

  it('is read live by ffprobe, which knows nothing of parts', async () => {
    const probe = await run(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'json', `${base}/live/clip/index.m3u8`],
      30_000,
    );
    expect(probe.stderr).toBe('');
    const streams = (JSON.parse(probe.stdout) as { streams: { codec_name: string }[] }).streams;
    expect(streams.map((x) => x.codec_name).sort()).toEqual(['aac', 'h264']);
  }, 30_000);

  it('lists parts that join into their segment byte for byte, the first of each segment independent', async () => {
    const { p } = await playlist();
    const withParts = p.segments.filter((s) => s.parts.length > 0);
    expect(withParts.length).toBeGreaterThan(0);
    for (const s of withParts) {
      expect(s.parts[0]!.independent).toBe(true);
      expect(s.parts.slice(1).every((x) => !x.independent)).toBe(true);
      const sum = s.parts.reduce((a, x) => a + x.durationS, 0);
      expect(sum).toBeCloseTo(s.durationS, 2);
      const whole = await get(`${base}/live/clip/${s.uri}`);
      const parts = await Promise.all(s.parts.map((x) => get(`${base}/live/clip/${x.uri}`)));
      expect(parts.map((x) => x.status)).toEqual(s.parts.map(() => 200));
      expect(Buffer.concat(parts.map((x) => x.body)).equals(whole.body)).toBe(true);
    }
  }, 30_000);

  it.each([false, true])(
    'plays it as hls.js does in low-latency mode, parts in order (preload hints fetched: %s)',
    async (preloadHints) => {
      const times: number[] = [];
      const kinds: Partial<Record<HlsRequestKind, number>> = {};
      const errors: number[] = [];
      const v = await HlsViewer.open({
        url: `${base}/live/clip/index.m3u8`,
        preloadHints,
        onFrame: (f) => times.push(f.timestampMs),
        onRequest: (k) => (kinds[k] = (kinds[k] ?? 0) + 1),
        onHttpError: (status) => errors.push(status),
      });
      try {
        await waitFor(() => v.stats.parts >= 8, 10_000, 'eight parts');
      } finally {
        v.close();
      }
      expect(errors).toEqual([]);
      expect(v.stats.blockingReloads).toBeGreaterThan(0);
      // Every part after the first follows the one before: frames in decode order, 40 ms apart.
      expect(times.length).toBeGreaterThan(8 * 4);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(1000 / FPS);
      expect(v.stats.requests).toBe((kinds.playlist ?? 0) + (kinds.part ?? 0) + (kinds.segment ?? 0));
      // Less the one a hinted request may have had outstanding at the close.
      const answered = v.stats.parts + v.stats.hintMisses;
      expect([answered, answered + 1]).toContain(kinds.part);
      if (!preloadHints) expect(v.stats.hintMisses).toBe(0);
    },
    20_000,
  );

  it('refuses malformed and far-ahead delivery directives with 400, answers old ones at once', async () => {
    const { p } = await playlist();
    const next = p.segments[p.segments.length - 1]!.msn + 1;
    for (const q of [
      '?_HLS_msn=abc',
      '?_HLS_msn=-1',
      '?_HLS_msn=1e3',
      '?_HLS_msn=12345678901234567890',
      '?_HLS_msn=1&_HLS_msn=2',
      '?_HLS_part=1',
      `?_HLS_msn=${next}&_HLS_part=x`,
      `?_HLS_msn=${next + 2}`,
      `?_HLS_msn=${next + 1000}&_HLS_part=0`,
      `?_HLS_msn=${next}&_HLS_part=${p.pendingParts.length + 3}`,
    ]) {
      const r = await get(`${base}/live/clip/index.m3u8${q}`);
      expect(r.status, `${q}: ${r.body.toString()}`).toBe(400);
    }
    // Far behind: what it asks for is long there.
    const old = await get(`${base}/live/clip/index.m3u8?_HLS_msn=0&_HLS_part=0`);
    expect(old.status).toBe(200);
    expect(held()).toBe(0);
  }, 30_000);

  it('refuses held requests beyond the bound with 503, lets go of clients that leave, answers the rest in time, and still serves the others', async () => {
    // A second stream that stops advancing: two seconds of media, then its publisher falls silent.
    const frozen = await publish(srv.url(), 'frozen', { seconds: 2.2, gopSeconds: 1 });
    await frozen.done;
    await waitFor(
      async () => (await get(`${base}/live/frozen/index.m3u8`)).body.includes('#EXTINF'),
      10_000,
      'a segment of the frozen stream',
    );
    const fp = parsePlaylist((await get(`${base}/live/frozen/index.m3u8`)).body.toString()) as MediaPlaylist;
    const next = fp.segments[fp.segments.length - 1]!.msn + 1;
    // The generator's timing marks travel in the parts: every video frame carries its mark, in order.
    const seqs: number[] = [];
    const reader = new SegmentFrames(2048);
    for (const part of fp.segments[fp.segments.length - 1]!.parts) {
      reader.begin();
      reader.push((await get(`${base}/live/frozen/${part.uri}`)).body);
      expect(reader.end()).toBe(true);
      for (let i = 0; i < reader.count; i++) {
        expect(reader.frames[i]!.hasMark).toBe(true);
        seqs.push(reader.frames[i]!.seq);
      }
    }
    expect(seqs.length).toBeGreaterThan(10);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
    const ahead = `${base}/live/frozen/index.m3u8?_HLS_msn=${next}`;
    // A viewer of the live stream already waiting for its next part.
    const { p } = await playlist();
    const want = nextOf(p);
    const other = playlist(`?_HLS_msn=${want.msn}&_HLS_part=${want.index}`);
    try {
      const leaving = new AbortController();
      const gone = Array.from({ length: 500 }, () => get(ahead, leaving.signal).catch(() => null));
      await waitFor(() => held() >= 500, 10_000, '500 held requests');
      leaving.abort();
      await Promise.all(gone);
      await waitFor(() => held() <= 1, 5000, 'the held requests of clients that left to go');
      expect((await other).p.serverControl).not.toBeNull();
      const answers = Array.from({ length: 1100 }, () => get(ahead));
      await waitFor(
        () => held() === 1000 && (srv.server.getStats().http?.hls.heldRefused ?? 0) >= 100,
        10_000,
        '1000 held requests',
      );
      // Refused beyond the bound; meanwhile the live stream's segments and playlists are served.
      expect(srv.server.getStats().http?.hls.heldRefused).toBe(100);
      expect((await get(`${base}/live/clip/${p.segments[p.segments.length - 1]!.uri}`)).status).toBe(200);
      expect((await get(`${base}/live/clip/index.m3u8`)).status).toBe(200);
      const byStatus: Record<number, number> = {};
      for (const a of await Promise.all(answers)) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
      // The held ones: 503 once three target durations passed without the segment.
      expect(byStatus).toEqual({ 503: 1100 });
      expect(held()).toBe(0);
    } finally {
      frozen.stop(true);
    }
  }, 30_000);

  it('ends the playlist with the publication, and ffmpeg reads it whole', async () => {
    const pub = await publisher;
    expect(pub.code, pub.stderr).toBe(0);
    const url = `${base}/live/clip/index.m3u8`;
    await waitFor(async () => (await playlist()).p.endList, 10_000, 'the end of the playlist');
    const probe = await run(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'format=format_name', '-of', 'json', url],
      60_000,
    );
    expect(probe.stderr).toBe('');
    expect((JSON.parse(probe.stdout) as { format: { format_name: string } }).format.format_name).toBe('hls');
    const out = join(work, 'read.ts');
    const copy = await run('ffmpeg', ['-v', 'error', '-i', url, '-c', 'copy', '-f', 'mpegts', '-y', out], 60_000);
    expect(copy.code, copy.stderr).toBe(0);
    const decode = await run('ffmpeg', ['-v', 'error', '-i', out, '-f', 'null', '-'], 60_000);
    expect(decode.stderr).toBe('');
    const count = await run(
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
        out,
      ],
      60_000,
    );
    // The window (6 segments of 1 s) holds the last 6 s of the clip.
    expect(Number(count.stdout.trim().split('\n')[0])).toBeGreaterThanOrEqual(6 * FPS - 1);
    writeFileSync(join(work, 'done'), '');
  }, 60_000);
});
