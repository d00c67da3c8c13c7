import { afterEach, describe, expect, it } from 'vitest';
import { HlsViewer, type HlsPlaylistLoad, type HlsSegmentLoad } from '../../src/client/hls-viewer.js';
import { HttpFlvViewer } from '../../src/client/http-flv-viewer.js';
import { parseRtmpUrl } from '../../src/client/url.js';
import type { ViewerFrame } from '../../src/client/viewer.js';
import { monotonicUs } from '../../src/media/timing-mark.js';
import { DelayProxy } from '../helpers/delay-proxy.js';
import { LiveHls } from '../helpers/live-hls.js';
import { publish } from '../helpers/media.js';
import { hasNodeMediaServer, startNodeMediaServer } from '../helpers/peers.js';
import { waitFor } from '../helpers/server.js';

/**
 * A network delay of N ms per direction between viewer and server: HTTP-FLV latency grows by
 * about N (only the server-to-viewer direction carries the stream), HLS playlist and segment
 * fetch times by about 2N (a request and its response). Margins are wide: the machine is shared.
 */

const N_MS = 150;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('an HTTP delay of N ms per direction', () => {
  it('raises HLS playlist and segment fetch times by about 2N', async () => {
    const hls = new LiveHls();
    cleanups.push(() => hls.close());
    await hls.start(4);
    const proxy = new DelayProxy(hls.port, N_MS, N_MS);
    cleanups.push(() => proxy.close());
    await proxy.listen();
    const loads = {
      direct: { playlists: [] as HlsPlaylistLoad[], segments: [] as HlsSegmentLoad[] },
      delayed: { playlists: [] as HlsPlaylistLoad[], segments: [] as HlsSegmentLoad[] },
    };
    for (const [name, port] of [
      ['direct', hls.port],
      ['delayed', proxy.port],
    ] as const) {
      const v = await HlsViewer.open({
        url: `http://127.0.0.1:${port}/index.m3u8`,
        onPlaylist: (p) => loads[name].playlists.push(p),
        onSegment: (s) => loads[name].segments.push(s),
      });
      cleanups.push(() => v.close());
    }
    await waitFor(
      () => loads.delayed.segments.length >= 5 && loads.direct.segments.length >= 5,
      20_000,
      'five segments each',
    );
    const playlistMs = (k: 'direct' | 'delayed') => median(loads[k].playlists.map((p) => p.fetchUs)) / 1000;
    const segmentMs = (k: 'direct' | 'delayed') => median(loads[k].segments.map((s) => s.fetchUs)) / 1000;
    const playlistRise = playlistMs('delayed') - playlistMs('direct');
    const segmentRise = segmentMs('delayed') - segmentMs('direct');
    expect(playlistRise).toBeGreaterThan(1.6 * N_MS);
    expect(playlistRise).toBeLessThan(2 * N_MS + 400);
    expect(segmentRise).toBeGreaterThan(1.6 * N_MS);
    expect(segmentRise).toBeLessThan(2 * N_MS + 600);
  });

  it.skipIf(!hasNodeMediaServer())('raises HTTP-FLV latency by about N (node-media-server)', async () => {
    const nms = await startNodeMediaServer();
    cleanups.push(() => nms.stop());
    const pub = await publish(parseRtmpUrl(`rtmp://127.0.0.1:${nms.rtmpPort}/live`), 'far', {
      seconds: 5,
      fps: 30,
      gopSeconds: 1,
    });
    cleanups.push(() => pub.stop(true));
    const proxy = new DelayProxy(nms.httpPort, N_MS, N_MS);
    cleanups.push(() => proxy.close());
    await proxy.listen();
    const latency: Record<string, number[]> = { direct: [], delayed: [] };
    for (const [name, port] of [
      ['direct', nms.httpPort],
      ['delayed', proxy.port],
    ] as const) {
      const joinedUs = monotonicUs();
      const onFrame = (f: ViewerFrame) => {
        // Live frames only: those sent after the viewer joined, not its GOP cache.
        if (f.mark !== null && f.mark.intendedUs > joinedUs + 200_000)
          latency[name]!.push(f.arrivalUs - f.mark.intendedUs);
      };
      const v: HttpFlvViewer = await HttpFlvViewer.open({ url: `http://127.0.0.1:${port}/live/far.flv`, onFrame });
      cleanups.push(() => v.close());
    }
    await waitFor(
      () => latency.direct!.length >= 60 && latency.delayed!.length >= 60,
      15_000,
      'live frames at both viewers',
    );
    const rise = (median(latency.delayed!) - median(latency.direct!)) / 1000;
    expect(rise).toBeGreaterThan(0.6 * N_MS);
    expect(rise).toBeLessThan(N_MS + 250);
  });
});
