import http from 'node:http';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { ClientClose } from '../../src/client/errors.js';
import { HttpFlvViewer } from '../../src/client/http-flv-viewer.js';
import type { Viewer, ViewerFrame } from '../../src/client/viewer.js';
import { WsFlvViewer } from '../../src/client/ws-flv-viewer.js';
import { writeFlv } from '../../src/media/flv-file.js';
import { syntheticTags } from '../helpers/media-files.js';
import { waitFor } from '../helpers/server.js';

/**
 * HTTP-FLV and WebSocket-FLV viewers against a small local server that sends a synthetic FLV
 * stream in odd-sized writes: behaviour that does not need a real media server (start-up,
 * errors, own connections). The real peers are in flv-viewers-nms.test.ts.
 */

interface Local {
  port: number;
  /** Remote ports of the connections the server accepted. */
  remotePorts: number[];
  close: () => Promise<void>;
}

const FLV = writeFlv(syntheticTags(50));

/** Serves FLV at /live/s.flv over HTTP and WebSocket; /live/garbage.flv sends HTML; others 404. */
async function localServer(opts: { endAfterBytes?: number } = {}): Promise<Local> {
  const remotePorts: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    if (req.url === '/live/garbage.flv') {
      res.writeHead(200, { 'content-type': 'video/x-flv' });
      res.end('<html>not a stream</html>');
      return;
    }
    if (req.url !== '/live/s.flv') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'video/x-flv' });
    const end = Math.min(opts.endAfterBytes ?? FLV.length, FLV.length);
    // Odd-sized writes, so tags straddle reads.
    for (let o = 0; o < end; o += 977) res.write(FLV.subarray(o, Math.min(end, o + 977)));
    if (opts.endAfterBytes !== undefined) res.end();
  });
  server.on('connection', (s) => {
    remotePorts.push(s.remotePort!);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ server, verifyClient: (info, cb) => cb(info.req.url === '/live/s.flv', 404) });
  wss.on('connection', (ws) => {
    for (let o = 0; o < FLV.length; o += 1500) ws.send(FLV.subarray(o, o + 1500));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    remotePorts,
    close: async () => {
      for (const s of sockets) s.destroy();
      wss.close();
      await new Promise((r) => server.close(r));
    },
  };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function collect(v: Viewer): { frames: ViewerFrame[]; ends: ClientClose[] } {
  const frames: ViewerFrame[] = [];
  const ends: ClientClose[] = [];
  v.onFrame = (f) => frames.push({ ...f, mark: f.mark === null ? null : { ...f.mark } });
  v.onEnd = (e) => ends.push(e);
  return { frames, ends };
}

const kinds = [
  ['HTTP-FLV', (port: number, path = 's') => HttpFlvViewer.open({ url: `http://127.0.0.1:${port}/live/${path}.flv` })],
  ['WS-FLV', (port: number, path = 's') => WsFlvViewer.open({ url: `ws://127.0.0.1:${port}/live/${path}.flv` })],
] as const;

describe.each(kinds)('%s viewer against a local server', (name, open) => {
  it('reports every frame with its mark, keyframes, timestamps, counters and start-up times in order', async () => {
    const srv = await localServer();
    cleanups.push(srv.close);
    const v = await open(srv.port);
    cleanups.push(() => v.close());
    const { frames } = collect(v);
    await waitFor(() => v.counters.videoFrames === 50, 5000, '50 frames');
    expect(v.protocol).toBe(name === 'HTTP-FLV' ? 'http-flv' : 'ws-flv');
    expect(v.counters).toMatchObject({
      videoFrames: 50,
      keyframes: 2,
      marks: 50,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
    });
    expect(v.counters.audioFrames).toBeGreaterThan(80);
    expect(v.counters.bytesReceived).toBeGreaterThanOrEqual(FLV.length);
    expect(v.counters.mediaBytes).toBeGreaterThan(FLV.length * 0.9);
    // Frames arrived with the stream already open can precede onFrame being set; the counters hold them all.
    expect(frames.length).toBeLessThanOrEqual(50);
    const t = v.timings;
    expect(t.openUs).toBeGreaterThan(0);
    expect(t.connectedUs).toBeGreaterThanOrEqual(t.openUs);
    expect(t.requestUs).toBeGreaterThanOrEqual(t.connectedUs);
    expect(t.startedUs).toBeGreaterThanOrEqual(t.requestUs);
    expect(t.firstFrameUs).toBeGreaterThanOrEqual(t.startedUs);
    expect(t.firstKeyframeUs).toBe(t.firstFrameUs);
  });

  it('hands frames to onFrame given at open, marks in sequence and timestamps from the tags', async () => {
    const srv = await localServer();
    cleanups.push(srv.close);
    const frames: ViewerFrame[] = [];
    const onFrame = (f: ViewerFrame) => frames.push({ ...f, mark: f.mark === null ? null : { ...f.mark } });
    const url =
      name === 'HTTP-FLV' ? `http://127.0.0.1:${srv.port}/live/s.flv` : `ws://127.0.0.1:${srv.port}/live/s.flv`;
    const v =
      name === 'HTTP-FLV' ? await HttpFlvViewer.open({ url, onFrame }) : await WsFlvViewer.open({ url, onFrame });
    cleanups.push(() => v.close());
    await waitFor(() => frames.length === 50, 5000, '50 frames');
    expect(frames.map((f) => f.mark?.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(frames.map((f) => f.timestampMs)).toEqual(Array.from({ length: 50 }, (_, i) => i * 40));
    expect(frames.filter((f) => f.keyframe).map((f) => f.mark?.seq)).toEqual([0, 25]);
  });

  it('keeps each viewer on a connection of its own', async () => {
    const srv = await localServer();
    cleanups.push(srv.close);
    const a = await open(srv.port);
    const b = await open(srv.port);
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    await waitFor(() => a.counters.videoFrames === 50 && b.counters.videoFrames === 50, 5000, 'both viewers');
    expect(new Set(srv.remotePorts).size).toBe(2);
  });

  it('fails to open with kind rejected on an unknown stream and refused on a closed port', async () => {
    const srv = await localServer();
    cleanups.push(srv.close);
    await expect(open(srv.port, 'nothing')).rejects.toMatchObject({
      failure: 'rejected',
      message: expect.stringContaining('HTTP 404'),
    });
    const port = srv.port;
    await srv.close();
    cleanups.pop();
    await expect(open(port)).rejects.toMatchObject({ failure: 'refused' });
  });
});

describe('HTTP-FLV viewer endings', () => {
  it('ends with kind protocol when the body is not FLV', async () => {
    const srv = await localServer();
    cleanups.push(srv.close);
    const ends: ClientClose[] = [];
    const v = await HttpFlvViewer.open({
      url: `http://127.0.0.1:${srv.port}/live/garbage.flv`,
      onEnd: (e) => ends.push(e),
    });
    await waitFor(() => ends.length === 1, 5000, 'the end');
    expect(ends[0]!.kind).toBe('protocol');
    expect(ends[0]!.message).toMatch(/FLV header/);
    expect(v.closed).toBe(true);
  });

  it('ends with kind closed when the server ends the stream, and close() reports nothing more', async () => {
    const srv = await localServer({ endAfterBytes: 20_000 });
    cleanups.push(srv.close);
    const ends: ClientClose[] = [];
    const v = await HttpFlvViewer.open({ url: `http://127.0.0.1:${srv.port}/live/s.flv`, onEnd: (e) => ends.push(e) });
    await waitFor(() => ends.length === 1, 5000, 'the end');
    expect(ends).toEqual([{ kind: 'closed', message: 'the server ended the stream' }]);
    v.close();
    expect(ends).toHaveLength(1);
  });

  it('close() ends a playing viewer with kind local', async () => {
    const srv = await localServer();
    cleanups.push(srv.close);
    const v = await HttpFlvViewer.open({ url: `http://127.0.0.1:${srv.port}/live/s.flv` });
    const { ends } = collect(v);
    v.close();
    expect(ends).toEqual([{ kind: 'local', message: 'closed by the viewer' }]);
    expect(v.closed).toBe(true);
  });
});
