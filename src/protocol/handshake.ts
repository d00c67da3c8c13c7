import { createHmac, randomBytes as cryptoRandomBytes, timingSafeEqual } from 'node:crypto';
import { HANDSHAKE_SIZE, RTMP_VERSION } from './constants.js';
import { ProtocolError } from './errors.js';

/**
 * The RTMP handshake, both sides, as pure state machines: feed received bytes to `push`,
 * write what it returns. Two forms exist:
 * - simple (spec): C1/S1 carry time, four zero bytes and random bytes; S2/C2 echo C1/S1;
 * - digest ("complex", Flash Player 9+, librtmp, ffmpeg): C1/S1 carry a version and an
 *   HMAC-SHA256 digest at an offset derived from the packet itself; S2/C2 are random bytes
 *   signed with a key derived from the peer's digest.
 */

const DIGEST_SIZE = 32;
/** Bytes of C1/S1/C2/S2 that the digest is computed over (all but the digest). */
const DIGEST_MESSAGE_SIZE = HANDSHAKE_SIZE - DIGEST_SIZE;

/** Trailing 32 bytes appended to both keys in their long forms (public protocol constants). */
const KEY_SUFFIX = Buffer.from('f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae', 'hex');
const PLAYER_KEY = Buffer.concat([Buffer.from('Genuine Adobe Flash Player 001', 'latin1'), KEY_SUFFIX]);
const PLAYER_KEY_SHORT = PLAYER_KEY.subarray(0, 30);
const SERVER_KEY = Buffer.concat([Buffer.from('Genuine Adobe Flash Media Server 001', 'latin1'), KEY_SUFFIX]);
const SERVER_KEY_SHORT = SERVER_KEY.subarray(0, 36);

/** Version bytes our digest packets carry: a Flash Media Server 4 (server) / Flash Player 9 (client). */
const SERVER_VERSION = Buffer.from([4, 5, 0, 1]);
const CLIENT_VERSION = Buffer.from([9, 0, 124, 2]);

/** Where the digest sits: the offset is computed from four bytes at 8 or at 772. */
export type DigestScheme = 8 | 772;
const SCHEMES: readonly DigestScheme[] = [8, 772];

export type RandomSource = (size: number) => Buffer;

export function digestOffset(packet: Buffer, scheme: DigestScheme): number {
  const sum = packet[scheme]! + packet[scheme + 1]! + packet[scheme + 2]! + packet[scheme + 3]!;
  return (sum % 728) + scheme + 4;
}

function hmac(key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Digest over a packet with its digest bytes left out. */
function packetDigest(packet: Buffer, offset: number, key: Buffer): Buffer {
  return hmac(key, packet.subarray(0, offset), packet.subarray(offset + DIGEST_SIZE, HANDSHAKE_SIZE));
}

/** The scheme under which `packet` carries a valid digest made with `key`, or null. */
export function findDigest(
  packet: Buffer,
  key: 'player' | 'server',
  order: readonly DigestScheme[] = SCHEMES,
): DigestScheme | null {
  const k = key === 'player' ? PLAYER_KEY_SHORT : SERVER_KEY_SHORT;
  for (const scheme of order) {
    const offset = digestOffset(packet, scheme);
    if (timingSafeEqual(packetDigest(packet, offset, k), packet.subarray(offset, offset + DIGEST_SIZE))) return scheme;
  }
  return null;
}

function digestAt(packet: Buffer, scheme: DigestScheme): Buffer {
  const offset = digestOffset(packet, scheme);
  return packet.subarray(offset, offset + DIGEST_SIZE);
}

/** Fills `packet` (time, version, random) and writes its digest under `scheme`. */
function signPacket(packet: Buffer, scheme: DigestScheme, key: Buffer): void {
  const offset = digestOffset(packet, scheme);
  packetDigest(packet, offset, key).copy(packet, offset);
}

/** S2 or C2 answering a digest packet: random bytes signed with a key derived from `peerDigest`. */
function signedResponse(peerDigest: Buffer, longKey: Buffer, random: RandomSource): Buffer {
  const out = Buffer.allocUnsafe(HANDSHAKE_SIZE);
  random(DIGEST_MESSAGE_SIZE).copy(out, 0);
  const key = hmac(longKey, peerDigest);
  hmac(key, out.subarray(0, DIGEST_MESSAGE_SIZE)).copy(out, DIGEST_MESSAGE_SIZE);
  return out;
}

function verifySignedResponse(response: Buffer, ourDigest: Buffer, longKey: Buffer): boolean {
  const key = hmac(longKey, ourDigest);
  const expected = hmac(key, response.subarray(0, DIGEST_MESSAGE_SIZE));
  return timingSafeEqual(expected, response.subarray(DIGEST_MESSAGE_SIZE, HANDSHAKE_SIZE));
}

function epochField(): number {
  return Math.floor(performance.now()) >>> 0;
}

export interface HandshakeStep {
  /** Bytes to send to the peer now (possibly none). */
  output: Buffer[];
  /** True once the handshake is complete. */
  done: boolean;
  /** Bytes after the handshake in this push: the start of the chunk stream (a view). */
  remainder: Buffer | null;
}

export interface HandshakeOptions {
  /** Random bytes source (tests pass a seeded one). */
  randomBytes?: RandomSource;
}

/** Collects exactly `size` bytes across pushes. */
class Collector {
  readonly data: Buffer;
  filled = 0;
  constructor(size: number) {
    this.data = Buffer.allocUnsafe(size);
  }
  /** Copies what fits; returns how many bytes of `chunk` (from `offset`) were used. */
  fill(chunk: Buffer, offset: number): number {
    const n = Math.min(this.data.length - this.filled, chunk.length - offset);
    chunk.copy(this.data, this.filled, offset, offset + n);
    this.filled += n;
    return n;
  }
  get full(): boolean {
    return this.filled === this.data.length;
  }
}

const NO_OUTPUT: Buffer[] = [];

function remainderOf(chunk: Buffer, offset: number): Buffer | null {
  return offset < chunk.length ? chunk.subarray(offset) : null;
}

/**
 * Server side: reads C0+C1, answers S0+S1+S2 at once, then reads C2. A C1 with a valid
 * digest gets digest S1/S2 (as Flash Media Server answers); any other C1 gets a simple S1
 * with a zero version and an S2 that echoes C1.
 */
export class ServerHandshake {
  private readonly random: RandomSource;
  private c0c1: Collector | null = new Collector(1 + HANDSHAKE_SIZE);
  private c2: Collector | null = null;
  private finished = false;
  /** The digest scheme the client used, or null for a simple handshake (known after C1). */
  clientScheme: DigestScheme | null = null;

  constructor(options: HandshakeOptions = {}) {
    this.random = options.randomBytes ?? cryptoRandomBytes;
  }

  get done(): boolean {
    return this.finished;
  }

  push(chunk: Buffer): HandshakeStep {
    if (this.finished) return { output: NO_OUTPUT, done: true, remainder: chunk.length > 0 ? chunk : null };
    let offset = 0;
    let output = NO_OUTPUT;
    if (this.c0c1 !== null) {
      if (this.c0c1.filled === 0 && chunk.length > 0 && chunk[0] !== RTMP_VERSION) {
        throw new ProtocolError(
          'RTMP_ERR_HANDSHAKE_VERSION',
          `C0 is ${chunk[0]}; only version ${RTMP_VERSION} (plain RTMP) is served`,
          { state: 'c0', offset: 0 },
        );
      }
      offset += this.c0c1.fill(chunk, offset);
      if (!this.c0c1.full) return { output, done: false, remainder: null };
      output = [this.respond(this.c0c1.data.subarray(1))];
      this.c0c1 = null;
      this.c2 = new Collector(HANDSHAKE_SIZE);
    }
    offset += this.c2!.fill(chunk, offset);
    if (!this.c2!.full) return { output, done: false, remainder: null };
    this.c2 = null;
    this.finished = true;
    return { output, done: true, remainder: remainderOf(chunk, offset) };
  }

  private respond(c1: Buffer): Buffer {
    const out = Buffer.allocUnsafe(1 + 2 * HANDSHAKE_SIZE);
    out[0] = RTMP_VERSION;
    const s1 = out.subarray(1, 1 + HANDSHAKE_SIZE);
    const s2 = out.subarray(1 + HANDSHAKE_SIZE);
    const clientVersion = c1.readUInt32BE(4);
    this.clientScheme = clientVersion !== 0 ? findDigest(c1, 'player') : null;
    s1.writeUInt32BE(epochField(), 0);
    this.random(HANDSHAKE_SIZE - 8).copy(s1, 8);
    if (this.clientScheme === null) {
      s1.writeUInt32BE(0, 4);
      c1.copy(s2);
      return out;
    }
    SERVER_VERSION.copy(s1, 4);
    signPacket(s1, this.clientScheme, SERVER_KEY_SHORT);
    signedResponse(digestAt(c1, this.clientScheme), SERVER_KEY, this.random).copy(s2);
    return out;
  }
}

export interface ClientHandshakeOptions extends HandshakeOptions {
  /** Send a digest C1 (as Flash Player, librtmp and ffmpeg do). Default true. */
  digest?: boolean;
  /** Where the digest C1 carries its digest: scheme 8 (ffmpeg, librtmp; the default) or 772. */
  scheme?: DigestScheme;
}

/**
 * Client side: `start()` gives C0+C1; `push` reads S0+S1+S2 and answers C2. Works with
 * servers of either kind: a valid server digest in S1 gets a signed C2, anything else gets
 * an echo of S1.
 */
export class ClientHandshake {
  private readonly random: RandomSource;
  private readonly digest: boolean;
  private readonly scheme: DigestScheme;
  private c1: Buffer | null = null;
  private s0s1s2: Collector | null = new Collector(1 + 2 * HANDSHAKE_SIZE);
  private finished = false;
  /** Whether S1 carried a valid server digest (known when done). */
  serverDigest = false;
  /** Whether S2 was the correctly signed answer to our digest C1 (known when done). */
  serverResponseValid = false;

  constructor(options: ClientHandshakeOptions = {}) {
    this.random = options.randomBytes ?? cryptoRandomBytes;
    this.digest = options.digest ?? true;
    this.scheme = options.scheme ?? 8;
  }

  get done(): boolean {
    return this.finished;
  }

  /** C0 and C1, to send as soon as the socket connects. */
  start(): Buffer {
    const out = Buffer.allocUnsafe(1 + HANDSHAKE_SIZE);
    out[0] = RTMP_VERSION;
    const c1 = out.subarray(1);
    c1.writeUInt32BE(epochField(), 0);
    this.random(HANDSHAKE_SIZE - 8).copy(c1, 8);
    if (this.digest) {
      CLIENT_VERSION.copy(c1, 4);
      signPacket(c1, this.scheme, PLAYER_KEY_SHORT);
    } else {
      c1.writeUInt32BE(0, 4);
    }
    this.c1 = Buffer.from(c1);
    return out;
  }

  push(chunk: Buffer): HandshakeStep {
    if (this.finished) return { output: NO_OUTPUT, done: true, remainder: chunk.length > 0 ? chunk : null };
    if (this.c1 === null) {
      throw new ProtocolError('RTMP_ERR_HANDSHAKE_STATE', 'server bytes before C0/C1 was sent', { state: 'c0c1' });
    }
    const collector = this.s0s1s2!;
    if (collector.filled === 0 && chunk.length > 0 && chunk[0] !== RTMP_VERSION) {
      throw new ProtocolError('RTMP_ERR_HANDSHAKE_VERSION', `S0 is ${chunk[0]}; expected ${RTMP_VERSION}`, {
        state: 's0',
        offset: 0,
      });
    }
    const used = collector.fill(chunk, 0);
    if (!collector.full) return { output: NO_OUTPUT, done: false, remainder: null };
    this.s0s1s2 = null;
    this.finished = true;
    const s1 = collector.data.subarray(1, 1 + HANDSHAKE_SIZE);
    const s2 = collector.data.subarray(1 + HANDSHAKE_SIZE);
    let c2: Buffer;
    const scheme = s1.readUInt32BE(4) !== 0 ? findDigest(s1, 'server', [772, 8]) : null;
    if (scheme !== null) {
      this.serverDigest = true;
      c2 = signedResponse(digestAt(s1, scheme), PLAYER_KEY, this.random);
    } else {
      c2 = Buffer.from(s1);
    }
    if (this.digest) {
      this.serverResponseValid = verifySignedResponse(s2, digestAt(this.c1, this.scheme), SERVER_KEY);
    } else {
      this.serverResponseValid = s2.equals(this.c1);
    }
    return { output: [c2], done: true, remainder: remainderOf(chunk, used) };
  }
}
