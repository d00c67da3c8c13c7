import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { HttpFlvViewer } from '../../src/client/http-flv-viewer.js';
import type { Viewer, ViewerFrame } from '../../src/client/viewer.js';
import { WsFlvViewer } from '../../src/client/ws-flv-viewer.js';
import type { HttpViewerStats } from '../../src/server/http/http-stats.js';
import { publish } from '../helpers/media.js';
import { startServer, waitFor } from '../helpers/server.js';

const MAX_QUEUED = 1024 * 1024;
const SECONDS = 6;
const BITRATE = 12_000_000; // 9 MB a stalled reader never reads (the kernel takes some); keyframes fit the bound

/**
 * HTTP-FLV viewers share the RTMP players' send queue and backpressure policy: a viewer that
 * stops reading is held to the queue bound (dropping, or closed under `disconnect`), and the
 * healthy HTTP-FLV and WebSocket-FLV viewers of the stream lose nothing.
 */
describe('backpressure on HTTP-FLV viewers', () => {
  for (const policy of ['drop-to-keyframe', 'disconnect'] as const) {
    it(`${policy}: a stalled HTTP-FLV viewer is held to the bound${policy === 'disconnect' ? ' and closed' : ''}, the healthy ones get every frame`, async () => {
      const srv = await startServer({
        httpPort: 0,
        backpressure: policy,
        maxQueuedBytes: MAX_QUEUED,
        disconnectGraceMs: 500,
        logLevel: 'info',
      });
      const http = `http://127.0.0.1:${srv.addresses.httpPort}`;
      const viewers: Viewer[] = [];
      try {
        const pub = await publish(srv.url(), 'bp', { seconds: SECONDS, videoBitrate: BITRATE, gopSeconds: 1 });
        const seqs: Record<string, number[]> = { 'http-flv': [], 'ws-flv': [] };
        const onFrame = (protocol: string) => (f: ViewerFrame) => f.mark !== null && seqs[protocol]!.push(f.mark.seq);
        viewers.push(await HttpFlvViewer.open({ url: `${http}/live/bp.flv`, onFrame: onFrame('http-flv') }));
        viewers.push(
          await WsFlvViewer.open({ url: `${http.replace('http', 'ws')}/live/bp.flv`, onFrame: onFrame('ws-flv') }),
        );
        // The stalled viewer: reads its headers and the start of the stream, then nothing.
        const stalled = net.connect(srv.addresses.httpPort!, '127.0.0.1');
        stalled.on('error', () => {});
        const stalledClosed = new Promise<void>((r) => stalled.once('close', () => r()));
        stalled.write('GET /live/bp.flv HTTP/1.1\r\nHost: x\r\n\r\n');
        await new Promise<void>((r) => stalled.once('data', () => r()));
        stalled.pause();
        const localPort = stalled.localPort!;
        const mine = (): HttpViewerStats | undefined =>
          srv.server.getStats().http!.viewerDetails.find((v) => v.remote.endsWith(`:${localPort}`));
        let maxQueued = 0;
        let drops = 0;
        const sampler = setInterval(() => {
          const v = mine();
          if (v === undefined) return;
          maxQueued = Math.max(maxQueued, v.queuedBytes);
          drops = v.drops.video;
        }, 50);
        await pub.done;
        const sent = pub.publisher.videoFramesSent;
        await waitFor(
          () => seqs['http-flv']!.length >= sent && seqs['ws-flv']!.length >= sent,
          15_000,
          'the healthy viewers to catch up',
        ).catch((e) => {
          console.log(
            `frames sent ${sent}, HTTP-FLV ${seqs['http-flv']!.length}, WS-FLV ${seqs['ws-flv']!.length}; viewers ${JSON.stringify(srv.server.getStats().http!.viewerDetails)}`,
          );
          throw e;
        });
        clearInterval(sampler);
        const all = Array.from({ length: sent }, (_, i) => i);
        expect(seqs['http-flv']).toEqual(all);
        expect(seqs['ws-flv']).toEqual(all);
        expect(maxQueued).toBeLessThanOrEqual(MAX_QUEUED);
        expect(drops).toBeGreaterThan(0);
        const stats = srv.server.getStats();
        expect(stats.streams.find((s) => s.key === 'live/bp')!.drops.video).toBeGreaterThanOrEqual(
          stats.http!.drops.video,
        );
        if (policy === 'disconnect') {
          stalled.resume();
          await stalledClosed;
          expect(stats.http!.closedByReason['slow-player']).toBe(1);
        } else {
          expect(drops).toBeGreaterThan(sent / 4);
          expect(mine()).toBeDefined();
          expect(stats.http!.closedByReason['slow-player']).toBeUndefined();
        }
        stalled.destroy();
        pub.stop(true);
      } finally {
        for (const v of viewers) v.close();
        await srv.close();
      }
    }, 60_000);
  }
});
