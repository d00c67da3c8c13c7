import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SendQueue, type SendQueueOptions } from '../../src/server/send-queue.js';
import { MessageClass } from '../../src/server/shared-message.js';
import { message, pool } from '../helpers/messages.js';

describe('SendQueue policies (real loopback socket; nothing leaves before flush)', () => {
  let server: net.Server;
  let serverSide: net.Socket;
  let clientSide: net.Socket;
  let received = 0;

  beforeEach(async () => {
    received = 0;
    server = net.createServer();
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    clientSide = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    clientSide.on('data', (d: Buffer) => (received += d.length));
    serverSide = await accepted;
  });

  afterEach(async () => {
    clientSide.destroy();
    serverSide.destroy();
    await new Promise((r) => server.close(r));
  });

  function queue(policy: SendQueueOptions['policy'], overflows: number[] = []): SendQueue {
    return new SendQueue(serverSide, {
      policy,
      maxQueuedBytes: 10_000,
      disconnectGraceMs: 0,
      onOverflow: (b) => overflows.push(b),
      onDrop: () => {},
      pendingConfig: () => [],
    });
  }

  it('priority-drop: disposable frames go at a quarter, inter frames at half, keyframes at three quarters, audio when full', () => {
    const q = queue('priority-drop');
    q.offer(message(MessageClass.AUDIO, 3000)); // 30% queued
    q.offer(message(MessageClass.VIDEO_DISPOSABLE, 100)); // would pass 25%: dropped
    expect(q.drops.video).toBe(1);
    q.offer(message(MessageClass.VIDEO_INTER, 1000)); // 40%: under half, kept
    q.offer(message(MessageClass.VIDEO_INTER, 1500)); // 55%: dropped, and video waits for a keyframe
    expect(q.drops.video).toBe(2);
    q.offer(message(MessageClass.VIDEO_INTER, 10)); // would fit, but follows a dropped frame
    expect(q.drops.video).toBe(3);
    q.offer(message(MessageClass.VIDEO_KEY, 3000)); // 70%: under three quarters, kept
    q.offer(message(MessageClass.VIDEO_KEY, 1000)); // 80%: dropped
    expect(q.drops.video).toBe(4);
    q.offer(message(MessageClass.AUDIO, 2900)); // 99%: audio goes until full
    q.offer(message(MessageClass.AUDIO, 200)); // over: dropped
    expect(q.drops).toMatchObject({ video: 4, audio: 1 });
    expect(q.queuedBytes).toBe(3000 + 1000 + 3000 + 2900);
    q.close();
  });

  it('drop-to-keyframe: drops what does not fit, then all video until a keyframe that fits', () => {
    const q = queue('drop-to-keyframe');
    q.offer(message(MessageClass.VIDEO_KEY, 9000));
    q.offer(message(MessageClass.VIDEO_INTER, 2000)); // does not fit
    q.flush();
    q.offer(message(MessageClass.VIDEO_INTER, 100)); // fits now, but depends on the dropped frame
    q.offer(message(MessageClass.AUDIO, 100)); // audio still flows
    expect(q.drops).toMatchObject({ video: 2, audio: 0 });
    q.offer(message(MessageClass.VIDEO_KEY, 500)); // resumes
    q.offer(message(MessageClass.VIDEO_INTER, 100));
    expect(q.drops.video).toBe(2);
    q.close();
  });

  it('an empty queue takes a keyframe larger than the bound (it would otherwise never reach anyone)', () => {
    for (const policy of ['drop-to-keyframe', 'priority-drop', 'disconnect'] as const) {
      const overflows: number[] = [];
      const q = queue(policy, overflows);
      q.offer(message(MessageClass.VIDEO_KEY, 25_000)); // 2.5 times the bound, nothing queued: taken
      expect(q.drops.video).toBe(0);
      q.offer(message(MessageClass.VIDEO_INTER, 100)); // the bound holds for what follows
      expect(q.drops.video).toBe(1);
      expect(q.queuedBytes).toBe(25_000);
      expect(overflows).toEqual([]);
      q.close();
    }
  });

  it('a joiner without GOP cache skips frames until a keyframe without counting them as drops', () => {
    const q = queue('drop-to-keyframe');
    q.waitForKeyframe();
    q.offer(message(MessageClass.VIDEO_INTER, 100)); // before its first keyframe: skipped, not lost
    q.offer(message(MessageClass.VIDEO_INTER, 100));
    q.offer(message(MessageClass.AUDIO, 100));
    expect(q.drops).toMatchObject({ video: 0, audio: 0 });
    expect(q.queuedBytes).toBe(100);
    q.offer(message(MessageClass.VIDEO_KEY, 9000));
    q.offer(message(MessageClass.VIDEO_INTER, 2000)); // now a real drop
    q.offer(message(MessageClass.VIDEO_INTER, 10)); // and its dependants too
    expect(q.drops.video).toBe(2);
    q.close();
  });

  it('none: never drops, whatever is queued', () => {
    const q = queue('none');
    for (let i = 0; i < 10; i++) q.offer(message(MessageClass.VIDEO_KEY, 5000));
    expect(q.drops.video).toBe(0);
    expect(q.queuedBytes).toBe(50_000);
    q.close();
  });

  it('disconnect: asks for the peer to be closed when it stays over the bound', () => {
    const overflows: number[] = [];
    const q = queue('disconnect', overflows);
    q.offer(message(MessageClass.VIDEO_KEY, 9000));
    q.offer(message(MessageClass.VIDEO_KEY, 2000)); // over: starts the grace time (0 ms here)
    q.offer(message(MessageClass.VIDEO_KEY, 2000)); // still over: close
    expect(overflows).toEqual([9000]);
    q.close();
  });

  it('never drops control messages and writes everything in order on flush', async () => {
    const q = queue('priority-drop');
    const sizes = [3000, 4000, 5000];
    for (const s of sizes) q.sendControl(message(MessageClass.CONTROL, s));
    expect(q.drops.video + q.drops.audio + q.drops.data).toBe(0);
    q.flush();
    await new Promise<void>((r) => {
      const t = setInterval(() => {
        if (received === 12_000) {
          clearInterval(t);
          r();
        }
      }, 5);
    });
    expect(q.messagesSent).toBe(3);
    q.close();
  });

  it('a backlog beyond one burst keeps going out without another flush (no later batch needed)', async () => {
    const q = new SendQueue(serverSide, {
      policy: 'drop-to-keyframe',
      maxQueuedBytes: 1_000_000,
      disconnectGraceMs: 0,
      onOverflow: () => {},
      onDrop: () => {},
      pendingConfig: () => [],
      burstBytes: 4096,
    });
    const sizes = [150_000, 200, 9000, 300];
    for (const [i, s] of sizes.entries()) q.offer(message(i === 0 ? MessageClass.VIDEO_KEY : MessageClass.AUDIO, s));
    q.flush(); // one burst: the keyframe alone (over the bound); nothing else flushes this queue
    await new Promise<void>((r) => {
      const t = setInterval(() => {
        if (received === 159_500) {
          clearInterval(t);
          r();
        }
      }, 5);
    });
    expect(q.messagesSent).toBe(4);
    q.close();
  });

  it('returns every buffer to the pool once written or dropped', async () => {
    const before = pool.stats().outstandingBytes;
    const q = queue('drop-to-keyframe');
    for (let i = 0; i < 20; i++) {
      const m = message(i % 5 === 0 ? MessageClass.VIDEO_KEY : MessageClass.VIDEO_INTER, 1500);
      q.offer(m);
      m.release();
      if (i % 3 === 0) q.flush();
    }
    q.flush();
    await new Promise((r) => setTimeout(r, 50));
    expect(pool.stats().outstandingBytes).toBe(before);
    q.close();
  });
});
