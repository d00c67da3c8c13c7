import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientClose } from '../../src/client/errors.js';
import { HttpFlvViewer } from '../../src/client/http-flv-viewer.js';
import { Player } from '../../src/client/player.js';
import { parseRtmpUrl } from '../../src/client/url.js';
import type { Viewer, ViewerFrame } from '../../src/client/viewer.js';
import { WsFlvViewer } from '../../src/client/ws-flv-viewer.js';
import { publish } from '../helpers/media.js';
import { hasNodeMediaServer, startNodeMediaServer, type Peer } from '../helpers/peers.js';
import { waitFor } from '../helpers/server.js';

const ready = hasNodeMediaServer();
if (!ready && process.env.CI) throw new Error('node-media-server is required in CI (npm install)');

/**
 * HTTP-FLV and WebSocket-FLV viewers against node-media-server, with our publisher sending a
 * marked synthetic stream over RTMP and an RTMP player beside them: every viewer reads the
 * same marks, in order, none lost.
 */
describe.skipIf(!ready)('FLV viewers against node-media-server', () => {
  let nms: Peer;
  beforeAll(async () => {
    nms = await startNodeMediaServer();
  });
  afterAll(async () => {
    await nms?.stop();
  });

  interface Watched {
    viewer: Viewer;
    frames: ViewerFrame[];
    ends: ClientClose[];
  }

  const watch = async (
    open: (onFrame: (f: ViewerFrame) => void, onEnd: (e: ClientClose) => void) => Promise<Viewer>,
  ): Promise<Watched> => {
    const frames: ViewerFrame[] = [];
    const ends: ClientClose[] = [];
    const viewer = await open(
      (f) => frames.push({ ...f, mark: f.mark === null ? null : { ...f.mark } }),
      (e) => ends.push(e),
    );
    return { viewer, frames, ends };
  };

  it('HTTP-FLV, WS-FLV and RTMP viewers of one published stream see every mark in order, live', async () => {
    const rtmp = parseRtmpUrl(`rtmp://127.0.0.1:${nms.rtmpPort}/live`);
    const pub = await publish(rtmp, 'mixed', { seconds: 4, fps: 30, gopSeconds: 1 });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const http = await watch((onFrame, onEnd) =>
        HttpFlvViewer.open({ url: `http://127.0.0.1:${nms.httpPort}/live/mixed.flv`, onFrame, onEnd }),
      );
      const ws = await watch((onFrame, onEnd) =>
        WsFlvViewer.open({ url: `ws://127.0.0.1:${nms.httpPort}/live/mixed.flv`, onFrame, onEnd }),
      );
      const rtmpFrames: ViewerFrame[] = [];
      const player = await Player.open({ url: rtmp, streamName: 'mixed' });
      player.onFrame = (f) => rtmpFrames.push({ ...f, mark: f.mark === null ? null : { ...f.mark } });
      const viewers = [http, ws];
      await pub.done;
      await waitFor(() => viewers.every((w) => w.frames.length > 60), 10_000, 'frames at every viewer');
      for (const w of viewers) {
        const c = w.viewer.counters;
        expect(c.marks, w.viewer.protocol).toBe(c.videoFrames);
        expect([c.lost, c.duplicated, c.outOfOrder], w.viewer.protocol).toEqual([0, 0, 0]);
        expect(c.keyframes).toBeGreaterThanOrEqual(2);
        expect(c.audioFrames).toBeGreaterThan(50);
        expect(c.bytesReceived).toBeGreaterThan(c.mediaBytes);
        const seqs = w.frames.map((f) => f.mark!.seq);
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
        // node-media-server starts each viewer at a keyframe (its GOP cache).
        expect(w.frames[0]!.keyframe).toBe(true);
        // Live frames (sent after the viewer connected) arrive well within a second on loopback.
        const live = w.frames.filter((f) => f.mark!.intendedUs > w.viewer.timings.startedUs);
        const latencies = live.map((f) => f.arrivalUs - f.mark!.intendedUs).sort((a, b) => a - b);
        expect(live.length).toBeGreaterThan(30);
        expect(latencies[Math.floor(latencies.length / 2)]!).toBeLessThan(500_000);
        expect(latencies[0]!).toBeGreaterThan(0);
        const t = w.viewer.timings;
        expect(t.firstKeyframeUs).toBeGreaterThanOrEqual(t.startedUs);
      }
      // The RTMP player of the same stream saw the same sequence numbers from its start on.
      const rtmpSeqs = new Set(rtmpFrames.map((f) => f.mark!.seq));
      expect(
        http.frames.filter((f) => f.mark!.seq >= Math.min(...rtmpSeqs)).every((f) => rtmpSeqs.has(f.mark!.seq)),
      ).toBe(true);
      // node-media-server keeps HTTP viewers waiting after the publisher leaves; they end when closed.
      for (const w of viewers) {
        w.viewer.close();
        expect(w.ends).toEqual([{ kind: 'local', message: 'closed by the viewer' }]);
      }
      player.close();
    } finally {
      pub.stop(true);
    }
  });

  it('viewers that join before the publisher get nothing, then the stream from its first keyframe', async () => {
    const frames: Record<string, ViewerFrame[]> = { 'http-flv': [], 'ws-flv': [] };
    const keep = (kind: string) => (f: ViewerFrame) =>
      frames[kind]!.push({ ...f, mark: f.mark === null ? null : { ...f.mark } });
    const viewers = [
      await HttpFlvViewer.open({ url: `http://127.0.0.1:${nms.httpPort}/live/later.flv`, onFrame: keep('http-flv') }),
      await WsFlvViewer.open({ url: `ws://127.0.0.1:${nms.httpPort}/live/later.flv`, onFrame: keep('ws-flv') }),
    ];
    try {
      await new Promise((r) => setTimeout(r, 500));
      expect(viewers.map((v) => v.counters.videoFrames)).toEqual([0, 0]);
      const pub = await publish(parseRtmpUrl(`rtmp://127.0.0.1:${nms.rtmpPort}/live`), 'later', {
        seconds: 2,
        fps: 30,
        gopSeconds: 1,
      });
      await pub.done;
      await waitFor(() => viewers.every((v) => v.counters.videoFrames >= 45), 10_000, 'frames');
      pub.stop(true);
      for (const v of viewers) {
        const seqs = frames[v.protocol]!.map((f) => f.mark!.seq);
        expect(seqs[0], v.protocol).toBe(0);
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i));
        expect(v.timings.firstFrameUs - v.timings.startedUs).toBeGreaterThan(400_000);
      }
    } finally {
      for (const v of viewers) v.close();
    }
  });
});
