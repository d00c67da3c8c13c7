import { parseCommand, parseData, type Command, type DataMessage } from './commands.js';
import {
  MSG_ABORT,
  MSG_ACKNOWLEDGEMENT,
  MSG_AGGREGATE,
  MSG_AUDIO,
  MSG_COMMAND_AMF0,
  MSG_COMMAND_AMF3,
  MSG_DATA_AMF0,
  MSG_DATA_AMF3,
  MSG_SET_CHUNK_SIZE,
  MSG_SET_PEER_BANDWIDTH,
  MSG_SHARED_OBJECT_AMF0,
  MSG_SHARED_OBJECT_AMF3,
  MSG_USER_CONTROL,
  MSG_VIDEO,
  MSG_WINDOW_ACK_SIZE,
} from './constants.js';
import { parseSetPeerBandwidth, parseU32Control, parseUserControl, type UserControlEvent } from './control.js';
import type { RtmpMessage } from './message.js';

/** A message decoded by type: the union sessions switch on (media stays undecoded). */
export type DecodedMessage =
  | { kind: 'set-chunk-size'; chunkSize: number }
  | { kind: 'abort'; csid: number }
  | { kind: 'acknowledgement'; sequenceNumber: number }
  | { kind: 'window-ack-size'; size: number }
  | { kind: 'set-peer-bandwidth'; size: number; limitType: number }
  | { kind: 'user-control'; control: UserControlEvent }
  | { kind: 'command'; command: Command }
  | { kind: 'data'; data: DataMessage }
  | { kind: 'audio' | 'video' | 'aggregate' | 'shared-object'; payload: Buffer };

/** Decodes a non-media message; throws ProtocolError on a malformed body. */
export function decodeMessage(msg: RtmpMessage): DecodedMessage {
  const p = msg.payload;
  switch (msg.typeId) {
    case MSG_SET_CHUNK_SIZE:
      return { kind: 'set-chunk-size', chunkSize: parseU32Control(p, 'Set Chunk Size') };
    case MSG_ABORT:
      return { kind: 'abort', csid: parseU32Control(p, 'Abort') };
    case MSG_ACKNOWLEDGEMENT:
      return { kind: 'acknowledgement', sequenceNumber: parseU32Control(p, 'Acknowledgement') };
    case MSG_WINDOW_ACK_SIZE:
      return { kind: 'window-ack-size', size: parseU32Control(p, 'Window Acknowledgement Size') };
    case MSG_SET_PEER_BANDWIDTH:
      return { kind: 'set-peer-bandwidth', ...parseSetPeerBandwidth(p) };
    case MSG_USER_CONTROL:
      return { kind: 'user-control', control: parseUserControl(p) };
    case MSG_COMMAND_AMF0:
    case MSG_COMMAND_AMF3:
      return { kind: 'command', command: parseCommand(p, msg.typeId) };
    case MSG_DATA_AMF0:
    case MSG_DATA_AMF3:
      return { kind: 'data', data: parseData(p, msg.typeId) };
    case MSG_AUDIO:
      return { kind: 'audio', payload: p };
    case MSG_VIDEO:
      return { kind: 'video', payload: p };
    case MSG_AGGREGATE:
      return { kind: 'aggregate', payload: p };
    case MSG_SHARED_OBJECT_AMF0:
    case MSG_SHARED_OBJECT_AMF3:
      return { kind: 'shared-object', payload: p };
    default:
      return { kind: 'shared-object', payload: p };
  }
}

export interface AggregateEntry {
  typeId: number;
  timestamp: number;
  payload: Buffer;
}

/**
 * Splits an aggregate message (type 22) into its FLV-tag-shaped sub-messages. Sub-message
 * timestamps are rebased so the first one equals the aggregate's own timestamp. Payloads are
 * views. Stops at the first entry that does not fit.
 */
export function splitAggregate(payload: Buffer, timestamp: number): AggregateEntry[] {
  const out: AggregateEntry[] = [];
  let o = 0;
  let base = -1;
  while (o + 11 <= payload.length) {
    const typeId = payload[o]!;
    const size = (payload[o + 1]! << 16) | (payload[o + 2]! << 8) | payload[o + 3]!;
    const ts = ((payload[o + 4]! << 16) | (payload[o + 5]! << 8) | payload[o + 6]! | (payload[o + 7]! << 24)) >>> 0;
    const start = o + 11;
    if (start + size > payload.length) break;
    if (base < 0) base = ts;
    out.push({ typeId, timestamp: timestamp + (ts - base), payload: payload.subarray(start, start + size) });
    o = start + size + 4; // back pointer
  }
  return out;
}
