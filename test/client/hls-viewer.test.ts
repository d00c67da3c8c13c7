import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ClientClose } from '../../src/client/errors.js';
import {
  HlsViewer,
  type HlsFrame,
  type HlsPlaylistLoad,
  type HlsSegmentLoad,
  type HlsViewerOptions,
} from '../../src/client/hls-viewer.js';
import { LiveHls } from '../helpers/live-hls.js';
import { makeClip, markedClip } from '../helpers/media-files.js';
import { waitFor } from '../helpers/server.js';
import { hasTool, run } from '../helpers/tools.js';

const hasFfmpeg = hasTool('ffmpeg');
const work = mkdtempSync(join(tmpdir(), 'rtmpbench-hls-viewer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Watched {
  viewer: HlsViewer;
  frames: HlsFrame[];
  ends: ClientClose[];
  playlists: HlsPlaylistLoad[];
  segments: HlsSegmentLoad[];
  ages: number[];
  errors: [number, string][];
}

async function watch(opts: HlsViewerOptions): Promise<Watched> {
  const w: Omit<Watched, 'viewer'> = { frames: [], ends: [], playlists: [], segments: [], ages: [], errors: [] };
  const viewer = await HlsViewer.open({
    ...opts,
    onFrame: (f) => w.frames.push({ ...(f as HlsFrame), mark: f.mark === null ? null : { ...f.mark } }),
    onEnd: (e) => w.ends.push(e),
    onPlaylist: (p) => w.playlists.push(p),
    onSegment: (s) => w.segments.push(s),
    onPlaylistAge: (a) => w.ages.push(a),
    onHttpError: (status, kind) => w.errors.push([status, kind]),
  });
  cleanups.push(() => viewer.close());
  return { viewer, ...w };
}

async function live(opts: ConstructorParameters<typeof LiveHls>[0] = {}, preroll = 6): Promise<LiveHls> {
  const hls = new LiveHls(opts);
  cleanups.push(() => hls.close());
  await hls.start(preroll);
  return hls;
}

describe('HlsViewer against a live origin', () => {
  it('starts three target durations behind the live edge and then gets every frame, marks in order', async () => {
    const hls = await live();
    const w = await watch({ url: `http://127.0.0.1:${hls.port}/index.m3u8` });
    const newestAtOpen = hls.requests.find((r) => r.newestMsn !== undefined)!.newestMsn!;
    await waitFor(() => w.frames.length >= 100, 15_000, '100 frames');
    // Six 1 s segments: 3 s back from the end is the start of the fourth, newest - 2.
    expect(w.frames[0]!.msn).toBe(newestAtOpen - 2);
    expect(w.frames[0]!.keyframe).toBe(true);
    const seqs = w.frames.map((f) => f.mark!.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
    const c = w.viewer.counters;
    expect([c.lost, c.duplicated, c.outOfOrder]).toEqual([0, 0, 0]);
    expect(c.marks).toBe(c.videoFrames);
    expect(c.audioFrames).toBeGreaterThan(c.videoFrames);
    expect(c.bytesReceived).toBeGreaterThan(c.mediaBytes);
    // Segments of the first playlist read have no known listing time; later ones do.
    expect(w.frames[0]!.listedUs).toBe(0);
    const listed = w.frames.filter((f) => f.listedUs > 0);
    expect(listed.length).toBeGreaterThanOrEqual(25);
    for (const f of listed) {
      // A frame's segment is listed after its last frame was sent, and downloaded after that.
      expect(f.listedUs).toBeGreaterThan(f.mark!.sentUs);
      expect(f.arrivalUs).toBeGreaterThanOrEqual(f.listedUs);
    }
    // A buffering player shows a frame no earlier than it arrived.
    expect(w.frames.every((f) => f.playoutUs >= f.arrivalUs - 1)).toBe(true);
    // Frames of one segment arrive together; they show 40 ms apart.
    const seg = w.frames.filter((f) => f.msn === w.frames[30]!.msn);
    expect(new Set(seg.map((f) => f.arrivalUs)).size).toBe(1);
    expect(Math.round((seg[1]!.playoutUs - seg[0]!.playoutUs) / 1000)).toBe(40);
    const t = w.viewer.timings;
    expect(
      t.openUs <= t.connectedUs &&
        t.connectedUs <= t.requestUs &&
        t.requestUs <= t.startedUs &&
        t.startedUs <= t.firstFrameUs,
    ).toBe(true);
    expect(w.segments.length).toBeGreaterThanOrEqual(4);
    expect(
      w.segments.every((s) => s.bytes > 10_000 && s.bytesPerSec > 0 && s.fetchUs > 0 && s.videoFrames === 25),
    ).toBe(true);
    // Program date-times give the playlist's age; marks give it too, once the newest segment is in.
    expect(w.playlists.every((p) => p.dateAgeUs > -1_000_000 && p.dateAgeUs < 5_000_000)).toBe(true);
    expect(w.ages.length).toBeGreaterThan(0);
    expect(w.ages.every((a) => a > 0 && a < 3_000_000)).toBe(true);
    expect(w.viewer.stats.rebuffers).toBe(0);
  });

  it('reloads the playlist a target duration after a load that changed it and half of one after a load that did not', async () => {
    const hls = await live({}, 3);
    const w = await watch({ url: `http://127.0.0.1:${hls.port}/index.m3u8` });
    await new Promise((r) => setTimeout(r, 3500));
    const changing = hls.requests.filter((r) => r.path === '/index.m3u8').map((r) => r.atUs);
    hls.freeze();
    await new Promise((r) => setTimeout(r, 3000));
    const all = hls.requests.filter((r) => r.path === '/index.m3u8').map((r) => r.atUs);
    const gaps = (ts: number[]) => ts.slice(1).map((t, i) => (t - ts[i]!) / 1000);
    const before = gaps(changing);
    const frozen = gaps(all.slice(changing.length + 1));
    // Target duration 1 s. Never sooner than the specification allows; not much later either.
    expect(before.length).toBeGreaterThanOrEqual(2);
    expect(Math.min(...before)).toBeGreaterThan(480); // an unchanged load in between may halve one
    expect(Math.max(...before)).toBeLessThan(1600);
    expect(frozen.length).toBeGreaterThanOrEqual(3);
    expect(Math.min(...frozen)).toBeGreaterThan(450);
    expect(Math.max(...frozen)).toBeLessThan(900);
    expect(w.viewer.stats.playlistUnchanged).toBeGreaterThanOrEqual(3);
  });

  it('counts HTTP errors by status and plays on: a failed playlist reload is retried, a missing segment is skipped', async () => {
    const hls = await live({}, 3);
    hls.failNext.push({ match: /index\.m3u8/, status: 503 });
    const w = await watch({ url: `http://127.0.0.1:${hls.port}/index.m3u8` }).catch((e) => e);
    expect(w).toMatchObject({ failure: 'rejected', message: expect.stringContaining('HTTP 503') });
    const ok = await watch({ url: `http://127.0.0.1:${hls.port}/index.m3u8` });
    hls.failNext.push({ match: /index\.m3u8/, status: 500 });
    await waitFor(() => ok.viewer.stats.httpErrors[500] === 1, 10_000, 'the 500');
    hls.failNext.push({ match: new RegExp(`seg${hls.newestMsn + 1}\\.ts`), status: 404 });
    await waitFor(() => ok.viewer.stats.httpErrors[404] === 1, 10_000, 'the 404');
    const framesAt404 = ok.frames.length;
    await waitFor(() => ok.frames.length > framesAt404 + 30, 10_000, 'frames after the 404');
    expect(ok.errors).toEqual([
      [500, 'playlist'],
      [404, 'segment'],
    ]);
    expect(ok.viewer.counters.lost).toBe(25); // the skipped segment's frames
    expect(ok.ends).toEqual([]);
  });

  it('follows a master playlist to the variant asked for', async () => {
    const hls = await live({ variants: [800_000, 2_000_000, 400_000] }, 1);
    const first = await watch({ url: `http://127.0.0.1:${hls.port}/master.m3u8` });
    const highest = await watch({ url: `http://127.0.0.1:${hls.port}/master.m3u8`, variant: 'highest' });
    expect(first.viewer.mediaUrl).toBe(`http://127.0.0.1:${hls.port}/v0/index.m3u8`);
    expect(highest.viewer.mediaUrl).toBe(`http://127.0.0.1:${hls.port}/v1/index.m3u8`);
    await waitFor(() => first.frames.length > 0 && highest.frames.length > 0, 10_000, 'frames');
  });

  it('ends with kind closed after the last segment of a playlist that ended, having every frame', async () => {
    const hls = await live({}, 4);
    const w = await watch({ url: `http://127.0.0.1:${hls.port}/index.m3u8` });
    await new Promise((r) => setTimeout(r, 1200));
    hls.end();
    await waitFor(() => w.ends.length === 1, 10_000, 'the end');
    expect(w.ends[0]).toEqual({ kind: 'closed', message: 'the playlist ended' });
    expect(w.frames[w.frames.length - 1]!.msn).toBe(hls.newestMsn);
    expect(w.viewer.counters.lost).toBe(0);
  });

  it('skips segments that left the playlist when downloads fall behind, counting their frames lost', async () => {
    const hls = await live({ window: 3 }, 3);
    hls.segmentDelayMs = 1800;
    const w = await watch({ url: `http://127.0.0.1:${hls.port}/index.m3u8` });
    await waitFor(() => w.viewer.stats.segmentsSkipped > 0, 20_000, 'a skipped segment');
    hls.segmentDelayMs = 0;
    await waitFor(() => w.viewer.counters.lost > 0, 10_000, 'lost frames');
    expect(w.viewer.counters.lost % 25).toBe(0);
    expect(w.viewer.stats.rebuffers).toBeGreaterThan(0);
  });

  it('fails to open with kind refused when nothing listens', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise((r) => srv.close(r));
    await expect(HlsViewer.open({ url: `http://127.0.0.1:${port}/index.m3u8` })).rejects.toMatchObject({
      failure: 'refused',
    });
  });
});

/** Serves a directory over HTTP (ffmpeg's HLS output). */
async function serveDir(dir: string): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    try {
      res.writeHead(200).end(readFileSync(join(dir, (req.url ?? '/').slice(1))));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

describe.skipIf(!hasFfmpeg)('HlsViewer with segments ffmpeg made from a marked real clip', () => {
  it.each(['mpegts', 'fmp4'] as const)(
    'reads every mark of %s segments (with the init section for fMP4) and ends with the playlist',
    async (type) => {
      const clip = await makeClip(work, 'clip', { seconds: 4, gopSeconds: 1 });
      const { flv, videoFrames } = markedClip(clip);
      const dir = join(work, type);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'in.flv'), flv);
      const r = await run('ffmpeg', [
        '-hide_banner',
        '-loglevel',
        'error',
        '-i',
        join(dir, 'in.flv'),
        '-c',
        'copy',
        '-f',
        'hls',
        '-hls_time',
        '1',
        '-hls_list_size',
        '0',
        '-hls_playlist_type',
        'vod',
        '-hls_segment_type',
        type,
        join(dir, 'index.m3u8'),
      ]);
      expect(r.code, r.stderr).toBe(0);
      const srv = await serveDir(dir);
      cleanups.push(srv.close);
      const w = await watch({ url: `http://127.0.0.1:${srv.port}/index.m3u8` });
      await waitFor(() => w.ends.length === 1, 15_000, 'the end');
      expect(w.ends[0]!.kind).toBe('closed');
      expect(w.frames.map((f) => f.mark?.seq)).toEqual(Array.from({ length: videoFrames }, (_, i) => i));
      expect(w.frames.filter((f) => f.keyframe).map((f) => f.mark!.seq)).toEqual([0, 25, 50, 75]);
      expect(w.viewer.counters.audioFrames).toBeGreaterThan(150);
      expect(w.viewer.stats.segmentErrors).toBe(0);
    },
  );
});
