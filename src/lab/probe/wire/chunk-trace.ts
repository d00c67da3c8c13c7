import {
  DEFAULT_CHUNK_SIZE,
  EXTENDED_TIMESTAMP_MARK,
  MESSAGE_HEADER_SIZE,
  MSG_ABORT,
  MSG_SET_CHUNK_SIZE,
  MSG_WINDOW_ACK_SIZE,
} from '../../../protocol/constants.js';

/**
 * Reads what a server sends and keeps what a probe must judge: every message with the chunk
 * headers that carried it. Unlike the codec's reader it records the wire form (first-header
 * format, basic header size, whether an extended timestamp was repeated on type-3 chunks) and
 * keeps timestamps as the 32-bit values the wire carries (deltas add modulo 2^32), so a probe
 * sees exactly what a viewer would. It tolerates a missing extended field on type-3 chunks
 * (as most clients do) and counts it. Not a hot path: clarity over speed, but payloads are
 * copied once, into a buffer of the message's size.
 */

export interface TracedMessage {
  /** Order of arrival on this connection, from 0. */
  index: number;
  csid: number;
  typeId: number;
  streamId: number;
  /** Timestamp as the wire carries it: 32 bits, deltas added modulo 2^32. */
  timestamp: number;
  payload: Buffer;
  /** Format of the header of the message's first chunk. */
  firstFmt: number;
  chunks: number;
  /** The message's timestamp field needed the extended (32-bit) form. */
  extended: boolean;
  /** Type-3 chunks of this message without the repeated extended timestamp. */
  extendedOmitted: number;
  /** Type-3 chunks of this message with it. */
  extendedRepeated: number;
  /** Monotonic time of arrival (ms). */
  atMs: number;
}

export interface TraceStats {
  bytes: number;
  messages: number;
  chunksByFmt: [number, number, number, number];
  /** Highest chunk stream id the server used. */
  maxCsid: number;
  /** Set Chunk Size values the server sent, in order. */
  chunkSizes: number[];
  /** Window Acknowledgement Size the server announced last, or 0. */
  windowAckSize: number;
  /** Partial messages the server abandoned (Abort or a new header mid-message). */
  abandoned: number;
}

/** Failure to parse: the server's bytes cannot be RTMP chunks (or exceed what a probe keeps). */
export class TraceError extends Error {
  override name = 'TraceError';
}

interface StreamState {
  readonly csid: number;
  initialised: boolean;
  fmt: number;
  timestampField: number;
  extended: boolean;
  timestamp: number;
  length: number;
  typeId: number;
  streamId: number;
  payload: Buffer | null;
  received: number;
  chunks: number;
  firstFmt: number;
  omitted: number;
  repeated: number;
}

const TWO_POW_32 = 2 ** 32;
/** Most bytes of payload a trace keeps in messages at once (a probe sends at most 16 MB). */
const MAX_KEPT_BYTES = 40 * 1024 * 1024;

export class ChunkTrace {
  readonly stats: TraceStats = {
    bytes: 0,
    messages: 0,
    chunksByFmt: [0, 0, 0, 0],
    maxCsid: 0,
    chunkSizes: [],
    windowAckSize: 0,
    abandoned: 0,
  };
  private readonly streams = new Map<number, StreamState>();
  private chunkSize = DEFAULT_CHUNK_SIZE;
  private pending: Buffer = Buffer.alloc(0);
  /** Stream of the chunk whose payload is being read, and the bytes left in that chunk. */
  private current: StreamState | null = null;
  private chunkLeft = 0;
  private kept = 0;
  private failed: TraceError | null = null;
  private nextIndex = 0;

  constructor(private readonly onMessage: (m: TracedMessage) => void) {}

  get error(): TraceError | null {
    return this.failed;
  }

  /** Bytes from the server after the handshake. Returns false once the trace failed. */
  push(data: Buffer): boolean {
    if (this.failed !== null) return false;
    this.stats.bytes += data.length;
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, data]) : data;
    let pos = 0;
    try {
      for (;;) {
        if (this.current !== null) {
          const n = Math.min(this.chunkLeft, buf.length - pos);
          this.store(this.current, buf, pos, n);
          pos += n;
          this.chunkLeft -= n;
          if (this.chunkLeft > 0) break;
          const cs = this.current;
          this.current = null;
          if (cs.received === cs.length) this.deliver(cs);
          continue;
        }
        const used = this.header(buf, pos);
        if (used === 0) break;
        pos += used;
      }
    } catch (e) {
      this.failed = e instanceof TraceError ? e : new TraceError(String(e));
      return false;
    }
    this.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : Buffer.alloc(0);
    return true;
  }

  /** Parses one chunk header at `pos`; returns its size, or 0 when more bytes are needed. */
  private header(buf: Buffer, pos: number): number {
    const avail = buf.length - pos;
    if (avail < 1) return 0;
    const b0 = buf[pos]!;
    const fmt = b0 >>> 6;
    let csid = b0 & 0x3f;
    let o = pos + 1;
    if (csid === 0) {
      if (avail < 2) return 0;
      csid = 64 + buf[o]!;
      o += 1;
    } else if (csid === 1) {
      if (avail < 3) return 0;
      csid = 64 + buf[o]! + buf[o + 1]! * 256;
      o += 2;
    }
    const headerSize = MESSAGE_HEADER_SIZE[fmt as 0 | 1 | 2 | 3];
    if (buf.length - o < headerSize) return 0;
    let cs = this.streams.get(csid);
    if (cs === undefined) {
      if (fmt !== 0) throw new TraceError(`fmt ${fmt} chunk on chunk stream ${csid}, which had no fmt 0 header`);
      cs = {
        csid,
        initialised: false,
        fmt: 0,
        timestampField: 0,
        extended: false,
        timestamp: 0,
        length: 0,
        typeId: 0,
        streamId: 0,
        payload: null,
        received: 0,
        chunks: 0,
        firstFmt: 0,
        omitted: 0,
        repeated: 0,
      };
    }
    let field = cs.timestampField;
    let extended = cs.extended;
    let length = cs.length;
    let typeId = cs.typeId;
    let streamId = cs.streamId;
    if (fmt <= 2) {
      field = (buf[o]! << 16) | (buf[o + 1]! << 8) | buf[o + 2]!;
      extended = field === EXTENDED_TIMESTAMP_MARK;
    }
    if (fmt <= 1) {
      length = (buf[o + 3]! << 16) | (buf[o + 4]! << 8) | buf[o + 5]!;
      typeId = buf[o + 6]!;
    }
    if (fmt === 0) streamId = buf.readUInt32LE(o + 7);
    o += headerSize;
    let repeatedHere = false;
    let omittedHere = false;
    if (extended) {
      if (buf.length - o < 4) return 0;
      const value = buf.readUInt32BE(o);
      if (fmt === 3) {
        // The spec repeats the field on type-3 chunks; some servers leave it out.
        if (value === cs.timestampField) {
          o += 4;
          repeatedHere = true;
        } else {
          omittedHere = true;
        }
      } else {
        field = value;
        o += 4;
      }
    }
    this.streams.set(csid, cs);
    this.stats.chunksByFmt[fmt as 0 | 1 | 2 | 3]++;
    if (csid > this.stats.maxCsid) this.stats.maxCsid = csid;
    if (fmt !== 3 && cs.received > 0) {
      // A new header mid-message: the server abandoned the message.
      this.drop(cs);
    }
    cs.fmt = fmt;
    cs.timestampField = field;
    cs.extended = extended;
    cs.length = length;
    cs.typeId = typeId;
    cs.streamId = streamId;
    if (cs.received === 0) {
      cs.timestamp = fmt === 0 ? field : (cs.timestamp + field) % TWO_POW_32;
      cs.initialised = true;
      cs.chunks = 0;
      cs.firstFmt = fmt;
      cs.omitted = 0;
      cs.repeated = 0;
      if (this.kept + length > MAX_KEPT_BYTES)
        throw new TraceError(`more than ${MAX_KEPT_BYTES} bytes of messages kept; the probe reads no more`);
      cs.payload = Buffer.allocUnsafe(length);
      this.kept += length;
    } else {
      if (repeatedHere) cs.repeated++;
      if (omittedHere) cs.omitted++;
    }
    cs.chunks++;
    this.current = cs;
    this.chunkLeft = Math.min(this.chunkSize, cs.length - cs.received);
    if (this.chunkLeft === 0) {
      this.current = null;
      this.deliver(cs);
    }
    return o - pos;
  }

  private store(cs: StreamState, src: Buffer, start: number, n: number): void {
    if (n <= 0) return;
    src.copy(cs.payload!, cs.received, start, start + n);
    cs.received += n;
  }

  private drop(cs: StreamState): void {
    this.stats.abandoned++;
    this.kept -= cs.length;
    cs.payload = null;
    cs.received = 0;
  }

  private deliver(cs: StreamState): void {
    const payload = cs.payload ?? Buffer.alloc(0);
    cs.payload = null;
    cs.received = 0;
    this.stats.messages++;
    const m: TracedMessage = {
      index: this.nextIndex++,
      csid: cs.csid,
      typeId: cs.typeId,
      streamId: cs.streamId,
      timestamp: cs.timestamp,
      payload,
      firstFmt: cs.firstFmt,
      chunks: cs.chunks,
      extended: cs.extended,
      extendedOmitted: cs.omitted,
      extendedRepeated: cs.repeated,
      atMs: performance.now(),
    };
    if (m.typeId === MSG_SET_CHUNK_SIZE && payload.length >= 4) {
      this.chunkSize = payload.readUInt32BE(0) & 0x7fffffff || DEFAULT_CHUNK_SIZE;
      this.stats.chunkSizes.push(this.chunkSize);
    } else if (m.typeId === MSG_ABORT && payload.length >= 4) {
      const target = this.streams.get(payload.readUInt32BE(0));
      if (target !== undefined && target.received > 0) this.drop(target);
    } else if (m.typeId === MSG_WINDOW_ACK_SIZE && payload.length >= 4) {
      this.stats.windowAckSize = payload.readUInt32BE(0);
    }
    this.onMessage(m);
  }
}
