import { decodeAmf0, encodeAmf0, Amf0Reader, AMF0_STRING } from './amf0.js';
import { ecmaArray, isAmfObject, type AmfObject, type AmfValue } from './amf-types.js';
import {
  CSID_COMMAND,
  CSID_DATA,
  MSG_COMMAND_AMF0,
  MSG_COMMAND_AMF3,
  MSG_DATA_AMF0,
  MSG_DATA_AMF3,
  STREAM_ID_CONTROL,
} from './constants.js';
import { ProtocolError } from './errors.js';
import type { OutgoingMessage } from './message.js';

/** NetConnection / NetStream commands (types 20 and 17) and data messages (18 and 15). */

export interface Command {
  name: string;
  transactionId: number;
  /** The command object (often null for NetStream commands). */
  commandObject: AmfValue;
  /** Values after the command object. */
  args: AmfValue[];
}

/** Status codes a server sends in onStatus and _error info objects. */
export const Status = {
  CONNECT_SUCCESS: 'NetConnection.Connect.Success',
  CONNECT_REJECTED: 'NetConnection.Connect.Rejected',
  CONNECT_CLOSED: 'NetConnection.Connect.Closed',
  PUBLISH_START: 'NetStream.Publish.Start',
  PUBLISH_BAD_NAME: 'NetStream.Publish.BadName',
  PUBLISH_UNAUTHORIZED: 'NetStream.Publish.Unauthorized',
  UNPUBLISH_SUCCESS: 'NetStream.Unpublish.Success',
  PLAY_RESET: 'NetStream.Play.Reset',
  PLAY_START: 'NetStream.Play.Start',
  PLAY_STOP: 'NetStream.Play.Stop',
  PLAY_FAILED: 'NetStream.Play.Failed',
  PLAY_STREAM_NOT_FOUND: 'NetStream.Play.StreamNotFound',
  PLAY_PUBLISH_NOTIFY: 'NetStream.Play.PublishNotify',
  PLAY_UNPUBLISH_NOTIFY: 'NetStream.Play.UnpublishNotify',
  PLAY_UNAUTHORIZED: 'NetStream.Play.Unauthorized',
  DATA_START: 'NetStream.Data.Start',
} as const;

/**
 * Parses a command message body. For type 17 (AMF3 command) the body starts with a format
 * byte (0) and continues in AMF0 with AMF3 values behind the avmplus marker.
 */
export function parseCommand(payload: Buffer, typeId: number = MSG_COMMAND_AMF0): Command {
  const body = typeId === MSG_COMMAND_AMF3 && payload.length > 0 && payload[0] === 0 ? payload.subarray(1) : payload;
  const values = decodeAmf0(body);
  const [name, transactionId, commandObject, ...args] = values;
  if (typeof name !== 'string') {
    throw new ProtocolError('RTMP_ERR_COMMAND_MALFORMED', `command name is ${describe(name)}, not a string`);
  }
  return {
    name,
    // Some clients send no transaction id on notifications; 0 is what the spec uses then.
    transactionId: typeof transactionId === 'number' ? transactionId : 0,
    commandObject: commandObject ?? null,
    args,
  };
}

function describe(value: AmfValue): string {
  return value === undefined ? 'missing' : value === null ? 'null' : typeof value;
}

export interface DataMessage {
  /** First value when it is a string (e.g. "@setDataFrame", "onMetaData", "|RtmpSampleAccess"). */
  name: string;
  values: AmfValue[];
}

export function parseData(payload: Buffer, typeId: number = MSG_DATA_AMF0): DataMessage {
  const body = typeId === MSG_DATA_AMF3 && payload.length > 0 && payload[0] === 0 ? payload.subarray(1) : payload;
  const values = decodeAmf0(body);
  const first = values[0];
  if (typeof first === 'string') return { name: first, values: values.slice(1) };
  return { name: '', values };
}

const SET_DATA_FRAME = '@setDataFrame';
const SET_DATA_FRAME_PREFIX = Buffer.concat([
  Buffer.from([AMF0_STRING, 0, SET_DATA_FRAME.length]),
  Buffer.from(SET_DATA_FRAME, 'latin1'),
]);

/**
 * Publishers send metadata as `@setDataFrame, onMetaData, {...}`; players must receive
 * `onMetaData, {...}`. Returns a view without the first value, or the payload unchanged when
 * it does not start with "@setDataFrame".
 */
export function rewriteSetDataFrame(payload: Buffer): Buffer {
  if (
    payload.length > SET_DATA_FRAME_PREFIX.length &&
    payload.subarray(0, SET_DATA_FRAME_PREFIX.length).equals(SET_DATA_FRAME_PREFIX)
  ) {
    return payload.subarray(SET_DATA_FRAME_PREFIX.length);
  }
  return payload;
}

/** Name of the first AMF0 value of a data message without decoding the rest, or "". */
export function dataMessageName(payload: Buffer): string {
  if (payload.length < 3 || payload[0] !== AMF0_STRING) return '';
  const reader = new Amf0Reader(payload, 1);
  try {
    return reader.readShortString();
  } catch {
    return '';
  }
}

export function commandMessage(
  name: string,
  transactionId: number,
  commandObject: AmfValue,
  args: AmfValue[] = [],
  streamId = STREAM_ID_CONTROL,
): OutgoingMessage {
  return {
    csid: CSID_COMMAND,
    typeId: MSG_COMMAND_AMF0,
    streamId,
    timestamp: 0,
    payload: encodeAmf0(name, transactionId, commandObject, ...args),
  };
}

export function dataMessage(streamId: number, values: AmfValue[], timestamp = 0): OutgoingMessage {
  return { csid: CSID_DATA, typeId: MSG_DATA_AMF0, streamId, timestamp, payload: encodeAmf0(...values) };
}

export interface ConnectParams {
  app: string;
  tcUrl: string;
  flashVer?: string;
  type?: string;
  swfUrl?: string;
  pageUrl?: string;
  fpad?: boolean;
  capabilities?: number;
  audioCodecs?: number;
  videoCodecs?: number;
  videoFunction?: number;
  objectEncoding?: number;
  /** Enhanced RTMP: FourCCs the client supports, e.g. ["hvc1", "av01"]. */
  fourCcList?: string[];
}

export function connectCommand(params: ConnectParams, transactionId = 1): OutgoingMessage {
  const obj: AmfObject = {
    app: params.app,
    type: params.type ?? 'nonprivate',
    flashVer: params.flashVer ?? 'FMLE/3.0 (compatible; rtmpbench)',
    tcUrl: params.tcUrl,
  };
  if (params.swfUrl !== undefined) obj.swfUrl = params.swfUrl;
  if (params.pageUrl !== undefined) obj.pageUrl = params.pageUrl;
  if (params.fpad !== undefined) obj.fpad = params.fpad;
  if (params.capabilities !== undefined) obj.capabilities = params.capabilities;
  if (params.audioCodecs !== undefined) obj.audioCodecs = params.audioCodecs;
  if (params.videoCodecs !== undefined) obj.videoCodecs = params.videoCodecs;
  if (params.videoFunction !== undefined) obj.videoFunction = params.videoFunction;
  if (params.objectEncoding !== undefined) obj.objectEncoding = params.objectEncoding;
  if (params.fourCcList !== undefined) obj.fourCcList = params.fourCcList;
  return commandMessage('connect', transactionId, obj);
}

export function connectResultCommand(
  transactionId: number,
  objectEncoding = 0,
  extra: AmfObject = {},
): OutgoingMessage {
  return commandMessage('_result', transactionId, { fmsVer: 'FMS/3,5,7,7009', capabilities: 31, mode: 1, ...extra }, [
    {
      level: 'status',
      code: Status.CONNECT_SUCCESS,
      description: 'Connection succeeded.',
      objectEncoding,
    },
  ]);
}

export function resultCommand(transactionId: number, commandObject: AmfValue, ...args: AmfValue[]): OutgoingMessage {
  return commandMessage('_result', transactionId, commandObject, args);
}

export function errorCommand(transactionId: number, code: string, description: string): OutgoingMessage {
  return commandMessage('_error', transactionId, null, [{ level: 'error', code, description }]);
}

export const createStreamCommand = (transactionId: number): OutgoingMessage =>
  commandMessage('createStream', transactionId, null);
export const createStreamResultCommand = (transactionId: number, streamId: number): OutgoingMessage =>
  resultCommand(transactionId, null, streamId);
export const releaseStreamCommand = (transactionId: number, name: string): OutgoingMessage =>
  commandMessage('releaseStream', transactionId, null, [name]);
export const fcPublishCommand = (transactionId: number, name: string): OutgoingMessage =>
  commandMessage('FCPublish', transactionId, null, [name]);
export const fcUnpublishCommand = (transactionId: number, name: string): OutgoingMessage =>
  commandMessage('FCUnpublish', transactionId, null, [name]);
export const onFcPublishCommand = (name: string): OutgoingMessage =>
  commandMessage('onFCPublish', 0, null, [{ level: 'status', code: Status.PUBLISH_START, description: name }]);
export const onFcUnpublishCommand = (name: string): OutgoingMessage =>
  commandMessage('onFCUnpublish', 0, null, [{ level: 'status', code: Status.UNPUBLISH_SUCCESS, description: name }]);
export const publishCommand = (transactionId: number, streamId: number, name: string, type = 'live'): OutgoingMessage =>
  commandMessage('publish', transactionId, null, [name, type], streamId);
export const playCommand = (
  transactionId: number,
  streamId: number,
  name: string,
  start = -2,
  duration = -1,
  reset = true,
): OutgoingMessage => commandMessage('play', transactionId, null, [name, start, duration, reset], streamId);
export const deleteStreamCommand = (transactionId: number, streamId: number): OutgoingMessage =>
  commandMessage('deleteStream', transactionId, null, [streamId]);
export const closeStreamCommand = (streamId: number): OutgoingMessage =>
  commandMessage('closeStream', 0, null, [], streamId);
export const getStreamLengthCommand = (transactionId: number, name: string): OutgoingMessage =>
  commandMessage('getStreamLength', transactionId, null, [name]);

export interface StatusInfo {
  level: 'status' | 'error' | 'warning';
  code: string;
  description: string;
  [key: string]: AmfValue;
}

export function onStatusCommand(streamId: number, info: StatusInfo): OutgoingMessage {
  return commandMessage('onStatus', 0, null, [info as AmfObject], streamId);
}

/** `@setDataFrame, onMetaData, {...}`: how a publisher sends metadata. */
export function setDataFrameMessage(streamId: number, metadata: AmfObject, timestamp = 0): OutgoingMessage {
  return dataMessage(streamId, ['@setDataFrame', 'onMetaData', ecmaArray(metadata)], timestamp);
}

/** `onMetaData, {...}`: metadata as players receive it. */
export function onMetaDataMessage(streamId: number, metadata: AmfObject, timestamp = 0): OutgoingMessage {
  return dataMessage(streamId, ['onMetaData', ecmaArray(metadata)], timestamp);
}

export function sampleAccessMessage(streamId: number): OutgoingMessage {
  return dataMessage(streamId, ['|RtmpSampleAccess', false, false]);
}

/** The status info object of an onStatus/_error command, if it has one. */
export function statusInfo(command: Command): { level: string; code: string; description: string } | null {
  for (const arg of command.args) {
    if (isAmfObject(arg) && typeof arg.code === 'string') {
      return {
        level: typeof arg.level === 'string' ? arg.level : '',
        code: arg.code,
        description: typeof arg.description === 'string' ? arg.description : '',
      };
    }
  }
  return null;
}
