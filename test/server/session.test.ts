import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate, type SelfSignedCertificate } from '../../src/proc/tls-cert.js';
import { ClientConnection } from '../../src/client/connection.js';
import { Publisher } from '../../src/client/publisher.js';
import { SyntheticSource } from '../../src/media/synthetic.js';
import { monotonicUs } from '../../src/media/timing-mark.js';
import { Player } from '../../src/client/player.js';
import { parseRtmpUrl } from '../../src/client/url.js';
import { parseData } from '../../src/protocol/commands.js';
import {
  MSG_ACKNOWLEDGEMENT,
  MSG_AUDIO,
  MSG_DATA_AMF0,
  MSG_VIDEO,
  UC_STREAM_EOF,
} from '../../src/protocol/constants.js';
import { windowAckSizeMessage } from '../../src/protocol/control.js';
import { parseAudioTag, parseVideoTag } from '../../src/protocol/media-tags.js';
import { play, publish } from '../helpers/media.js';
import { startServer, waitFor } from '../helpers/server.js';

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('publish and play', () => {
  it('makes a player that joins before the publisher wait, then gives it every frame in order', async () => {
    const srv = await startServer();
    try {
      const p = await play(srv.url(), 's1');
      expect(srv.server.getStats().streams[0]).toMatchObject({ publishing: false, players: 1 });
      const pub = await publish(srv.url(), 's1', { seconds: 1.5 });
      await pub.done;
      await waitFor(() => p.seqs.length === 45, 5000, '45 frames');
      expect(p.seqs).toEqual(range(0, 45));
      expect(p.frames[0]!.keyframe).toBe(true);
      expect(p.player.counters).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
      pub.stop(true);
      p.player.close();
    } finally {
      await srv.close();
    }
  });

  it('sends a joiner metadata and sequence headers before the first frame', async () => {
    const srv = await startServer();
    try {
      const pub = await publish(srv.url(), 's2', { seconds: 3 });
      await waitFor(() => pub.publisher.videoFramesSent > 10);
      const conn = await ClientConnection.open({ url: srv.url() });
      const kinds: string[] = [];
      conn.onMedia = (m) => {
        if (m.typeId === MSG_DATA_AMF0) kinds.push(`data:${parseData(m.payload).name}`);
        else if (m.typeId === MSG_VIDEO) kinds.push(parseVideoTag(m.payload).sequenceHeader ? 'video-config' : 'video');
        else if (m.typeId === MSG_AUDIO) kinds.push(parseAudioTag(m.payload).sequenceHeader ? 'audio-config' : 'audio');
      };
      await conn.play('s2');
      await waitFor(() => kinds.length > 5);
      expect(kinds.slice(0, 5)).toEqual([
        'data:|RtmpSampleAccess',
        'data:onMetaData',
        'video-config',
        'audio-config',
        'video',
      ]);
      conn.close();
      pub.stop(true);
    } finally {
      await srv.close();
    }
  });

  it('with the GOP cache on, starts a late joiner at the last keyframe at once', async () => {
    const srv = await startServer({ gopCache: true });
    try {
      const pub = await publish(srv.url(), 'g1', { seconds: 3, gopSeconds: 1 });
      await waitFor(() => pub.publisher.videoFramesSent >= 45);
      const sentAtJoin = pub.publisher.videoFramesSent;
      const p = await play(srv.url(), 'g1');
      await waitFor(() => p.seqs.length > 0);
      const lastKeyframe = Math.floor((sentAtJoin - 1) / 30) * 30;
      expect(p.seqs[0]).toBe(lastKeyframe);
      expect(p.frames[0]!.keyframe).toBe(true);
      // The cached frames come first, in order, then live ones.
      await waitFor(() => p.seqs.length >= sentAtJoin - lastKeyframe + 5);
      expect(p.seqs.slice(0, sentAtJoin - lastKeyframe + 5)).toEqual(range(lastKeyframe, sentAtJoin + 5));
      pub.stop(true);
      p.player.close();
    } finally {
      await srv.close();
    }
  });

  it('with the GOP cache off, starts a late joiner at the next keyframe', async () => {
    const srv = await startServer({ gopCache: false });
    try {
      const pub = await publish(srv.url(), 'g2', { seconds: 3, gopSeconds: 1 });
      await waitFor(() => pub.publisher.videoFramesSent >= 35);
      const sentAtJoin = pub.publisher.videoFramesSent;
      const p = await play(srv.url(), 'g2');
      await waitFor(() => p.seqs.length > 0, 3000);
      expect(p.seqs[0]).toBe(Math.ceil(sentAtJoin / 30) * 30);
      expect(p.frames[0]!.keyframe).toBe(true);
      pub.stop(true);
      p.player.close();
    } finally {
      await srv.close();
    }
  });

  it('tells players when the publisher leaves and resumes them when it returns', async () => {
    const srv = await startServer();
    try {
      const p = await play(srv.url(), 'r1');
      const eofs: number[] = [];
      p.player.conn.onUserControl = (e) => {
        if (e.event === UC_STREAM_EOF) eofs.push(1);
      };
      const first = await publish(srv.url(), 'r1', { seconds: 0.5 });
      await first.done;
      first.stop(true);
      await waitFor(() => p.statuses.includes('NetStream.Play.UnpublishNotify'));
      expect(eofs).toEqual([1]);
      const framesBefore = p.seqs.length;
      expect(framesBefore).toBe(15);
      const second = await publish(srv.url(), 'r1', { seconds: 0.5 });
      await second.done;
      await waitFor(() => p.seqs.length === framesBefore + 15);
      expect(p.statuses).toContain('NetStream.Play.PublishNotify');
      expect(p.seqs.slice(framesBefore)).toEqual(range(0, 15));
      expect(p.player.closed).toBe(false);
      second.stop(true);
      p.player.close();
    } finally {
      await srv.close();
    }
  });
});

describe('rejections', () => {
  it('refuses a second publisher of the same stream with BadName and closes it, leaving the first alone', async () => {
    const srv = await startServer();
    try {
      const first = await publish(srv.url(), 'dup', { seconds: 2 });
      const p = await play(srv.url(), 'dup');
      await expect(publish(srv.url(), 'dup', { seconds: 1 })).rejects.toThrow(/NetStream.Publish.BadName/);
      await first.done;
      await waitFor(() => p.seqs.length === 60);
      expect(p.player.counters.lost).toBe(0);
      expect(srv.logs.some((l) => l.includes('reason=duplicate-publisher'))).toBe(true);
      first.stop(true);
      p.player.close();
    } finally {
      await srv.close();
    }
  });

  it('requires the publish token when one is set, taken from the stream key or the app', async () => {
    const srv = await startServer({ publishToken: 'secret' });
    try {
      await expect(publish(srv.url(), 'a', { seconds: 0.1 })).rejects.toThrow(/NetStream.Publish.Unauthorized/);
      await expect(publish(srv.url(), 'a?token=wrong', { seconds: 0.1 })).rejects.toThrow(/Unauthorized/);
      const ok1 = await publish(srv.url(), 'a?token=secret', { seconds: 0.1 });
      ok1.stop(true);
      const ok2 = await publish(parseRtmpUrl(`rtmp://127.0.0.1:${srv.port}/live?token=secret`), 'b', { seconds: 0.1 });
      ok2.stop(true);
      // Playing needs no token here.
      const p = await play(srv.url(), 'a');
      p.player.close();
    } finally {
      await srv.close();
    }
  });

  it('requires the play token when one is set', async () => {
    const srv = await startServer({ playToken: 'watch' });
    try {
      await expect(play(srv.url(), 'x')).rejects.toThrow(/NetStream.Play.Unauthorized/);
      const p = await play(srv.url(), 'x?token=watch');
      p.player.close();
    } finally {
      await srv.close();
    }
  });

  it('answers an unknown command with _error and keeps the connection usable', async () => {
    const srv = await startServer();
    try {
      const conn = await ClientConnection.open({ url: srv.url() });
      const r = await conn.call('noSuchMethod', null, [1, 2]);
      expect(r.name).toBe('_error');
      expect(JSON.stringify(r.args)).toContain('Method not found (noSuchMethod)');
      expect(await conn.createStream()).toBe(1);
      conn.close();
    } finally {
      await srv.close();
    }
  });

  it('refuses connections beyond max-connections without disturbing the others', async () => {
    const srv = await startServer({ maxConnections: 2 });
    try {
      const a = await ClientConnection.open({ url: srv.url() });
      const b = await ClientConnection.open({ url: srv.url() });
      await expect(ClientConnection.open({ url: srv.url(), timeoutMs: 2000 })).rejects.toThrow(/closed the connection/);
      expect(await a.createStream()).toBe(1);
      expect(await b.createStream()).toBe(1);
      expect(srv.server.getStats().connections.rejected).toBe(1);
      a.close();
      b.close();
    } finally {
      await srv.close();
    }
  });
});

describe('connection upkeep', () => {
  it('acknowledges received bytes at the window the publisher asked for', async () => {
    const srv = await startServer();
    try {
      const pub = await publish(srv.url(), 'ack', { seconds: 1, videoBitrate: 2_000_000 });
      const acks: number[] = [];
      pub.publisher.conn.onControl = (m) => {
        if (m.typeId === MSG_ACKNOWLEDGEMENT) acks.push(m.payload.readUInt32BE(0));
      };
      pub.publisher.conn.send(windowAckSizeMessage(50_000));
      await pub.done;
      await waitFor(() => acks.length >= 4, 3000, 'acknowledgements');
      // Each acknowledgement reports the running total, at least a window apart.
      for (let i = 1; i < acks.length; i++) expect(acks[i]! - acks[i - 1]!).toBeGreaterThanOrEqual(50_000);
      pub.stop(true);
    } finally {
      await srv.close();
    }
  });

  it('pings peers, keeps those that answer and closes those that stay silent', async () => {
    const srv = await startServer({ pingIntervalMs: 100, idleTimeoutMs: 500 });
    try {
      const answering = await play(srv.url(), 'idle');
      const silent = await ClientConnection.open({ url: srv.url() });
      silent.socket.removeAllListeners('data'); // reads nothing, answers nothing
      await new Promise((r) => setTimeout(r, 1500));
      expect(answering.player.closed).toBe(false);
      expect(srv.logs.some((l) => /reason="idle:/.test(l))).toBe(true);
      expect(srv.server.getStats().connections.open).toBe(1);
      answering.player.close();
    } finally {
      await srv.close();
    }
  });

  it('closes a publisher that sends no media', async () => {
    const srv = await startServer({ idleTimeoutMs: 400, pingIntervalMs: 100 });
    try {
      const conn = await ClientConnection.open({ url: srv.url() });
      await conn.publish('quiet');
      await waitFor(() => conn.isClosed, 3000, 'the quiet publisher to be closed');
      expect(srv.logs.some((l) => l.includes('publisher-idle'))).toBe(true);
    } finally {
      await srv.close();
    }
  });

  it('delivers every frame in order with merged writes', async () => {
    const srv = await startServer({ mergeWriteMs: 20 });
    try {
      const players = await Promise.all([1, 2, 3].map(() => play(srv.url(), 'm')));
      const pub = await publish(srv.url(), 'm', { seconds: 1 });
      await pub.done;
      for (const p of players) await waitFor(() => p.seqs.length === 30);
      for (const p of players) expect(p.seqs).toEqual(range(0, 30));
      pub.stop(true);
      for (const p of players) p.player.close();
    } finally {
      await srv.close();
    }
  });

  it('with merged writes, gives a late joiner the cached GOP and then live frames, none twice', async () => {
    const srv = await startServer({ mergeWriteMs: 30 });
    try {
      const early = await play(srv.url(), 'mj');
      const pub = await publish(srv.url(), 'mj', { seconds: 2, gopSeconds: 1 });
      await waitFor(() => pub.publisher.videoFramesSent >= 40);
      const late = await play(srv.url(), 'mj');
      await pub.done;
      await waitFor(
        () => early.seqs.length === 60 && late.seqs.length > 0 && late.seqs[late.seqs.length - 1] === 59,
        5000,
      );
      expect(early.seqs).toEqual(range(0, 60));
      expect(late.seqs[0]).toBe(30); // the GOP that was current when it joined
      expect(late.seqs).toEqual(range(30, 60));
      pub.stop(true);
      early.player.close();
      late.player.close();
    } finally {
      await srv.close();
    }
  });

  for (const sharedReads of [true, false]) {
    it(`with shared reads ${sharedReads ? 'on, reads every connection into one buffer' : 'off, gives every read a buffer of its own'}, and relays every frame intact`, async () => {
      const srv = await startServer({ sharedReads });
      try {
        const players = await Promise.all([1, 2].map(() => play(srv.url(), 'sr')));
        const pub = await publish(srv.url(), 'sr', { seconds: 1.5, videoBitrate: 2_500_000 });
        await pub.done;
        for (const p of players) await waitFor(() => p.seqs.length === 45, 5000, '45 frames');
        for (const p of players) {
          expect(p.seqs).toEqual(range(0, 45));
          expect(p.player.counters).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
          expect(p.player.counters.mediaBytes).toBe(players[0]!.player.counters.mediaBytes);
        }
        const stats = srv.server.getStats();
        expect(stats.bytesIn).toBeGreaterThan(400_000);
        if (sharedReads) expect(stats.io.readAllocatedBytes).toBe(0);
        else expect(stats.io.readAllocatedBytes).toBe(stats.bytesIn);
        expect(stats.io.messages).toBeGreaterThanOrEqual(2 * 45);
        expect(stats.process.gc).toMatchObject({
          minor: expect.any(Number),
          major: expect.any(Number),
          ms: expect.any(Number),
        });
        pub.stop(true);
        for (const p of players) p.player.close();
      } finally {
        await srv.close();
      }
    });
  }

  for (const batchReads of [true, false]) {
    it(`with batch reads ${batchReads ? 'on, sends what one read of the publisher brought as one write per player' : 'off, writes each message on its own'}, every frame in order`, async () => {
      const srv = await startServer({ batchReads });
      try {
        const players = await Promise.all([1, 2].map(() => play(srv.url(), 'br')));
        const publisher = await Publisher.open({
          url: srv.url(),
          streamName: 'br',
          source: new SyntheticSource({ videoBitrate: 600_000, fps: 30, gopSeconds: 1 }),
        });
        // Bursts of 100 ms of media written at once: in this process the server reads each burst in one go.
        const startUs = monotonicUs();
        publisher.start(startUs);
        const before = srv.server.getStats().io;
        for (let i = 1; i <= 10; i++) {
          publisher.pump(startUs + i * 100_000 - 1);
          await new Promise((r) => setTimeout(r, 30));
        }
        for (const p of players) await waitFor(() => p.seqs.length === 30, 5000, '30 frames');
        for (const p of players) {
          expect(p.seqs).toEqual(range(0, 30));
          expect(p.player.counters).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
        }
        const io = srv.server.getStats().io;
        const messages = io.messages - before.messages;
        const writes = io.writes - before.writes;
        expect(messages).toBeGreaterThanOrEqual(2 * (30 + 40));
        if (batchReads) expect(writes).toBeLessThanOrEqual(messages / 3);
        else expect(writes).toBeGreaterThanOrEqual(messages * 0.9);
        publisher.stop();
        for (const p of players) p.player.close();
      } finally {
        await srv.close();
      }
    });
  }

  it('serves /stats as JSON and /metrics in Prometheus format', async () => {
    const srv = await startServer({ statsPort: 0 });
    try {
      const statsPort = srv.addresses.statsPort!;
      const pub = await publish(srv.url(), 'st', { seconds: 1 });
      const p = await play(srv.url(), 'st');
      await pub.done;
      await waitFor(() => p.seqs.length > 10);
      const stats = (await (await fetch(`http://127.0.0.1:${statsPort}/stats`)).json()) as ReturnType<
        typeof srv.server.getStats
      >;
      expect(stats).toMatchObject({ publishers: 1, players: 1, connections: { open: 2 } });
      expect(stats.streams[0]).toMatchObject({ key: 'live/st', publishing: true, players: 1 });
      expect(stats.playerDetails[0]).toMatchObject({ stream: 'live/st', drops: { video: 0, audio: 0 } });
      expect(stats.bytesIn).toBeGreaterThan(50_000);
      expect(stats.pool.misses).toBeGreaterThan(0);
      expect(stats.process.rssBytes).toBeGreaterThan(0);
      const metrics = await (await fetch(`http://127.0.0.1:${statsPort}/metrics`)).text();
      expect(metrics).toMatch(/^rtmp_players\{protocol="rtmp"\} 1$/m);
      expect(metrics).toMatch(/^rtmp_stream_players\{stream="live\/st",protocol="rtmp"\} 1$/m);
      expect(metrics).toMatch(/^process_cpu_seconds_total \d/m);
      expect((await fetch(`http://127.0.0.1:${statsPort}/nope`)).status).toBe(404);
      pub.stop(true);
      p.player.close();
    } finally {
      await srv.close();
    }
  });

  it('on shutdown tells players the stream ended and closes every connection', async () => {
    const srv = await startServer();
    const pub = await publish(srv.url(), 'bye', { seconds: 5 });
    const p = await play(srv.url(), 'bye');
    await waitFor(() => p.seqs.length > 5);
    await srv.close();
    await waitFor(() => p.player.closed && pub.publisher.closed, 3000, 'connections to close');
    expect(p.statuses).toContain('NetStream.Play.UnpublishNotify');
    pub.stop();
  });
});

describe('RTMPS', () => {
  let tls: SelfSignedCertificate;
  beforeAll(async () => {
    const made = await selfSignedCertificate();
    if (made === null) throw new Error('openssl is needed (apt-get install openssl)');
    tls = made;
  });
  afterAll(() => tls?.remove());

  it('serves players and publishers over TLS beside the plain listener', async () => {
    const { cert, key } = tls;
    const srv = await startServer({ tlsPort: 0, tlsCert: cert, tlsKey: key });
    try {
      const tlsPort = srv.addresses.tlsPort!;
      const secure = parseRtmpUrl(`rtmps://127.0.0.1:${tlsPort}/live`);
      // A self-signed certificate is refused unless the client is told to accept it.
      await expect(play(secure, 'tls')).rejects.toThrow(/self[- ]signed|certificate/i);
      const player = await Player.open({ url: secure, streamName: 'tls', insecure: true });
      const pub = await publish(srv.url(), 'tls', { seconds: 1 });
      await pub.done;
      await waitFor(() => player.counters.videoFrames === 30);
      expect(player.counters.lost).toBe(0);
      pub.stop(true);
      player.close();
    } finally {
      await srv.close();
    }
  });
});
