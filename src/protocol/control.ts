import {
  CSID_PROTOCOL,
  MAX_CHUNK_SIZE_WIRE,
  MSG_ABORT,
  MSG_ACKNOWLEDGEMENT,
  MSG_SET_CHUNK_SIZE,
  MSG_SET_PEER_BANDWIDTH,
  MSG_USER_CONTROL,
  MSG_WINDOW_ACK_SIZE,
  STREAM_ID_CONTROL,
  UC_PING_REQUEST,
  UC_PING_RESPONSE,
  UC_SET_BUFFER_LENGTH,
  UC_STREAM_BEGIN,
  UC_STREAM_DRY,
  UC_STREAM_EOF,
  UC_STREAM_IS_RECORDED,
} from './constants.js';
import { ProtocolError, ArgumentError } from './errors.js';
import type { OutgoingMessage } from './message.js';

/** Protocol control messages (types 1, 2, 3, 5, 6) and user control events (type 4). */

function protocolMessage(typeId: number, payload: Buffer): OutgoingMessage {
  return { csid: CSID_PROTOCOL, typeId, streamId: STREAM_ID_CONTROL, timestamp: 0, payload };
}

function u32Payload(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
}

export function setChunkSizeMessage(chunkSize: number): OutgoingMessage {
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE_WIRE) {
    throw new ArgumentError(
      'RTMP_ERR_INVALID_ARGUMENT',
      `chunk size must be 1..${MAX_CHUNK_SIZE_WIRE}, got ${chunkSize}`,
    );
  }
  return protocolMessage(MSG_SET_CHUNK_SIZE, u32Payload(chunkSize));
}

export function abortMessage(csid: number): OutgoingMessage {
  return protocolMessage(MSG_ABORT, u32Payload(csid));
}

/** Acknowledgement: total bytes received so far, modulo 2^32. */
export function acknowledgementMessage(sequenceNumber: number): OutgoingMessage {
  return protocolMessage(MSG_ACKNOWLEDGEMENT, u32Payload(sequenceNumber));
}

export function windowAckSizeMessage(size: number): OutgoingMessage {
  return protocolMessage(MSG_WINDOW_ACK_SIZE, u32Payload(size));
}

export function setPeerBandwidthMessage(size: number, limitType: number): OutgoingMessage {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt32BE(size >>> 0, 0);
  b[4] = limitType;
  return protocolMessage(MSG_SET_PEER_BANDWIDTH, b);
}

function userControl(event: number, value: number, extra?: number): OutgoingMessage {
  const b = Buffer.allocUnsafe(extra === undefined ? 6 : 10);
  b.writeUInt16BE(event, 0);
  b.writeUInt32BE(value >>> 0, 2);
  if (extra !== undefined) b.writeUInt32BE(extra >>> 0, 6);
  return protocolMessage(MSG_USER_CONTROL, b);
}

export const streamBeginMessage = (streamId: number): OutgoingMessage => userControl(UC_STREAM_BEGIN, streamId);
export const streamEofMessage = (streamId: number): OutgoingMessage => userControl(UC_STREAM_EOF, streamId);
export const streamDryMessage = (streamId: number): OutgoingMessage => userControl(UC_STREAM_DRY, streamId);
export const streamIsRecordedMessage = (streamId: number): OutgoingMessage =>
  userControl(UC_STREAM_IS_RECORDED, streamId);
export const setBufferLengthMessage = (streamId: number, bufferLengthMs: number): OutgoingMessage =>
  userControl(UC_SET_BUFFER_LENGTH, streamId, bufferLengthMs);
export const pingRequestMessage = (timestamp: number): OutgoingMessage => userControl(UC_PING_REQUEST, timestamp);
export const pingResponseMessage = (timestamp: number): OutgoingMessage => userControl(UC_PING_RESPONSE, timestamp);

export type UserControlEvent =
  | {
      event: typeof UC_STREAM_BEGIN | typeof UC_STREAM_EOF | typeof UC_STREAM_DRY | typeof UC_STREAM_IS_RECORDED;
      streamId: number;
    }
  | { event: typeof UC_SET_BUFFER_LENGTH; streamId: number; bufferLengthMs: number }
  | { event: typeof UC_PING_REQUEST | typeof UC_PING_RESPONSE; timestamp: number }
  | { event: number; data: Buffer };

function malformed(what: string, length: number, expected: number): never {
  throw new ProtocolError('RTMP_ERR_CONTROL_MALFORMED', `${what} has ${length} bytes; ${expected} expected`);
}

export function parseUserControl(payload: Buffer): UserControlEvent {
  if (payload.length < 2) malformed('user control message', payload.length, 6);
  const event = payload.readUInt16BE(0);
  switch (event) {
    case UC_STREAM_BEGIN:
    case UC_STREAM_EOF:
    case UC_STREAM_DRY:
    case UC_STREAM_IS_RECORDED:
      if (payload.length < 6) malformed(`user control event ${event}`, payload.length, 6);
      return { event, streamId: payload.readUInt32BE(2) };
    case UC_SET_BUFFER_LENGTH:
      if (payload.length < 10) malformed('SetBufferLength', payload.length, 10);
      return { event, streamId: payload.readUInt32BE(2), bufferLengthMs: payload.readUInt32BE(6) };
    case UC_PING_REQUEST:
    case UC_PING_RESPONSE:
      if (payload.length < 6) malformed(`ping event ${event}`, payload.length, 6);
      return { event, timestamp: payload.readUInt32BE(2) };
    default:
      return { event, data: payload.subarray(2) };
  }
}

/** The 32-bit value of Set Chunk Size, Abort, Acknowledgement or Window Acknowledgement Size. */
export function parseU32Control(payload: Buffer, what: string): number {
  if (payload.length < 4) malformed(what, payload.length, 4);
  return payload.readUInt32BE(0);
}

export function parseSetPeerBandwidth(payload: Buffer): { size: number; limitType: number } {
  if (payload.length < 5) malformed('Set Peer Bandwidth', payload.length, 5);
  return { size: payload.readUInt32BE(0), limitType: payload[4]! };
}
