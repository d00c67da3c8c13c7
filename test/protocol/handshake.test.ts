import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HANDSHAKE_SIZE } from '../../src/protocol/constants.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { ClientHandshake, digestOffset, findDigest, ServerHandshake } from '../../src/protocol/handshake.js';

/** Deterministic "random" bytes so vectors are reproducible. */
function seeded(seed: number): (n: number) => Buffer {
  let x = seed;
  return (n) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      b[i] = x >>> 24;
    }
    return b;
  };
}

const FP_KEY_TEXT = Buffer.from('Genuine Adobe Flash Player 001');
const FMS_KEY_TEXT = Buffer.from('Genuine Adobe Flash Media Server 001');
const KEY_SUFFIX = Buffer.from('f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae', 'hex');

/** The digest rule written out independently of the implementation. */
function expectedDigest(packet: Buffer, base: number, key: Buffer): { offset: number; digest: Buffer } {
  const offset = ((packet[base]! + packet[base + 1]! + packet[base + 2]! + packet[base + 3]!) % 728) + base + 4;
  const h = createHmac('sha256', key);
  h.update(packet.subarray(0, offset));
  h.update(packet.subarray(offset + 32));
  return { offset, digest: h.digest() };
}

function plainC0C1(): Buffer {
  const b = Buffer.alloc(1 + HANDSHAKE_SIZE);
  b[0] = 3;
  b.writeUInt32BE(12345, 1); // time
  // version bytes 5..8 stay zero
  seeded(7)(HANDSHAKE_SIZE - 8).copy(b, 9);
  return b;
}

/** Runs a client against a server in memory, feeding bytes in pieces of `step`. */
function converse(client: ClientHandshake, server: ServerHandshake, step = Infinity) {
  const feed = (
    hs: { push(b: Buffer): { output: Buffer[]; done: boolean; remainder: Buffer | null } },
    bytes: Buffer,
  ) => {
    const out: Buffer[] = [];
    let done = false;
    for (let i = 0; i < bytes.length; i += Math.min(step, bytes.length)) {
      const r = hs.push(bytes.subarray(i, Math.min(bytes.length, i + step)));
      out.push(...r.output);
      done = r.done;
    }
    return { out: Buffer.concat(out), done };
  };
  const s = feed(server, client.start());
  const c = feed(client, s.out);
  const s2 = feed(server, c.out);
  return { serverDone: s2.done, clientDone: c.done, s0s1s2: s.out, c2: c.out };
}

describe('ServerHandshake', () => {
  it('answers a plain C1 with S1 version zero and an S2 that echoes C1', () => {
    const server = new ServerHandshake({ randomBytes: seeded(1) });
    const c0c1 = plainC0C1();
    const { output, done } = server.push(c0c1);
    expect(done).toBe(false);
    const out = Buffer.concat(output);
    expect(out).toHaveLength(1 + 2 * HANDSHAKE_SIZE);
    expect(out[0]).toBe(3);
    expect(out.readUInt32BE(1 + 4)).toBe(0); // S1 version: zero, no digest
    expect(out.subarray(1 + HANDSHAKE_SIZE).equals(c0c1.subarray(1))).toBe(true);
    expect(server.clientScheme).toBeNull();
  });

  it('answers a digest C1 with a valid server digest in S1 and a correctly signed S2', () => {
    const client = new ClientHandshake({ randomBytes: seeded(2) });
    const c0c1 = client.start();
    const c1 = c0c1.subarray(1);
    // Client C1 digest as the rule defines it: offset from bytes 8..11, key "Genuine Adobe Flash Player 001".
    const cd = expectedDigest(c1, 8, FP_KEY_TEXT);
    expect(c1.subarray(cd.offset, cd.offset + 32).equals(cd.digest)).toBe(true);

    const server = new ServerHandshake({ randomBytes: seeded(3) });
    const out = Buffer.concat(server.push(c0c1).output);
    expect(server.clientScheme).toBe(8);
    const s1 = out.subarray(1, 1 + HANDSHAKE_SIZE);
    const s2 = out.subarray(1 + HANDSHAKE_SIZE);
    expect(s1.readUInt32BE(4)).not.toBe(0);
    const sd = expectedDigest(s1, 8, FMS_KEY_TEXT);
    expect(s1.subarray(sd.offset, sd.offset + 32).equals(sd.digest)).toBe(true);
    // S2: last 32 bytes = HMAC(HMAC(FMS key + suffix, client digest), first 1504 bytes).
    const key = createHmac('sha256', Buffer.concat([FMS_KEY_TEXT, KEY_SUFFIX]))
      .update(cd.digest)
      .digest();
    const sig = createHmac('sha256', key).update(s2.subarray(0, 1504)).digest();
    expect(s2.subarray(1504).equals(sig)).toBe(true);
  });

  it('accepts a digest at the 772-based position', () => {
    const c1 = seeded(9)(HANDSHAKE_SIZE);
    c1.writeUInt32BE(0x09007c02, 4);
    const d = expectedDigest(c1, 772, FP_KEY_TEXT);
    d.digest.copy(c1, d.offset);
    expect(findDigest(c1, 'player')).toBe(772);
    const server = new ServerHandshake();
    server.push(Buffer.concat([Buffer.from([3]), c1]));
    expect(server.clientScheme).toBe(772); // the server tries scheme 8 first: C1 has no digest there
  });

  it('treats a non-zero version without a valid digest as a simple handshake', () => {
    const c0c1 = plainC0C1();
    c0c1.writeUInt32BE(0x80000702, 5);
    const server = new ServerHandshake();
    const out = Buffer.concat(server.push(c0c1).output);
    expect(server.clientScheme).toBeNull();
    expect(out.readUInt32BE(5)).toBe(0);
  });

  it('completes after C2 and returns the bytes that follow as the start of the chunk stream', () => {
    const server = new ServerHandshake();
    server.push(plainC0C1());
    const c2AndMore = Buffer.concat([Buffer.alloc(HANDSHAKE_SIZE, 1), Buffer.from([0x03, 0x00])]);
    const r = server.push(c2AndMore);
    expect(r.done).toBe(true);
    expect(r.remainder?.toString('hex')).toBe('0300');
    expect(server.done).toBe(true);
  });

  it('works when C0, C1 and C2 arrive one byte at a time', () => {
    const server = new ServerHandshake();
    const bytes = Buffer.concat([plainC0C1(), Buffer.alloc(HANDSHAKE_SIZE, 2)]);
    let outputs = 0;
    let done = false;
    for (let i = 0; i < bytes.length; i++) {
      const r = server.push(bytes.subarray(i, i + 1));
      outputs += r.output.length;
      done = r.done;
      if (i < bytes.length - 1) expect(r.done).toBe(false);
    }
    expect(outputs).toBe(1);
    expect(done).toBe(true);
  });

  it('rejects a version byte other than 3 (including RTMPE) with a protocol error', () => {
    for (const v of [6, 8, 0x16, 0x47]) {
      const server = new ServerHandshake();
      expect(() => server.push(Buffer.from([v, 0, 0]))).toThrow(ProtocolError);
      try {
        new ServerHandshake().push(Buffer.from([v]));
      } catch (e) {
        expect((e as ProtocolError).code).toBe('RTMP_ERR_HANDSHAKE_VERSION');
      }
    }
  });
});

describe('ClientHandshake', () => {
  it('completes with a digest server, sending a signed C2 and verifying S2', () => {
    const client = new ClientHandshake({ randomBytes: seeded(4) });
    const server = new ServerHandshake({ randomBytes: seeded(5) });
    const r = converse(client, server);
    expect(r.clientDone).toBe(true);
    expect(r.serverDone).toBe(true);
    expect(client.serverDigest).toBe(true);
    expect(client.serverResponseValid).toBe(true);
    // C2 = random + HMAC(HMAC(FP key + suffix, S1 digest), random)
    const s1 = r.s0s1s2.subarray(1, 1 + HANDSHAKE_SIZE);
    const sd = expectedDigest(s1, 8, FMS_KEY_TEXT);
    const key = createHmac('sha256', Buffer.concat([FP_KEY_TEXT, KEY_SUFFIX]))
      .update(sd.digest)
      .digest();
    expect(r.c2.subarray(1504).equals(createHmac('sha256', key).update(r.c2.subarray(0, 1504)).digest())).toBe(true);
  });

  it('signs C1 under scheme 772 when asked, and a digest server answers under that scheme', () => {
    const client = new ClientHandshake({ randomBytes: seeded(6), scheme: 772 });
    const server = new ServerHandshake({ randomBytes: seeded(8) });
    const r = converse(client, server);
    expect(r.clientDone && r.serverDone).toBe(true);
    expect(server.clientScheme).toBe(772); // the server tries scheme 8 first: C1 has no digest there
    expect(client.serverDigest).toBe(true);
    expect(client.serverResponseValid).toBe(true);
  });

  it('completes with a simple server by echoing S1', () => {
    const client = new ClientHandshake({ digest: false });
    const server = new ServerHandshake();
    const r = converse(client, server, 100);
    expect(r.clientDone && r.serverDone).toBe(true);
    expect(client.serverDigest).toBe(false);
    expect(client.serverResponseValid).toBe(true); // S2 echoed our C1
    expect(r.c2.equals(r.s0s1s2.subarray(1, 1 + HANDSHAKE_SIZE))).toBe(true);
  });

  it('sends a digest C1 to a server that answers plainly and echoes its S1', () => {
    const client = new ClientHandshake();
    const c0c1 = client.start();
    // A server that ignores digests: S1 with version 0, S2 = C1.
    const s = Buffer.concat([Buffer.from([3]), Buffer.alloc(HANDSHAKE_SIZE, 9).fill(0, 4, 8), c0c1.subarray(1)]);
    const r = client.push(s);
    expect(r.done).toBe(true);
    expect(client.serverDigest).toBe(false);
    expect(r.output[0]!.equals(s.subarray(1, 1 + HANDSHAKE_SIZE))).toBe(true);
  });

  it('rejects a server version byte other than 3', () => {
    const client = new ClientHandshake();
    client.start();
    expect(() => client.push(Buffer.from([6]))).toThrow(
      expect.objectContaining({ code: 'RTMP_ERR_HANDSHAKE_VERSION' }),
    );
  });

  it('computes digest offsets as the sum of four bytes modulo 728 plus base + 4', () => {
    const p = Buffer.alloc(HANDSHAKE_SIZE);
    p[8] = 255;
    p[9] = 255;
    p[10] = 255;
    p[11] = 255;
    expect(digestOffset(p, 8)).toBe((1020 % 728) + 12);
    expect(digestOffset(p, 772)).toBe(776);
  });
});
