import type net from 'node:net';
import tls from 'node:tls';

/**
 * Writes to a socket's handle directly, without Node's stream machinery.
 *
 * `socket.write()` costs far more than the system call behind it: a write request object, the
 * Writable's state machine, and a callback scheduled on the next tick for every write, even
 * when the kernel took every byte at once. A fan-out server writes each message to thousands
 * of sockets, and under `rtmpbench profile` that machinery came to about a fifth of the
 * server's CPU beside the kernel's `write(2)`. The handle underneath (libuv's stream) first
 * tries the write in place; when the kernel takes everything, nothing is left to track. Only
 * a write the kernel could not finish becomes asynchronous: libuv holds the rest and
 * `onComplete` reports it, in order.
 *
 * This relies on `process.binding('stream_wrap')` (WriteWrap and the stream state that says
 * whether the last write went asynchronous) and on the socket's `_handle` having
 * `writeBuffer`/`writev`: long-standing in Node, but internal. Each is checked once; without
 * them, and for TLS (whose handle encrypts on its own terms), writes go through
 * `socket.write()` instead, with the same contract.
 */

interface WriteReq {
  handle: StreamHandle;
  oncomplete: (this: WriteReq, status: number) => void;
  async: boolean;
  bytes: number;
  buffer: unknown;
  /** Ours: the writer this request belongs to. */
  owner: SocketWriter | null;
}

interface StreamHandle {
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  writev(req: WriteReq, chunks: readonly Uint8Array[], allBuffers: boolean): number;
  writeQueueSize: number;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

function loadBinding(): StreamWrapBinding | null {
  try {
    const b = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');
    if (
      typeof b.WriteWrap !== 'function' ||
      !(b.streamBaseState instanceof Int32Array) ||
      typeof b.kLastWriteWasAsync !== 'number'
    )
      return null;
    return b as StreamWrapBinding;
  } catch {
    return null;
  }
}

const binding = loadBinding();

/** What a write did: the kernel took it all (`DONE`), part waits in libuv (`PENDING`), or it failed. */
export const WriteResult = { DONE: 0, PENDING: 1, FAILED: 2 } as const;
export type WriteResult = (typeof WriteResult)[keyof typeof WriteResult];

export interface SocketWriterEvents {
  /** An asynchronous write finished (in write order); `error` when it failed. */
  onComplete(error: Error | null): void;
}

function onRawComplete(this: WriteReq, status: number): void {
  const owner = this.owner;
  this.owner = null;
  this.buffer = null;
  owner?.completed(status);
}

/** A socket error code from libuv's negative errno (EPIPE, ECONNRESET, ECANCELED...). */
function errnoError(status: number): Error {
  const util = process as unknown as { binding(name: string): { errname?: (n: number) => string } };
  let code = `E${-status}`;
  try {
    code = util.binding('uv').errname?.(status) ?? code;
  } catch {
    // Keep the number.
  }
  const e = new Error(`write failed: ${code}`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/**
 * One socket's writer. `write`/`writev` return DONE when the kernel took every byte (the
 * caller may reuse or release the buffers at once), PENDING when the buffers must stay alive
 * until `onComplete` (called once per pending write, in order), FAILED when the socket is
 * gone (the error is in `error`).
 */
export class SocketWriter {
  private readonly socket: net.Socket;
  private readonly events: SocketWriterEvents;
  /** Direct handle writes are possible (plain TCP, binding present). */
  readonly raw: boolean;
  /** A request object kept for the next write: unused while writes finish in place. */
  private spare: WriteReq | null = null;
  private spareHandle: StreamHandle | null = null;
  /** Writes not yet completed (raw: handed to libuv; fallback: handed to socket.write). */
  private pendingWrites = 0;
  /** Fallback only: socket.write asked us to wait for 'drain'. */
  private needDrain = false;
  /** Bytes written through this writer (handed to the kernel or to libuv). */
  bytesWritten = 0;
  error: Error | null = null;
  private readonly onNodeWritten: (err?: Error | null) => void;

  constructor(socket: net.Socket, events: SocketWriterEvents) {
    this.socket = socket;
    this.events = events;
    this.raw =
      binding !== null && !(socket instanceof tls.TLSSocket) && typeof this.handle()?.writeBuffer === 'function';
    this.onNodeWritten = (err) => {
      this.pendingWrites--;
      this.events.onComplete(err ?? null);
    };
  }

  /** An earlier write is still in progress: new bytes would only queue behind it. */
  get busy(): boolean {
    return this.raw ? this.pendingWrites > 0 : this.needDrain;
  }

  /** Bytes accepted but not yet handed to the kernel (libuv's queue, or Node's buffer). */
  get pendingBytes(): number {
    const viaNode = this.socket.writableLength;
    if (!this.raw || this.pendingWrites === 0) return viaNode;
    return viaNode + (this.handle()?.writeQueueSize ?? 0);
  }

  /** Asynchronous writes not yet completed. */
  get pending(): number {
    return this.pendingWrites;
  }

  get socketDestroyed(): boolean {
    return this.socket.destroyed;
  }

  /** Called by Node (fallback) when its buffer drained. */
  drained(): void {
    this.needDrain = false;
  }

  write(buf: Buffer): WriteResult {
    if (this.error !== null) return WriteResult.FAILED;
    this.bytesWritten += buf.length;
    // Bytes still in Node's stream (written before this writer took over) go first: behind them.
    if (!this.raw || this.socket.writableLength > 0) return this.nodeWrite(buf);
    const handle = this.handle();
    if (handle === null) return this.fail(-32 /* EPIPE */);
    const req = this.request(handle);
    const err = handle.writeBuffer(req, buf);
    return this.dispatched(req, err, buf);
  }

  writev(bufs: readonly Buffer[], byteLength: number): WriteResult {
    if (bufs.length === 1) return this.write(bufs[0]!);
    if (this.error !== null) return WriteResult.FAILED;
    this.bytesWritten += byteLength;
    if (!this.raw || this.socket.writableLength > 0) {
      // One corked batch: Node hands it to the kernel as one writev. Callbacks come in write
      // order, so the last one says the whole batch is done.
      if (this.socket.destroyed) return this.fail(-32);
      this.socket.cork();
      for (let i = 0; i < bufs.length - 1; i++) if (!this.socket.write(bufs[i]!)) this.needDrain = true;
      const result = this.nodeWrite(bufs[bufs.length - 1]!);
      this.socket.uncork();
      return result;
    }
    const handle = this.handle();
    if (handle === null) return this.fail(-32);
    const req = this.request(handle);
    const err = handle.writev(req, bufs, true);
    return this.dispatched(req, err, bufs);
  }

  /** Called by the request's completion (raw writes). */
  completed(status: number): void {
    this.pendingWrites--;
    const error = status < 0 ? errnoError(status) : null;
    if (error !== null && this.error === null) this.error = error;
    this.events.onComplete(error);
  }

  private handle(): StreamHandle | null {
    return (this.socket as unknown as { _handle: StreamHandle | null })._handle;
  }

  /** The request for the next write: the spare one while writes finish in place. */
  private request(handle: StreamHandle): WriteReq {
    const spare = this.spare;
    // `handle` is an accessor on the request (a runtime call): set once per request.
    if (spare !== null && this.spareHandle === handle) return spare;
    this.spareHandle = handle;
    const req = new binding!.WriteWrap();
    req.handle = handle;
    req.oncomplete = onRawComplete;
    req.async = false;
    req.bytes = 0;
    req.buffer = null;
    req.owner = null;
    this.spare = req;
    return req;
  }

  private dispatched(req: WriteReq, err: number, data: unknown): WriteResult {
    if (err !== 0) return this.fail(err);
    if (binding!.streamBaseState[binding!.kLastWriteWasAsync] === 0) return WriteResult.DONE;
    // libuv keeps the rest: this request (and the bytes it points at) must outlive the write.
    req.async = true;
    req.owner = this;
    req.buffer = data;
    this.spare = null;
    this.pendingWrites++;
    return WriteResult.PENDING;
  }

  private fail(status: number): WriteResult {
    if (this.error === null) this.error = errnoError(status);
    return WriteResult.FAILED;
  }

  /** Through Node's stream: the buffer is Node's until the callback, which is never synchronous. */
  private nodeWrite(buf: Buffer): WriteResult {
    if (this.socket.destroyed) return this.fail(-32);
    this.pendingWrites++;
    if (!this.socket.write(buf, this.onNodeWritten)) this.needDrain = true;
    return WriteResult.PENDING;
  }
}
