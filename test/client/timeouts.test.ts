import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientConnection } from '../../src/client/connection.js';
import { parseRtmpUrl } from '../../src/client/url.js';
import { HttpFlvViewer } from '../../src/client/http-flv-viewer.js';
import { ServerHandshake } from '../../src/protocol/handshake.js';

/**
 * A failed session says which of the generator's own deadlines ran out (a server that closes
 * the connection shows as `closed` instead): what a capacity run's failures are counted by.
 */

type Mode = 'silent' | 'handshake-only';

const servers: { srv: net.Server; sockets: Set<net.Socket> }[] = [];
afterEach(async () => {
  for (const { srv, sockets } of servers.splice(0)) {
    for (const s of sockets) s.destroy();
    await new Promise((r) => srv.close(r));
  }
});

/** A server that accepts and then says nothing, or completes the RTMP handshake and then says nothing. */
async function stuckServer(mode: Mode): Promise<number> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    if (mode === 'silent') return;
    const hs = new ServerHandshake();
    sock.on('data', (d) => {
      if (hs.done) return;
      for (const out of hs.push(d).output) sock.write(out);
    });
  });
  servers.push({ srv, sockets });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as net.AddressInfo).port;
}

describe('timeouts name the step that was waited for', () => {
  it('an RTMP server that never answers the handshake: timeout in handshake', async () => {
    const port = await stuckServer('silent');
    const e = await ClientConnection.open({ url: parseRtmpUrl(`rtmp://127.0.0.1:${port}/live`), timeoutMs: 300 }).catch(
      (x: unknown) => x,
    );
    expect(e).toMatchObject({ failure: 'timeout', stage: 'handshake', code: 'RTMP_ERR_CLIENT_TIMEOUT' });
  });

  it('an RTMP server that completes the handshake and never answers connect: timeout in connect command', async () => {
    const port = await stuckServer('handshake-only');
    const e = await ClientConnection.open({ url: parseRtmpUrl(`rtmp://127.0.0.1:${port}/live`), timeoutMs: 500 }).catch(
      (x: unknown) => x,
    );
    expect(e).toMatchObject({ failure: 'timeout', stage: 'connect command' });
  });

  it('an HTTP-FLV server that accepts and never answers: timeout in response headers', async () => {
    const port = await stuckServer('silent');
    const e = await HttpFlvViewer.open({ url: `http://127.0.0.1:${port}/live/s.flv`, timeoutMs: 300 }).catch(
      (x: unknown) => x,
    );
    expect(e).toMatchObject({ failure: 'timeout', stage: 'response headers' });
  });
});
