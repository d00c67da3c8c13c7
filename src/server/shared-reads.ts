import net from 'node:net';

/**
 * Reads into one buffer shared by every connection, instead of a new buffer per read.
 *
 * A socket from `net.Server` gets a freshly allocated buffer for every read. A server
 * ingesting 100 Mbit/s from publishers then makes about 12 MB/s of short-lived buffers, and V8
 * answers that external memory with a major garbage collection every second or so (10–30 ms
 * each, in the middle of fan-out). A socket built with the `onread` option reads into a buffer
 * it is given; `net.Server` has no such option, so the accepted socket's handle is moved into
 * a new socket built with one. Every read is handled to the end before the next read starts
 * (one thread), and nothing keeps a view of the read past its handling (the chunk reader
 * copies what it must keep; the server copies payloads into pooled buffers), so one buffer
 * serves every connection.
 *
 * This relies on Node's `Socket` constructor accepting a `handle` beside `onread` and on the
 * `_handle` property: long-standing, but not documented. Each is checked; a socket where they
 * are missing is returned as null and the caller uses it as accepted.
 */

interface StreamHandle {
  readStart(): number;
  readStop(): number;
  useUserBuffer(buf: Uint8Array): void;
}

type Internals = { _handle: StreamHandle | null; server: net.Server | null; _server: net.Server | null };

/** The size of one read: what libuv asks for when it allocates itself. */
export const SHARED_READ_BYTES = 64 * 1024;

/**
 * Moves an accepted, still paused socket (server made with `pauseOnConnect`) into a socket that
 * reads into `buffer` and hands each read to `onChunk` (a view, valid during the call only).
 */
export function adoptWithSharedReads(
  socket: net.Socket,
  buffer: Buffer,
  writableHighWaterMark: number,
  onChunk: (chunk: Buffer) => void,
): net.Socket | null {
  const old = socket as unknown as Internals;
  const handle = old._handle;
  if (
    handle === null ||
    typeof handle?.readStart !== 'function' ||
    typeof handle.useUserBuffer !== 'function' ||
    socket.readableLength > 0
  )
    return null;
  old._handle = null;
  let adopted: net.Socket;
  try {
    adopted = new net.Socket({
      handle,
      readable: true,
      writable: true,
      writableHighWaterMark,
      onread: {
        buffer,
        callback: (n: number, buf: Uint8Array) => {
          onChunk(Buffer.from(buf.buffer, buf.byteOffset, n));
          return true;
        },
      },
    } as net.SocketConstructorOpts);
  } catch {
    old._handle = handle;
    return null;
  }
  // The server counts its connections through the socket it made; this one stands in for it.
  const a = adopted as unknown as Internals;
  a.server = old.server;
  a._server = old._server;
  // The old socket must never count the connection down a second time.
  old.server = null;
  old._server = null;
  return adopted;
}
