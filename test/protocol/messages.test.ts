import { describe, expect, it } from 'vitest';
import {
  commandMessage,
  connectCommand,
  connectResultCommand,
  createStreamCommand,
  createStreamResultCommand,
  dataMessageName,
  deleteStreamCommand,
  errorCommand,
  fcPublishCommand,
  getStreamLengthCommand,
  onMetaDataMessage,
  onStatusCommand,
  parseCommand,
  parseData,
  playCommand,
  publishCommand,
  releaseStreamCommand,
  rewriteSetDataFrame,
  setDataFrameMessage,
  statusInfo,
  Status,
} from '../../src/protocol/commands.js';
import {
  CSID_COMMAND,
  CSID_PROTOCOL,
  MSG_COMMAND_AMF3,
  MSG_DATA_AMF0,
  MSG_USER_CONTROL,
  UC_PING_REQUEST,
  UC_SET_BUFFER_LENGTH,
  UC_STREAM_BEGIN,
} from '../../src/protocol/constants.js';
import {
  abortMessage,
  acknowledgementMessage,
  parseUserControl,
  pingRequestMessage,
  pingResponseMessage,
  setBufferLengthMessage,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  streamBeginMessage,
  streamEofMessage,
  windowAckSizeMessage,
} from '../../src/protocol/control.js';
import { decodeMessage, splitAggregate } from '../../src/protocol/decode.js';
import { isEcmaArray } from '../../src/protocol/amf-types.js';
import type { OutgoingMessage } from '../../src/protocol/message.js';
import { hex } from '../helpers/bytes.js';

const asRead = (m: OutgoingMessage) => ({ ...m, pooled: false, length: m.payload.length });

describe('protocol control messages', () => {
  it('encodes each control message on chunk stream 2, stream 0', () => {
    const cases: [OutgoingMessage, number, string][] = [
      [setChunkSizeMessage(4096), 1, '00001000'],
      [abortMessage(6), 2, '00000006'],
      [acknowledgementMessage(2 ** 32 + 7), 3, '00000007'],
      [windowAckSizeMessage(2_500_000), 5, '002625a0'],
      [setPeerBandwidthMessage(2_500_000, 2), 6, '002625a002'],
    ];
    for (const [m, typeId, payload] of cases) {
      expect(m.csid).toBe(CSID_PROTOCOL);
      expect(m.streamId).toBe(0);
      expect(m.typeId).toBe(typeId);
      expect(m.payload.toString('hex')).toBe(payload);
    }
  });

  it('decodes them back into the discriminated union', () => {
    expect(decodeMessage(asRead(setChunkSizeMessage(4096)))).toEqual({ kind: 'set-chunk-size', chunkSize: 4096 });
    expect(decodeMessage(asRead(setPeerBandwidthMessage(1000, 1)))).toEqual({
      kind: 'set-peer-bandwidth',
      size: 1000,
      limitType: 1,
    });
    expect(decodeMessage(asRead(acknowledgementMessage(99)))).toEqual({ kind: 'acknowledgement', sequenceNumber: 99 });
  });

  it('rejects a Set Chunk Size outside 1..2^31-1', () => {
    expect(() => setChunkSizeMessage(0)).toThrow(/chunk size/);
    expect(() => setChunkSizeMessage(2 ** 31)).toThrow(/chunk size/);
  });
});

describe('user control events', () => {
  it('encodes StreamBegin, StreamEOF, SetBufferLength and pings with golden bytes', () => {
    expect(streamBeginMessage(1).payload.toString('hex')).toBe('000000000001');
    expect(streamEofMessage(1).payload.toString('hex')).toBe('000100000001');
    expect(setBufferLengthMessage(1, 3000).payload.toString('hex')).toBe('00030000000100000bb8');
    expect(pingRequestMessage(0x1234).payload.toString('hex')).toBe('000600001234');
    expect(pingResponseMessage(0x1234).payload.toString('hex')).toBe('000700001234');
    expect(streamBeginMessage(1).typeId).toBe(MSG_USER_CONTROL);
  });

  it('parses each event kind', () => {
    expect(parseUserControl(hex('0000 00000001'))).toEqual({ event: UC_STREAM_BEGIN, streamId: 1 });
    expect(parseUserControl(hex('0003 00000001 00000bb8'))).toEqual({
      event: UC_SET_BUFFER_LENGTH,
      streamId: 1,
      bufferLengthMs: 3000,
    });
    expect(parseUserControl(hex('0006 00001234'))).toEqual({ event: UC_PING_REQUEST, timestamp: 0x1234 });
    expect(parseUserControl(hex('001f 00000001'))).toEqual({ event: 0x1f, data: hex('00000001') });
  });

  it('rejects a truncated event', () => {
    expect(() => parseUserControl(hex('0003 00000001'))).toThrow(
      expect.objectContaining({ code: 'RTMP_ERR_CONTROL_MALFORMED' }),
    );
    expect(() => parseUserControl(hex('00'))).toThrow(expect.objectContaining({ code: 'RTMP_ERR_CONTROL_MALFORMED' }));
  });
});

describe('commands', () => {
  it('encodes createStream with golden bytes', () => {
    const m = createStreamCommand(2);
    expect(m.csid).toBe(CSID_COMMAND);
    expect(m.payload.toString('hex')).toBe(
      hex('02 000c 63726561746553747265616d  00 4000000000000000  05').toString('hex'),
    );
  });

  it('round-trips every command builder through parseCommand', () => {
    const cases: [OutgoingMessage, string, number, unknown[]][] = [
      [createStreamResultCommand(2, 1), '_result', 2, [1]],
      [releaseStreamCommand(2, 'key'), 'releaseStream', 2, ['key']],
      [fcPublishCommand(3, 'key'), 'FCPublish', 3, ['key']],
      [publishCommand(5, 1, 'key'), 'publish', 5, ['key', 'live']],
      [playCommand(4, 1, 'key'), 'play', 4, ['key', -2, -1, true]],
      [deleteStreamCommand(6, 1), 'deleteStream', 6, [1]],
      [getStreamLengthCommand(3, 'key'), 'getStreamLength', 3, ['key']],
    ];
    for (const [m, name, tid, args] of cases) {
      const c = parseCommand(m.payload);
      expect(c.name).toBe(name);
      expect(c.transactionId).toBe(tid);
      expect(c.commandObject).toBeNull();
      expect(c.args).toEqual(args);
    }
  });

  it('builds connect with the fields clients send and parses it back', () => {
    const m = connectCommand({
      app: 'live',
      tcUrl: 'rtmp://127.0.0.1:1935/live',
      objectEncoding: 0,
      fourCcList: ['hvc1'],
    });
    const c = parseCommand(m.payload);
    expect(c).toMatchObject({
      name: 'connect',
      transactionId: 1,
      commandObject: {
        app: 'live',
        tcUrl: 'rtmp://127.0.0.1:1935/live',
        type: 'nonprivate',
        objectEncoding: 0,
        fourCcList: ['hvc1'],
      },
    });
  });

  it('builds the connect result with NetConnection.Connect.Success', () => {
    const c = parseCommand(connectResultCommand(1).payload);
    expect(c.name).toBe('_result');
    expect(statusInfo(c)).toEqual({
      level: 'status',
      code: Status.CONNECT_SUCCESS,
      description: 'Connection succeeded.',
    });
  });

  it('builds onStatus and _error with their status info', () => {
    const s = parseCommand(
      onStatusCommand(1, { level: 'error', code: Status.PUBLISH_BAD_NAME, description: 'taken' }).payload,
    );
    expect(s.name).toBe('onStatus');
    expect(statusInfo(s)?.code).toBe('NetStream.Publish.BadName');
    expect(statusInfo(parseCommand(errorCommand(4, Status.PLAY_STREAM_NOT_FOUND, 'none').payload))?.level).toBe(
      'error',
    );
  });

  it('parses an AMF3 command (type 17) after its leading format byte', () => {
    const body = commandMessage('connect', 1, { app: 'x' }).payload;
    const c = parseCommand(Buffer.concat([Buffer.from([0]), body]), MSG_COMMAND_AMF3);
    expect(c.name).toBe('connect');
    expect(c.commandObject).toEqual({ app: 'x' });
  });

  it('rejects a command whose first value is not a string', () => {
    expect(() => parseCommand(hex('00 3ff0000000000000'))).toThrow(
      expect.objectContaining({ code: 'RTMP_ERR_COMMAND_MALFORMED' }),
    );
  });
});

describe('data messages', () => {
  it('rewrites @setDataFrame to onMetaData as a view, without copying', () => {
    const m = setDataFrameMessage(1, { width: 1280, height: 720 });
    expect(m.typeId).toBe(MSG_DATA_AMF0);
    const rewritten = rewriteSetDataFrame(m.payload);
    expect(rewritten.buffer).toBe(m.payload.buffer);
    expect(rewritten.equals(onMetaDataMessage(1, { width: 1280, height: 720 }).payload)).toBe(true);
    const d = parseData(rewritten);
    expect(d.name).toBe('onMetaData');
    expect(d.values[0]).toEqual({ width: 1280, height: 720 });
    expect(isEcmaArray(d.values[0])).toBe(true);
  });

  it('leaves other data messages unchanged', () => {
    const m = onMetaDataMessage(1, { a: 1 });
    expect(rewriteSetDataFrame(m.payload)).toBe(m.payload);
  });

  it('reads the name of a data message without decoding the body', () => {
    expect(dataMessageName(setDataFrameMessage(1, {}).payload)).toBe('@setDataFrame');
    expect(dataMessageName(hex('05'))).toBe('');
    expect(dataMessageName(hex('02 00ff 61'))).toBe('');
  });
});

describe('aggregate messages', () => {
  it('splits an aggregate into its sub-messages with rebased timestamps', () => {
    const bytes = hex(`
      09 000002 000064 00 000000 1701 0000000d
      08 000001 00006e 00 000000 af   0000000c
    `);
    const parts = splitAggregate(bytes, 5000);
    expect(parts.map((p) => [p.typeId, p.timestamp, p.payload.toString('hex')])).toEqual([
      [9, 5000, '1701'],
      [8, 5010, 'af'],
    ]);
  });
});
