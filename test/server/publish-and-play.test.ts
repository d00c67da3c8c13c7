import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClientConnection } from '../../src/client/connection.js';
import { SyntheticSource } from '../../src/media/synthetic.js';
import { monotonicUs } from '../../src/media/timing-mark.js';
import { CSID_VIDEO, MSG_VIDEO } from '../../src/protocol/constants.js';
import { play } from '../helpers/media.js';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';

/**
 * One connection that publishes a stream and plays another (a call, a monitor of its own
 * output): what it publishes must reach its viewers whatever it did after publishing.
 */
describe('a connection that publishes and plays', () => {
  let srv: TestServer;
  beforeEach(async () => {
    srv = await startServer();
  });
  afterEach(async () => {
    await srv.close();
  });

  /** Publishes `name` on `conn` and sends the sequence header and `frames` frames of a synthetic source. */
  function sendFrames(conn: ClientConnection, streamId: number, frames: number): void {
    const source = new SyntheticSource({ videoBitrate: 300_000, fps: 30, gopSeconds: 1, audioBitrate: 0 });
    conn.send({ csid: CSID_VIDEO, typeId: MSG_VIDEO, streamId, timestamp: 0, payload: source.videoSequenceHeader()! });
    for (let i = 0; i < frames; i++) {
      const f = source.videoFrame(i, monotonicUs());
      conn.send({ csid: CSID_VIDEO, typeId: MSG_VIDEO, streamId, timestamp: f.timestampMs, payload: f.payload });
    }
  }

  it.each([
    { settings: {}, label: 'batched reads' },
    { settings: { batchReads: false }, label: 'a write per message' },
  ])('feeds the viewers of what it publishes after it starts playing another stream ($label)', async ({ settings }) => {
    await srv.close();
    srv = await startServer(settings);
    const viewer = await play(srv.url(), 'mine');
    const conn = await ClientConnection.open({ url: srv.url() });
    const streamId = await conn.publish('mine');
    await conn.play('theirs');
    sendFrames(conn, streamId, 30);
    await waitFor(() => viewer.frames.length === 30, 5000, 'the 30 frames at the viewer');
    expect(viewer.seqs).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // Nothing waits in the stream for a flush that would never come.
    expect(srv.server.getStats().streams.find((s) => s.key === 'live/mine')!.messagesIn).toBe(31);
    conn.close();
    viewer.player.close();
  });

  it('sees its own stream when it plays what it publishes', async () => {
    const conn = await ClientConnection.open({ url: srv.url() });
    let frames = 0;
    conn.onMedia = (m) => {
      if (m.typeId === MSG_VIDEO) frames++;
    };
    const streamId = await conn.publish('loop');
    await conn.play('loop');
    sendFrames(conn, streamId, 10);
    // The sequence header and ten frames come back on the play stream.
    await waitFor(() => frames === 11, 5000, 'its own frames');
    conn.close();
  });
});
