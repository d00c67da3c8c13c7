import { describe, expect, it } from 'vitest';
import { HlsViewer } from '../../src/client/hls-viewer.js';
import { HttpFlvViewer } from '../../src/client/http-flv-viewer.js';
import { parseRtmpUrl } from '../../src/client/url.js';
import type { Viewer, ViewerFrame } from '../../src/client/viewer.js';
import { WsFlvViewer } from '../../src/client/ws-flv-viewer.js';
import { serverAvailability, startServer, type RunningServer, type ServerKind } from '../../src/proc/servers.js';
import { publish } from '../helpers/media.js';
import { hasTool } from '../helpers/tools.js';
import { waitFor } from '../helpers/server.js';

/**
 * Servers under test started with their HTTP outputs (`startServer(kind, { http })`): each
 * reports its HTTP port and play URLs, and our viewers play a synthetic publication through
 * every protocol it serves, marks in order.
 */

const nginx = hasTool('nginx', 'apt-get install nginx libnginx-mod-rtmp') && serverAvailability('nginx-rtmp').available;
if (!nginx && process.env.CI && hasTool('nginx'))
  throw new Error('the nginx RTMP module is required in CI (apt-get install libnginx-mod-rtmp)');
const nms = serverAvailability('node-media-server').available;

const OPENERS = {
  'http-flv': (url: string, onFrame: (f: ViewerFrame) => void) => HttpFlvViewer.open({ url, onFrame }),
  'ws-flv': (url: string, onFrame: (f: ViewerFrame) => void) => WsFlvViewer.open({ url, onFrame }),
  hls: (url: string, onFrame: (f: ViewerFrame) => void) => HlsViewer.open({ url, onFrame, liveSyncSegments: 1 }),
} as const;

/** Opens a viewer, retrying while the server has nothing to serve yet (HLS before its first fragment). */
async function openWhenReady(
  protocol: keyof typeof OPENERS,
  url: string,
  onFrame: (f: ViewerFrame) => void,
): Promise<Viewer> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await OPENERS[protocol](url, onFrame);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function playEvery(kind: ServerKind, protocols: (keyof typeof OPENERS)[]): Promise<void> {
  const server: RunningServer = await startServer(kind, { http: { hlsFragmentS: 1, hlsPlaylistS: 4 } });
  const viewers: Viewer[] = [];
  try {
    expect(server.httpPort).toBeGreaterThan(0);
    expect(Object.keys(server.playUrls).sort()).toEqual(['rtmp', ...protocols].sort());
    const pub = await publish(parseRtmpUrl(server.url), 'p', { seconds: 6, gopSeconds: 1 });
    const seqs: Record<string, number[]> = {};
    for (const protocol of protocols) {
      const got: number[] = [];
      seqs[protocol] = got;
      const url = server.playUrls[protocol]!.replace('{stream}', 'p');
      viewers.push(await openWhenReady(protocol, url, (f) => f.mark !== null && got.push(f.mark.seq)));
    }
    await waitFor(
      () => protocols.every((p) => seqs[p]!.length >= 30),
      20_000,
      `30 frames over ${protocols.join(', ')}`,
    );
    for (const protocol of protocols) {
      const got = seqs[protocol]!;
      // From wherever it joined, every frame in order.
      expect(got, protocol).toEqual(Array.from({ length: got.length }, (_, i) => got[0]! + i));
    }
    for (const v of viewers) expect(v.counters, v.protocol).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
    pub.stop(true);
  } finally {
    for (const v of viewers) v.close();
    await server.stop();
  }
}

describe('servers under test with their HTTP outputs', () => {
  it('the built-in server serves HTTP-FLV, WebSocket-FLV and HLS on its HTTP port', async () => {
    await playEvery('builtin', ['http-flv', 'ws-flv', 'hls']);
  }, 60_000);

  it.skipIf(!nms)(
    'node-media-server serves HTTP-FLV and WebSocket-FLV',
    async () => {
      await playEvery('node-media-server', ['http-flv', 'ws-flv']);
    },
    60_000,
  );

  it.skipIf(!nginx)(
    'nginx-rtmp writes HLS that its http block serves',
    async () => {
      await playEvery('nginx-rtmp', ['hls']);
    },
    60_000,
  );
});
