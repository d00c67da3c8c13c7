import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientClose } from '../../src/client/errors.js';
import { HlsViewer, type HlsFrame, type HlsSegmentLoad } from '../../src/client/hls-viewer.js';
import { parseRtmpUrl } from '../../src/client/url.js';
import { publish, type RunningPublisher } from '../helpers/media.js';
import { nginxRtmpModule, startNginxHls, type Peer } from '../helpers/peers.js';
import { waitFor } from '../helpers/server.js';
import { hasTool } from '../helpers/tools.js';

const ready = hasTool('nginx', 'apt-get install nginx libnginx-mod-rtmp') && nginxRtmpModule() !== null;
if (!ready && process.env.CI && hasTool('nginx'))
  throw new Error('the nginx RTMP module is required in CI (apt-get install libnginx-mod-rtmp)');

/**
 * The HLS viewer against nginx-rtmp's HLS (Debian's module, `hls on`, 1 s fragments, served by
 * nginx's http block), with our publisher sending a marked synthetic stream: the marks survive
 * nginx's remux to MPEG-TS, and the viewer reads them all, in order.
 */
describe.skipIf(!ready)('HlsViewer against nginx-rtmp HLS', () => {
  let nginx: Peer;
  let pub: RunningPublisher;
  beforeAll(async () => {
    nginx = await startNginxHls({ fragmentS: 1, playlistLengthS: 6 });
    pub = await publish(parseRtmpUrl(`rtmp://127.0.0.1:${nginx.rtmpPort}/live`), 'cam', {
      seconds: 12,
      fps: 30,
      gopSeconds: 1,
    });
  });
  afterAll(async () => {
    pub?.stop(true);
    await nginx?.stop();
  });

  it('reads every mark of the segments nginx-rtmp muxed, in order, with plausible latency and fetch times', async () => {
    const url = `http://127.0.0.1:${nginx.httpPort}/hls/cam.m3u8`;
    await waitFor(
      async () =>
        (await fetch(url)).status === 200 && ((await (await fetch(url)).text()).match(/\.ts/g)?.length ?? 0) >= 4,
      15_000,
      'four segments',
    );
    const frames: HlsFrame[] = [];
    const segments: HlsSegmentLoad[] = [];
    const ends: ClientClose[] = [];
    const ages: number[] = [];
    const errors: number[] = [];
    const viewer = await HlsViewer.open({
      url,
      onFrame: (f) => frames.push({ ...(f as HlsFrame), mark: f.mark === null ? null : { ...f.mark } }),
      onSegment: (s) => segments.push(s),
      onEnd: (e) => ends.push(e),
      onPlaylistAge: (a) => ages.push(a),
      onHttpError: (s) => errors.push(s),
    });
    try {
      await waitFor(() => frames.length >= 150, 20_000, '150 frames');
      expect(ends).toEqual([]);
      expect(errors).toEqual([]);
      const seqs = frames.map((f) => f.mark?.seq ?? -1);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
      expect(frames[0]!.keyframe).toBe(true);
      const c = viewer.counters;
      expect([c.lost, c.duplicated, c.outOfOrder]).toEqual([0, 0, 0]);
      expect(c.audioFrames).toBeGreaterThan(100);
      // Glass to glass: a 1 s segment is listed after its last frame, and the viewer starts
      // three segments back, so latency lies between a fraction of a second and several.
      const latency = frames.map((f) => (f.arrivalUs - f.mark!.intendedUs) / 1000).sort((a, b) => a - b);
      expect(latency[0]!).toBeGreaterThan(0);
      expect(latency[Math.floor(latency.length / 2)]!).toBeGreaterThan(300);
      expect(latency[latency.length - 1]!).toBeLessThan(10_000);
      expect(
        frames.every((f) => f.playoutUs >= f.arrivalUs - 1 && (f.listedUs === 0 || f.listedUs > f.mark!.sentUs)),
      ).toBe(true);
      expect(frames.some((f) => f.listedUs > 0)).toBe(true);
      expect(segments.length).toBeGreaterThanOrEqual(4);
      expect(segments.every((s) => s.bytes > 0 && s.fetchUs < 2_000_000)).toBe(true);
      expect(viewer.stats.playlistLoads).toBeGreaterThanOrEqual(3);
      expect(ages.length).toBeGreaterThan(0);
      expect(ages.every((a) => a > 0)).toBe(true);
    } finally {
      viewer.close();
    }
  });
});
