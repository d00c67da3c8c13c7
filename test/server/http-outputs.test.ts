import { afterEach, describe, expect, it } from 'vitest';
import type { ClientClose } from '../../src/client/errors.js';
import { HlsViewer } from '../../src/client/hls-viewer.js';
import { HttpFlvViewer } from '../../src/client/http-flv-viewer.js';
import type { Viewer, ViewerFrame } from '../../src/client/viewer.js';
import { WsFlvViewer } from '../../src/client/ws-flv-viewer.js';
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

async function server(settings: Parameters<typeof startServer>[0] = {}): Promise<TestServer & { http: string; ws: string }> {
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

function watch(open: (onFrame: (f: ViewerFrame) => void, onEnd: (e: ClientClose) => void) => Promise<Viewer>): Promise<Watched> {
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

describe('the built-in server over HTTP', () => {
  it('gives HTTP-FLV, WebSocket-FLV and HLS viewers every frame in order, and ends them with the publication', async () => {
    const srv = await server();
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
    await waitFor(() => srv.server.getStats().viewers.httpFlv === 1 && srv.server.getStats().viewers.wsFlv === 1, 5000, 'FLV viewers counted');
    expect(srv.server.getStats().viewers).toMatchObject({ rtmp: 1, httpFlv: 1, wsFlv: 1, hls: 1 });
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
  });
});
