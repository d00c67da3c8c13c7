import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConnection } from '../../src/client/connection.js';
import type { CloseKind } from '../../src/server/close-reason.js';
import { ReassemblyBudget, IntakeGate } from '../../src/server/intake.js';
import { resolveServerConfig } from '../../src/server/config.js';
import { play, publish, type CollectingPlayer, type RunningPublisher } from '../helpers/media.js';
import { rawPeer } from '../helpers/raw-peer.js';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';

/** A fmt-0 chunk header on chunk stream `csid` (2..63): what starts a message of `length` bytes. */
function header(csid: number, typeId: number, length: number, streamId = 0): Buffer {
  const b = Buffer.alloc(12);
  b[0] = csid;
  b.writeUIntBE(length, 4, 3);
  b[7] = typeId;
  b.writeUInt32LE(streamId, 8);
  return b;
}

/** A peer that completed the handshake and nothing more. */
const handshaken = (port: number) => rawPeer(port, true);

describe('IntakeGate', () => {
  const config = resolveServerConfig({ maxMessageBytes: 1024 * 1024, maxPartialBytes: 2 * 1024 * 1024 });
  const refusals: CloseKind[] = [];
  const gate = (budget = new ReassemblyBudget(64 * 1024 * 1024)) =>
    new IntakeGate(config, budget, (r) => refusals.push(r.kind));

  it('takes commands and control before connect, data after it, media once the peer has published', () => {
    refusals.length = 0;
    const g = gate();
    expect([1, 3, 4, 5, 6, 17, 20].every((t) => g.admit(t, 100))).toBe(true);
    expect(g.admit(18, 100)).toBe(false);
    expect(g.admit(9, 100)).toBe(false);
    g.stage = 'connected';
    expect(g.admit(18, 100)).toBe(true);
    expect(g.admit(8, 100)).toBe(false);
    expect(g.admit(22, 100)).toBe(false);
    expect(g.admit(20, 16 * 1024 + 1)).toBe(false);
    g.stage = 'published';
    expect(g.admit(9, 1024 * 1024)).toBe(true);
    expect(refusals).toEqual([
      'message-before-connect',
      'message-before-connect',
      'media-before-publish',
      'media-before-publish',
      'command-too-large',
    ]);
  });

  it('bounds what one peer holds by its stage, and what all hold together', () => {
    refusals.length = 0;
    const budget = new ReassemblyBudget(3 * 1024 * 1024);
    const a = gate(budget);
    expect(a.hold(16 * 1024)).toBe(true);
    expect(a.hold(1)).toBe(false); // before publish: maxCommandBytes in all
    a.unhold(16 * 1024);
    a.stage = 'published';
    expect(a.hold(1024 * 1024)).toBe(true);
    expect(a.hold(1024 * 1024)).toBe(true);
    expect(a.hold(1)).toBe(false); // maxPartialBytes
    const b = gate(budget);
    b.stage = 'published';
    expect(b.hold(1024 * 1024)).toBe(true);
    expect(b.hold(1)).toBe(false); // the server's 3 MB
    expect(budget.heldBytes).toBe(3 * 1024 * 1024);
    a.unhold(2 * 1024 * 1024);
    b.unhold(1024 * 1024);
    expect(budget.heldBytes).toBe(0);
    expect(budget.peakBytes).toBe(3 * 1024 * 1024);
    expect(refusals).toEqual(['partial-bytes-limit', 'partial-bytes-limit', 'server-partial-bytes-limit']);
  });

  it('refuses settings where one publisher could not hold its largest message', () => {
    expect(() => resolveServerConfig({ maxMessageBytes: 4 * 1024 * 1024, maxPartialBytes: 1024 * 1024 })).toThrow(
      /maxPartialBytes/,
    );
    expect(() =>
      resolveServerConfig({ maxPartialBytes: 32 * 1024 * 1024, maxServerPartialBytes: 16 * 1024 * 1024 }),
    ).toThrow(/maxServerPartialBytes/);
  });
});

describe('the built-in server bounds what peers make it hold', () => {
  let srv: TestServer;
  let watcher: CollectingPlayer;
  let pub: RunningPublisher;

  beforeAll(async () => {
    srv = await startServer({
      maxMessageBytes: 1024 * 1024,
      maxPartialBytes: 1536 * 1024,
      maxServerPartialBytes: 3 * 1024 * 1024,
      maxConnectionsPerAddress: 12,
    });
    watcher = await play(srv.url(), 'healthy');
    pub = await publish(srv.url(), 'healthy', { seconds: 2 });
  });

  afterAll(async () => {
    await pub.done;
    await waitFor(() => watcher.seqs.length === 60, 5000, 'the healthy player to get all 60 frames');
    expect(watcher.seqs).toEqual(Array.from({ length: 60 }, (_, i) => i));
    pub.stop(true);
    watcher.player.close();
    await srv.close();
  });

  const closed = (kind: CloseKind) => srv.server.getStats().connections.closedByReason[kind] ?? 0;

  it('closes a peer that sends media, or a command above maxCommandBytes, before connect', async () => {
    const media = await handshaken(srv.port);
    media.socket.write(Buffer.concat([header(6, 9, 2, 1), Buffer.from([0x17, 0x01])]));
    const large = await handshaken(srv.port);
    large.socket.write(header(3, 20, 16 * 1024 + 1)); // the header alone
    await Promise.all([media.closed, large.closed]);
    expect(closed('message-before-connect')).toBe(1);
    expect(closed('command-too-large')).toBe(1);
  });

  it('closes a connected peer that sends media before publishing, or holds more than maxCommandBytes', async () => {
    const media = await ClientConnection.open({ url: srv.url() });
    media.socket.write(header(40, 8, 200, 1)); // an audio header: nothing more needed
    const held = await ClientConnection.open({ url: srv.url() });
    // Two 10 KB commands, each cut after its first chunk (the client's chunk size is 4096).
    held.socket.write(Buffer.concat([header(41, 20, 10 * 1024), Buffer.alloc(4096, 5)]));
    held.socket.write(Buffer.concat([header(42, 20, 10 * 1024), Buffer.alloc(4096, 5)]));
    await waitFor(() => media.isClosed && held.isClosed, 3000, 'both peers to be closed');
    expect(closed('media-before-publish')).toBe(1);
    expect(closed('partial-bytes-limit')).toBe(1);
  });

  it('holds a publisher to maxPartialBytes and all peers to maxServerPartialBytes, counted by declared lengths', async () => {
    const publishers = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const c = await ClientConnection.open({ url: srv.url() });
        await c.publish(`p${i}`);
        return c;
      }),
    );
    const [a, b, c, d] = publishers as [ClientConnection, ClientConnection, ClientConnection, ClientConnection];
    // One 1 MB video message each, its first chunk only: 1 MB held per publisher (3 MB is the server's bound).
    const firstChunk = (csid: number, length = 1024 * 1024) =>
      Buffer.concat([header(csid, 9, length, 1), Buffer.alloc(4096, 0x17)]);
    a.socket.write(firstChunk(40));
    b.socket.write(firstChunk(40));
    await waitFor(() => srv.server.reassembly.heldBytes === 2 * 1024 * 1024, 3000, '2 MB held');
    a.socket.write(firstChunk(41)); // 2 MB on one connection: over its 1.5 MB
    await waitFor(() => a.isClosed, 3000, 'the first publisher to be closed');
    expect(closed('partial-bytes-limit')).toBe(2);
    expect(srv.server.reassembly.heldBytes).toBe(1024 * 1024); // a's was given back
    c.socket.write(firstChunk(40));
    d.socket.write(firstChunk(40));
    await new Promise((r) => setTimeout(r, 100));
    // 256 KB more: within d's own 1.5 MB, over the server's 3 MB.
    d.socket.write(firstChunk(41, 256 * 1024));
    await waitFor(() => d.isClosed, 3000, 'the publisher over the server-wide bound to be closed');
    expect(closed('server-partial-bytes-limit')).toBe(1);
    expect(b.isClosed || c.isClosed).toBe(false);
    for (const p of publishers) p.close();
    await waitFor(() => srv.server.reassembly.heldBytes === 0, 3000, 'everything held to be given back');
  });

  it(`refuses connections from one address beyond maxConnectionsPerAddress`, async () => {
    const open = srv.server.getStats().connections.open;
    const rejected = srv.server.getStats().connections.rejected;
    const extra = await Promise.all(Array.from({ length: 12 - open }, () => handshaken(srv.port)));
    const over = net.connect(srv.port, '127.0.0.1');
    over.on('error', () => {});
    await new Promise<void>((r) => over.once('close', () => r()));
    expect(srv.server.getStats().connections.rejected).toBe(rejected + 1);
    extra[0]!.socket.destroy();
    await extra[0]!.closed;
    await waitFor(() => srv.server.getStats().connections.open === 11, 3000, 'the server to see the close');
    const again = await handshaken(srv.port);
    expect(srv.server.getStats().connections.open).toBe(12);
    for (const p of [...extra, again]) p.socket.destroy();
  });
});
