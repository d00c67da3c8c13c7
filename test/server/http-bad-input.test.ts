import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HttpFlvViewer } from '../../src/client/http-flv-viewer.js';
import type { ViewerFrame } from '../../src/client/viewer.js';
import { play, publish, type CollectingPlayer, type RunningPublisher } from '../helpers/media.js';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';

/**
 * Bad HTTP input gets a clean status or a close and disturbs nobody: every case runs beside a
 * healthy publisher, RTMP player and HTTP-FLV viewer, which must still have every frame.
 */

interface RawPeer {
  socket: net.Socket;
  /** Everything the server sent so far. */
  text: () => string;
  closed: Promise<void>;
}

async function rawPeer(port: number): Promise<RawPeer> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((r, j) => {
    socket.once('connect', () => r());
    socket.once('error', j);
  });
  return { socket, text: () => received, closed };
}

/** The status line of the first response a peer got. */
const status = (p: RawPeer) => /^HTTP\/1\.1 (\d{3})/.exec(p.text())?.[1];

const MAX_CONNECTIONS = 12;
let srv: TestServer;
let httpPort: number;
let pub: RunningPublisher;
let rtmp: CollectingPlayer;
let flvSeqs: number[];
let flv: HttpFlvViewer;

beforeEach(async () => {
  srv = await startServer({
    httpPort: 0,
    handshakeTimeoutMs: 400,
    idleTimeoutMs: 2000,
    httpMaxConnections: MAX_CONNECTIONS,
  });
  httpPort = srv.addresses.httpPort!;
  rtmp = await play(srv.url(), 'healthy');
  pub = await publish(srv.url(), 'healthy', { seconds: 1.5 });
  flvSeqs = [];
  flv = await HttpFlvViewer.open({
    url: `http://127.0.0.1:${httpPort}/live/healthy.flv`,
    onFrame: (f: ViewerFrame) => f.mark !== null && flvSeqs.push(f.mark.seq),
  });
});

afterEach(async () => {
  await pub.done;
  await waitFor(
    () => rtmp.seqs.length === 45 && flvSeqs.length === 45,
    5000,
    'the healthy viewers to get all 45 frames',
  );
  const all = Array.from({ length: 45 }, (_, i) => i);
  expect(rtmp.seqs).toEqual(all);
  expect(flvSeqs).toEqual(all);
  expect(flv.closed).toBe(false);
  expect(srv.server.getStats().http?.drops.video).toBe(0);
  pub.stop(true);
  rtmp.player.close();
  flv.close();
  await srv.close();
});

describe('bad HTTP input gets a status or a close, and disturbs nobody', () => {
  it('garbage instead of a request: 400, closed', async () => {
    const peer = await rawPeer(httpPort);
    peer.socket.write('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n');
    await peer.closed;
    expect(status(peer)).toBe('400');
  });

  it('a slowloris request head (a byte every 50 ms): 408 after the handshake timeout, closed', async () => {
    const peer = await rawPeer(httpPort);
    peer.socket.write('GET /live/healthy.flv HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const drip = setInterval(() => peer.socket.write('a'), 50);
    await peer.closed;
    clearInterval(drip);
    expect(status(peer)).toBe('408');
  });

  it('a huge request head: 431, closed', async () => {
    const peer = await rawPeer(httpPort);
    peer.socket.write(`GET /live/healthy.flv HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`);
    await peer.closed;
    expect(status(peer)).toBe('431');
  });

  it('unknown paths, streams nobody publishes, path tricks and other methods: 404 or 405 on a connection that stays usable', async () => {
    const peer = await rawPeer(httpPort);
    const paths = [
      '/',
      '/live',
      '/live/healthy',
      '/live/nobody.flv',
      '/live/nobody/index.m3u8',
      '/live/healthy/zz-1.ts',
      '/live/../healthy.flv',
      '/live/%zz.flv',
      '/live/healthy/index.m3u8.bak',
    ];
    for (const p of paths) peer.socket.write(`GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`);
    peer.socket.write('DELETE /live/healthy.flv HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => (peer.text().match(/^HTTP\/1\.1 /gm) ?? []).length === paths.length + 1, 5000, 'every answer');
    const statuses = [...peer.text().matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1]);
    expect(statuses).toEqual([...paths.map(() => '404'), '405']);
    expect(peer.text()).toContain('access-control-allow-origin: *');
    peer.socket.destroy();
  });

  it('more connections than httpMaxConnections: the extra ones are closed at once', async () => {
    const peers: RawPeer[] = [];
    for (let i = 0; i < MAX_CONNECTIONS + 4; i++) peers.push(await rawPeer(httpPort));
    // The healthy viewer holds one: the last five are over the bound.
    await Promise.all(peers.slice(-5).map((p) => p.closed));
    expect(srv.server.getStats().http?.connections.rejected).toBe(5);
    for (const p of peers) p.socket.destroy();
  });

  it('a flood of pipelined requests whose answers are never read: the server stops reading that connection', async () => {
    const peer = await rawPeer(httpPort);
    peer.socket.pause();
    const request = Buffer.from('GET /live/nobody/index.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n');
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => request));
    let sent = 0;
    // Writes until the kernel stops taking them (the server reads no more), or 200 000 requests.
    while (sent < 200_000 && peer.socket.write(batch)) sent += 1000;
    sent += 1000;
    await new Promise((r) => setTimeout(r, 300));
    expect(srv.server.getStats().http!.responses['404'] ?? 0).toBeLessThan(sent);
    peer.socket.destroy();
  });

  it('garbage from an HTTP-FLV viewer after its request: that viewer is closed', async () => {
    const peer = await rawPeer(httpPort);
    peer.socket.write('GET /live/healthy.flv HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => peer.text().includes('FLV'), 5000, 'the FLV header');
    peer.socket.write('\x00\x01garbage\r\n\r\n');
    await peer.closed;
    expect(status(peer)).toBe('200');
  });

  it('WebSocket upgrades to unknown paths, without a key, and with oversized messages: a status or a close', async () => {
    const unknown = await rawPeer(httpPort);
    unknown.socket.write(
      'GET /live/nobody.flv HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await unknown.closed;
    expect(status(unknown)).toBe('404');
    const keyless = await rawPeer(httpPort);
    keyless.socket.write(
      'GET /live/healthy.flv HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await keyless.closed;
    expect(status(keyless)).toBe('400');
    const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/live/healthy.flv`);
    ws.on('error', () => {});
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(Buffer.alloc(1024 * 1024));
    expect(await closed).toBe(1009); // message too big
  });
});
