import { afterEach, describe, expect, it } from 'vitest';
import type { ClientClose } from '../../src/client/errors.js';
import { HlsViewer } from '../../src/client/hls-viewer.js';
import { HttpFlvViewer } from '../../src/client/http-flv-viewer.js';
import type { Viewer, ViewerFrame } from '../../src/client/viewer.js';
import { WsFlvViewer } from '../../src/client/ws-flv-viewer.js';
import { parsePlaylist, type MediaPlaylist } from '../../src/media/m3u8.js';
import { play, publish } from '../helpers/media.js';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';

/**
 * Our own viewers (HTTP-FLV, WebSocket-FLV, HLS) against the built-in server's HTTP outputs,
 * with a Publisher as the source: every mark arrives, in order, and the outputs end with the
 * publication.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(
  settings: Parameters<typeof startServer>[0] = {},
): Promise<TestServer & { http: string; ws: string }> {
  const srv = await startServer({ httpPort: 0, hlsSegmentMs: 1000, ...settings });
  cleanups.push(() => srv.close());
  const port = srv.addresses.httpPort!;
  return Object.assign(srv, { http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` });
}

interface Watched {
  viewer: Viewer;
  seqs: number[];
  keyframeSeqs: number[];
  ends: ClientClose[];
}

function watch(
  open: (onFrame: (f: ViewerFrame) => void, onEnd: (e: ClientClose) => void) => Promise<Viewer>,
): Promise<Watched> {
  const seqs: number[] = [];
  const keyframeSeqs: number[] = [];
  const ends: ClientClose[] = [];
  const onFrame = (f: ViewerFrame) => {
    if (f.mark === null) return;
    seqs.push(f.mark.seq);
    if (f.keyframe) keyframeSeqs.push(f.mark.seq);
  };
  return open(onFrame, (e) => ends.push(e)).then((viewer) => {
    cleanups.push(() => viewer.close());
    return { viewer, seqs, keyframeSeqs, ends };
  });
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

const VARIANTS: [string, Parameters<typeof startServer>[0]][] = [
  ['batched reads', {}],
  ['merged writes every 20 ms', { mergeWriteMs: 20 }],
  ['a write per message at chunk size 128', { batchReads: false, chunkSize: 128 }],
];

describe.each(VARIANTS)('the built-in server over HTTP, %s', (_name, settings) => {
  it('gives HTTP-FLV, WebSocket-FLV and HLS viewers every frame in order, and ends them with the publication', async () => {
    const srv = await server({ ...settings, statsPort: 0 });
    const rtmp = await play(srv.url(), 's');
    cleanups.push(() => rtmp.player.close());
    const pub = await publish(srv.url(), 's', { seconds: 3 });
    cleanups.push(() => pub.stop(true));
    // All join within the first GOP (1 s): the GOP cache starts them at frame 0.
    const [flv, ws, hls] = await Promise.all([
      watch((onFrame, onEnd) => HttpFlvViewer.open({ url: `${srv.http}/live/s.flv`, onFrame, onEnd })),
      watch((onFrame, onEnd) => WsFlvViewer.open({ url: `${srv.ws}/live/s.flv`, onFrame, onEnd })),
      watch((onFrame, onEnd) => HlsViewer.open({ url: `${srv.http}/live/s/index.m3u8`, onFrame, onEnd })),
    ]);
    await waitFor(
      () => srv.server.getStats().viewers.httpFlv === 1 && srv.server.getStats().viewers.wsFlv === 1,
      5000,
      'FLV viewers counted',
    );
    expect(srv.server.getStats().viewers).toMatchObject({ rtmp: 1, httpFlv: 1, wsFlv: 1, hls: 1 });
    const metrics = await (await fetch(`http://127.0.0.1:${srv.addresses.statsPort}/metrics`)).text();
    for (const protocol of ['rtmp', 'http-flv', 'ws-flv', 'hls']) {
      expect(metrics).toContain(`rtmp_players{protocol="${protocol}"} 1\n`);
      expect(metrics).toContain(`rtmp_stream_players{stream="live/s",protocol="${protocol}"} 1\n`);
    }
    await pub.done;
    pub.stop(true);
    await waitFor(() => flv.ends.length + ws.ends.length + hls.ends.length === 3, 15_000, 'every viewer to end');
    for (const w of [flv, ws, hls]) {
      expect(w.ends[0]?.kind, w.viewer.protocol).toBe('closed');
      expect(w.seqs, w.viewer.protocol).toEqual(range(0, 90));
      expect(w.keyframeSeqs, w.viewer.protocol).toEqual([0, 30, 60]);
      expect(w.viewer.counters).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
    }
    expect(rtmp.seqs).toEqual(range(0, 90));
    const http = srv.server.getStats().http!;
    expect(http.closedByReason).toMatchObject({ unpublished: 2 });
    expect(http.responses['200']).toBeGreaterThanOrEqual(4);
    expect(srv.server.getStats().viewers).toMatchObject({ httpFlv: 0, wsFlv: 0 });
  });
});

describe('the built-in server over HTTP', () => {
  it('starts FLV viewers without a GOP cache at the next keyframe', async () => {
    const srv = await server({ gopCache: false });
    const pub = await publish(srv.url(), 's', { seconds: 2.5 });
    cleanups.push(() => pub.stop(true));
    await waitFor(() => (srv.server.getStats().streams[0]?.videoFramesIn ?? 0) > 3, 5000, 'a few frames');
    const flv = await watch((onFrame, onEnd) => HttpFlvViewer.open({ url: `${srv.http}/live/s.flv`, onFrame, onEnd }));
    await pub.done;
    await waitFor(() => flv.seqs.at(-1) === 74, 5000, 'the last frame');
    expect(flv.seqs).toEqual(range(flv.seqs[0]!, 75));
    expect(flv.seqs[0]! % 30).toBe(0);
    expect(flv.seqs[0]).toBeGreaterThan(0);
  });

  it('asks every HTTP request for the play token when one is set, and carries it to segment URIs', async () => {
    const srv = await server({ playToken: 'secret' });
    const pub = await publish(srv.url(), 's?token=x', { seconds: 2.5 });
    cleanups.push(() => pub.stop(true));
    await expect(HttpFlvViewer.open({ url: `${srv.http}/live/s.flv` })).rejects.toMatchObject({
      failure: 'rejected',
      message: expect.stringContaining('HTTP 403'),
    });
    await expect(WsFlvViewer.open({ url: `${srv.ws}/live/s.flv?token=wrong` })).rejects.toMatchObject({
      failure: 'rejected',
      message: expect.stringContaining('HTTP 403'),
    });
    expect((await fetch(`${srv.http}/live/s/index.m3u8`)).status).toBe(403);
    const flv = await watch((onFrame, onEnd) =>
      HttpFlvViewer.open({ url: `${srv.http}/live/s.flv?token=secret`, onFrame, onEnd }),
    );
    const hls = await watch((onFrame, onEnd) =>
      HlsViewer.open({ url: `${srv.http}/live/s/index.m3u8?token=secret`, onFrame, onEnd }),
    );
    const text = await (await fetch(`${srv.http}/live/s/index.m3u8?token=secret`)).text();
    expect(text).toMatch(/\.ts\?token=secret$/m);
    const segment = /^(\S+\.ts)\?token=secret$/m.exec(text)![1]!;
    expect((await fetch(`${srv.http}/live/s/${segment}`)).status).toBe(403);
    await pub.done;
    pub.stop(true);
    await waitFor(() => flv.ends.length + hls.ends.length === 2, 10_000, 'both viewers to end');
    expect(flv.seqs.length).toBeGreaterThan(0);
    expect(hls.seqs.length).toBeGreaterThan(0);
    expect(hls.viewer.counters.lost).toBe(0);
  });

  it('refuses streams nobody publishes, keeps an ended playlist, and replaces it with the next publication', async () => {
    const srv = await server();
    expect((await fetch(`${srv.http}/live/s.flv`)).status).toBe(404);
    expect((await fetch(`${srv.http}/live/s/index.m3u8`)).status).toBe(404);
    const first = await publish(srv.url(), 's', { seconds: 2.5 });
    const live = await (await fetch(`${srv.http}/live/s/index.m3u8`)).text(); // waits for the first segment
    expect(live).toContain('#EXTINF:');
    await first.done;
    first.stop(true);
    await waitFor(
      async () => (await (await fetch(`${srv.http}/live/s/index.m3u8`)).text()).includes('#EXT-X-ENDLIST'),
      5000,
      'the playlist to end',
    );
    const ended = parsePlaylist(await (await fetch(`${srv.http}/live/s/index.m3u8`)).text()) as MediaPlaylist;
    expect((await fetch(`${srv.http}/live/s.flv`)).status).toBe(404);
    const second = await publish(srv.url(), 's', { seconds: 1.5 });
    cleanups.push(() => second.stop(true));
    const next = parsePlaylist(await (await fetch(`${srv.http}/live/s/index.m3u8`)).text()) as MediaPlaylist;
    expect(next.endList).toBe(false);
    expect(next.segments[0]!.msn).toBeGreaterThan(ended.segments.at(-1)!.msn);
    expect(next.segments[0]!.uri.split('-')[0]).not.toBe(ended.segments[0]!.uri.split('-')[0]);
    expect((await fetch(`${srv.http}/live/s/${ended.segments[0]!.uri}`)).status).toBe(404);
  });

  it('ends FLV viewers when the server stops: the HTTP-FLV response ends, the WebSocket closes with 1001', async () => {
    const srv = await server();
    const pub = await publish(srv.url(), 's', { seconds: 10 });
    cleanups.push(() => pub.stop(true));
    const flv = await watch((onFrame, onEnd) => HttpFlvViewer.open({ url: `${srv.http}/live/s.flv`, onFrame, onEnd }));
    const ws = await watch((onFrame, onEnd) => WsFlvViewer.open({ url: `${srv.ws}/live/s.flv`, onFrame, onEnd }));
    await waitFor(() => flv.seqs.length > 5 && ws.seqs.length > 5, 5000, 'frames');
    await srv.close();
    await waitFor(() => flv.ends.length + ws.ends.length === 2, 5000, 'both viewers to end');
    expect(flv.ends[0]!.kind).toBe('closed');
    expect(ws.ends[0]).toMatchObject({ kind: 'closed', message: expect.stringContaining('1001') });
    expect(srv.server.getStats().http!.closedByReason).toMatchObject({ shutdown: 2 });
  });
});
