import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SocketWriter, WriteResult } from '../../src/server/socket-writer.js';
import { waitFor } from '../helpers/server.js';

let server: net.Server;
let serverSide: net.Socket;
let clientSide: net.Socket;
let received: Buffer[];

beforeEach(async () => {
  received = [];
  server = net.createServer();
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  clientSide = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  clientSide.on('data', (d: Buffer) => received.push(d));
  clientSide.on('error', () => {});
  serverSide = await accepted;
  serverSide.on('error', () => {});
});

afterEach(async () => {
  clientSide.destroy();
  serverSide.destroy();
  await new Promise((r) => server.close(r));
});

const bytesReceived = () => received.reduce((n, b) => n + b.length, 0);

/** `n` bytes counting up from `start` (mod 256), so order and integrity can be checked. */
function pattern(start: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (start + i) & 0xff;
  return b;
}

function checkPattern(all: Buffer): void {
  for (let i = 0; i < all.length; i++)
    if (all[i] !== (i & 0xff)) throw new Error(`byte ${i} is ${all[i]}, not ${i & 0xff}`);
}

describe('SocketWriter', () => {
  it('writes to a plain TCP socket in place: nothing is left to complete when the kernel takes it all', async () => {
    const completions: (Error | null)[] = [];
    const w = new SocketWriter(serverSide, { onComplete: (e) => completions.push(e) });
    expect(w.raw).toBe(true);
    expect(w.write(pattern(0, 1000))).toBe(WriteResult.DONE);
    expect(w.writev([pattern(1000, 500), pattern(1500, 500)], 1000)).toBe(WriteResult.DONE);
    expect(w.busy).toBe(false);
    await waitFor(() => bytesReceived() === 2000);
    checkPattern(Buffer.concat(received));
    expect(completions).toEqual([]);
    expect(w.bytesWritten).toBe(2000);
  });

  it('completes writes the kernel could not take later, in order, with every byte intact', async () => {
    clientSide.pause();
    const completions: (Error | null)[] = [];
    const w = new SocketWriter(serverSide, { onComplete: (e) => completions.push(e) });
    const keep: Buffer[] = [];
    let offset = 0;
    let pending = 0;
    // Write until the socket buffers are full and libuv holds the rest.
    while (pending < 3) {
      const b = pattern(offset, 256 * 1024);
      keep.push(b);
      offset += b.length;
      if (w.write(b) === WriteResult.PENDING) pending++;
    }
    expect(w.busy).toBe(true);
    expect(w.pendingBytes).toBeGreaterThan(0);
    clientSide.resume();
    await waitFor(() => bytesReceived() === offset, 10_000, 'every byte');
    await waitFor(() => completions.length === pending);
    expect(completions.every((e) => e === null)).toBe(true);
    expect(w.busy).toBe(false);
    checkPattern(Buffer.concat(received));
  });

  it('reports writes still pending as failed when the socket is destroyed, so their buffers can be released', async () => {
    clientSide.pause();
    const completions: (Error | null)[] = [];
    const w = new SocketWriter(serverSide, { onComplete: (e) => completions.push(e) });
    let pending = 0;
    for (let i = 0; pending < 2 && i < 1000; i++)
      if (w.write(pattern(0, 256 * 1024)) === WriteResult.PENDING) pending++;
    serverSide.destroy();
    await waitFor(() => completions.length === pending, 5000, 'the pending writes to complete');
    expect(completions.every((e) => e !== null)).toBe(true);
    expect(w.write(pattern(0, 10))).toBe(WriteResult.FAILED);
  });

  it('keeps bytes written earlier through the socket ahead of its own', async () => {
    clientSide.pause();
    // Enough that Node's stream still holds some of it when the writer starts.
    const first = pattern(0, 8 * 1024 * 1024);
    serverSide.write(first);
    expect(serverSide.writableLength).toBeGreaterThan(0);
    const completions: (Error | null)[] = [];
    const w = new SocketWriter(serverSide, { onComplete: (e) => completions.push(e) });
    w.write(pattern(first.length, 1000));
    clientSide.resume();
    await waitFor(() => bytesReceived() === first.length + 1000, 10_000, 'every byte');
    checkPattern(Buffer.concat(received));
  });
});
