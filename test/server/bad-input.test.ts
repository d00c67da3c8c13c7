import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClientConnection } from '../../src/client/connection.js';
import { ChunkWriter, flattenEncoded } from '../../src/protocol/chunk-writer.js';
import { connectCommand } from '../../src/protocol/commands.js';
import type { CloseKind } from '../../src/server/close-reason.js';
import { hex } from '../helpers/bytes.js';
import { rawPeer } from '../helpers/raw-peer.js';
import { play, publish, type CollectingPlayer, type RunningPublisher } from '../helpers/media.js';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let pub: RunningPublisher;
let watcher: CollectingPlayer;

/**
 * Every case runs beside a healthy publisher and player: after the bad peer is thrown out,
 * the player must still have every frame.
 */
beforeEach(async () => {
  srv = await startServer({
    handshakeTimeoutMs: 400,
    maxMessageBytes: 1024 * 1024,
    maxChunkStreams: 32,
    idleTimeoutMs: 600,
    pingIntervalMs: 100,
  });
  watcher = await play(srv.url(), 'healthy');
  pub = await publish(srv.url(), 'healthy', { seconds: 1.5 });
});

afterEach(async () => {
  await pub.done;
  await waitFor(() => watcher.seqs.length === 45, 5000, 'the healthy player to get all 45 frames');
  expect(watcher.seqs).toEqual(Array.from({ length: 45 }, (_, i) => i));
  expect(watcher.player.closed).toBe(false);
  pub.stop(true);
  watcher.player.close();
  await srv.close();
});

/** The bad peer was closed for `kind`: counted under that kind in the stats, and logged with it. */
function closedFor(kind: CloseKind): boolean {
  const counted = (srv.server.getStats().connections.closedByReason[kind] ?? 0) >= 1;
  return counted && srv.logs.some((l) => l.includes('connection closed') && l.includes(`reason="${kind}`));
}

describe('bad input closes only the offending connection', () => {
  it('garbage before the handshake (an HTTP request)', async () => {
    const peer = await rawPeer(srv.port, false);
    peer.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await peer.closed;
    expect(closedFor('RTMP_ERR_HANDSHAKE_VERSION')).toBe(true);
  });

  it('garbage after the handshake', async () => {
    const peer = await rawPeer(srv.port, true);
    peer.socket.write(Buffer.alloc(64, 0xc5)); // fmt-3 chunks on a chunk stream never opened
    await peer.closed;
    expect(closedFor('RTMP_ERR_CHUNK_STREAM_UNINITIALISED')).toBe(true);
  });

  it('a slowloris handshake (one byte at a time)', async () => {
    const peer = await rawPeer(srv.port, false);
    peer.socket.write(Buffer.from([3]));
    const drip = setInterval(() => peer.socket.write(Buffer.from([0x42])), 50);
    await peer.closed;
    clearInterval(drip);
    expect(closedFor('handshake-timeout')).toBe(true);
  });

  it('a huge message length', async () => {
    const peer = await rawPeer(srv.port, true);
    peer.socket.write(hex('03 000000 fffff0 14 00000000 02000763'));
    await peer.closed;
    expect(closedFor('RTMP_ERR_MESSAGE_TOO_LARGE')).toBe(true);
  });

  it('thousands of chunk streams', async () => {
    const peer = await rawPeer(srv.port, true);
    const parts: Buffer[] = [];
    for (let csid = 3; csid < 3003; csid++) {
      const w = new ChunkWriter();
      parts.push(
        // Acknowledgements: control messages, which a peer may send before connect.
        flattenEncoded(w.encode({ csid, typeId: 3, streamId: 0, timestamp: 0, payload: Buffer.from([0, 0, 0, 1]) })),
      );
    }
    peer.socket.write(Buffer.concat(parts));
    await peer.closed;
    expect(closedFor('RTMP_ERR_CHUNK_STREAM_LIMIT')).toBe(true);
  });

  it('a command with malformed AMF', async () => {
    const peer = await rawPeer(srv.port, true);
    const w = new ChunkWriter();
    const good = connectCommand({ app: 'live', tcUrl: 'rtmp://127.0.0.1/live' });
    const broken = good.payload.subarray(0, good.payload.length - 10); // the object never ends
    peer.socket.write(flattenEncoded(w.encode({ ...good, payload: broken })));
    await peer.closed;
    expect(closedFor('RTMP_ERR_AMF_TRUNCATED')).toBe(true);
  });

  it('a publisher that never sends media', async () => {
    const conn = await ClientConnection.open({ url: srv.url() });
    await conn.publish('silent');
    await waitFor(() => conn.isClosed, 3000, 'the silent publisher to be closed');
    expect(closedFor('publisher-idle')).toBe(true);
  });

  it('a peer that connects and says nothing', async () => {
    const peer = await rawPeer(srv.port, false);
    await peer.closed;
    expect(closedFor('handshake-timeout')).toBe(true);
  });
});
