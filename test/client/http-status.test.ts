import { afterEach, describe, expect, it } from 'vitest';
import { ClientError } from '../../src/client/errors.js';
import { HlsViewer } from '../../src/client/hls-viewer.js';
import { HttpFlvViewer } from '../../src/client/http-flv-viewer.js';
import { WsFlvViewer } from '../../src/client/ws-flv-viewer.js';
import { startServer, type TestServer } from '../helpers/server.js';

/**
 * An HTTP viewer refused by the server says with which status, as a field: the generator asks
 * again on a 404 (a stream not there yet) by reading it, not the message.
 */

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function httpOrigin(): Promise<number> {
  const srv = await startServer({ httpPort: 0 });
  servers.push(srv);
  return srv.addresses.httpPort!;
}

const OPENERS: [string, (port: number) => Promise<unknown>][] = [
  ['HTTP-FLV', (port) => HttpFlvViewer.open({ url: `http://127.0.0.1:${port}/live/nothing.flv`, timeoutMs: 2000 })],
  ['WS-FLV', (port) => WsFlvViewer.open({ url: `ws://127.0.0.1:${port}/live/nothing.flv`, timeoutMs: 2000 })],
  ['HLS', (port) => HlsViewer.open({ url: `http://127.0.0.1:${port}/live/nothing/index.m3u8`, timeoutMs: 2000 })],
];

describe('a refused HTTP viewer carries the status', () => {
  it.each(OPENERS)(
    '%s viewer of a stream the built-in server does not have: rejected, status 404',
    async (_name, open) => {
      const e = await open(await httpOrigin()).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ClientError);
      expect(e).toMatchObject({ failure: 'rejected', status: 404, code: 'RTMP_ERR_CLIENT_REJECTED' });
    },
  );

  it('a viewer that got no answer (connection refused) has no status', async () => {
    const port = await httpOrigin();
    await servers.pop()!.close();
    const e = await HttpFlvViewer.open({ url: `http://127.0.0.1:${port}/live/s.flv`, timeoutMs: 1000 }).catch(
      (x: unknown) => x,
    );
    expect(e).toMatchObject({ failure: 'refused' });
    expect((e as ClientError).status).toBeUndefined();
  });
});
