import { encodeAmf0 } from '../../../protocol/amf0.js';
import { CSID_COMMAND, HANDSHAKE_SIZE, MSG_COMMAND_AMF0 } from '../../../protocol/constants.js';
import type { DigestScheme } from '../../../protocol/handshake.js';
import { connectObject, describeReply, type HandshakeFacts } from '../connection.js';
import type { ProbeContext, ProbeVerdict } from '../context.js';
import { chunkMessage } from '../wire/raw-chunks.js';

/** Handshake probes: the forms clients use, and what the server's S1 says about itself. */

function noteFacts(ctx: ProbeContext, f: HandshakeFacts): void {
  ctx.note('S1 version field', f.s1Version);
  ctx.note('S1 digest', f.s1Scheme === null ? 'none' : `scheme ${f.s1Scheme}`);
  ctx.note(
    'S2',
    f.s2EchoesC1
      ? 'echoes C1'
      : f.s2Valid
        ? 'signed against our digest'
        : 'neither an echo of C1 nor signed against our digest',
  );
  ctx.note('handshake ms', Math.round(f.handshakeMs * 10) / 10);
}

/** A simple handshake: C1 with a zero version field and zero random bytes, as the spec's plain form. */
export async function simple(ctx: ProbeContext): Promise<ProbeVerdict> {
  const conn = await ctx.dial();
  const f = await conn.handshake(ctx.waitMs, { form: 'zero' });
  noteFacts(ctx, f);
  await conn.connect(ctx.waitMs);
  return {
    result: 'pass',
    detail:
      `completed; connect answered (S2 ` +
      `${f.s2EchoesC1 ? 'echoes C1' : 'does not echo C1, which librtmp and ffmpeg tolerate'})`,
  };
}

async function digest(ctx: ProbeContext, scheme: DigestScheme): Promise<ProbeVerdict> {
  const conn = await ctx.dial();
  const f = await conn.handshake(ctx.waitMs, { form: 'digest', scheme });
  noteFacts(ctx, f);
  await conn.connect(ctx.waitMs);
  if (f.s1Version === '0.0.0.0')
    return {
      result: 'pass',
      detail: 'completed; the server answered with a simple handshake (no digest), which digest clients accept',
    };
  if (!f.serverDigest)
    return {
      result: 'fail',
      detail:
        `S1 announces version ${f.s1Version} but carries no valid server digest: clients that ` +
        `verify it (ffmpeg, Flash Player) refuse`,
    };
  if (!f.s2Valid)
    return {
      result: 'fail',
      detail:
        `S2 is not signed against our scheme-${scheme} digest: clients that verify it (ffmpeg, ` +
        `Flash Player) refuse`,
    };
  return {
    result: 'pass',
    detail:
      `completed with a digest answer (S1 digest under scheme ${f.s1Scheme}, S2 signed against ` +
      `ours); connect answered`,
  };
}

export const digestScheme8 = (ctx: ProbeContext) => digest(ctx, 8);
export const digestScheme772 = (ctx: ProbeContext) => digest(ctx, 772);

/** C0, C1 and C2 in one write, before S1 arrived (C2 a copy of C1), as some hardware encoders do. */
export async function c2Early(ctx: ProbeContext): Promise<ProbeVerdict> {
  const conn = await ctx.dial();
  const f = await conn.handshake(ctx.waitMs, { c2Early: true });
  noteFacts(ctx, f);
  await conn.connect(ctx.waitMs);
  return { result: 'pass', detail: 'a C2 sent with C0 and C1 (before S1) was accepted; connect answered' };
}

/** C2 and the connect command in one write: the chunk stream starts in the same segment as C2. */
export async function c2WithConnect(ctx: ProbeContext): Promise<ProbeVerdict> {
  const conn = await ctx.dial();
  const body = encodeAmf0('connect', 1, connectObject(ctx.target));
  const chunks = Buffer.concat(
    chunkMessage(
      { csid: CSID_COMMAND, typeId: MSG_COMMAND_AMF0, streamId: 0, timestamp: 0, payload: body },
      { chunkSize: 128 },
    ),
  );
  const f = await conn.handshake(ctx.waitMs, { withC2: chunks });
  noteFacts(ctx, f);
  const reply = await conn.waitReply(1, ctx.waitMs, 'the answer to connect sent with C2');
  if (reply.name !== '_result')
    return { result: 'fail', detail: `connect sent with C2 was refused: ${describeReply(reply)}` };
  return { result: 'pass', detail: 'connect in the same write as C2 was answered' };
}

/** What the server says about itself in S1, to a digest client and to a simple one. */
export async function serverS1(ctx: ProbeContext): Promise<ProbeVerdict> {
  const digestConn = await ctx.dial();
  const d = await digestConn.handshake(ctx.waitMs, { form: 'digest' });
  const simpleConn = await ctx.dial();
  const s = await simpleConn.handshake(ctx.waitMs, { form: 'simple' });
  ctx.note('S1 time field', d.s1Time);
  ctx.note('S1 version field (digest client)', d.s1Version);
  ctx.note('S1 digest (digest client)', d.s1Scheme === null ? 'none' : `scheme ${d.s1Scheme}`);
  ctx.note('S2 (digest client)', d.s2Valid ? 'signed against our digest' : d.s2EchoesC1 ? 'echoes C1' : 'random');
  ctx.note('S1 version field (simple client)', s.s1Version);
  ctx.note('S2 (simple client)', s.s2EchoesC1 ? 'echoes C1' : 'does not echo C1');
  const digestPart =
    d.s1Scheme === null
      ? `no digest (S1 version ${d.s1Version})`
      : `version ${d.s1Version}, digest under scheme ${d.s1Scheme}`;
  return {
    result: 'info',
    detail:
      `to a digest client: ${digestPart}, S2 ${d.s2Valid ? 'signed' : 'unsigned'}; to a simple ` +
      `client: S2 ${s.s2EchoesC1 ? 'echoes C1' : 'does not echo C1'}`,
  };
}

/** C0 asking for version 6 (RTMPE): the spec says a server answers 3, or the client gives up. */
export async function otherVersion(ctx: ProbeContext): Promise<ProbeVerdict> {
  const conn = await ctx.dial();
  const c0c1 = Buffer.alloc(1 + HANDSHAKE_SIZE, 0x42);
  c0c1[0] = 6;
  c0c1.writeUInt32BE(0, 1);
  c0c1.writeUInt32BE(0, 5);
  conn.write(c0c1);
  const answered = await conn.waitRaw(1, ctx.waitMs, 'S0').catch(() => null);
  if (answered !== null) {
    ctx.note('S0', answered[0]!);
    return {
      result: 'info',
      detail: answered[0] === 3 ? 'answers S0 = 3 (plain RTMP), as the spec suggests' : `answers S0 = ${answered[0]}`,
    };
  }
  ctx.note('connection', conn.closedBy ?? 'open, no answer');
  return {
    result: 'info',
    detail: conn.closed ? 'closes the connection' : `no answer within ${ctx.waitMs} ms, connection left open`,
  };
}
