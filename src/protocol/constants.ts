/**
 * Protocol numbers of RTMP (Adobe RTMP specification 1.0, December 2012) with their names.
 * Every number the codec reads or writes is named here once.
 */

/** Version byte of C0/S0 for plain RTMP. 6 and 8 are RTMPE (encrypted), which we do not speak. */
export const RTMP_VERSION = 3;
/** Size of C1, S1, C2 and S2. */
export const HANDSHAKE_SIZE = 1536;

/** Chunk size in force before either side sends Set Chunk Size. */
export const DEFAULT_CHUNK_SIZE = 128;
/** Largest chunk size the spec allows on the wire (bit 31 must be zero). */
export const MAX_CHUNK_SIZE_WIRE = 0x7fffffff;
/** Range the writer accepts: what real servers and clients interoperate with. */
export const MIN_WRITE_CHUNK_SIZE = 128;
export const MAX_WRITE_CHUNK_SIZE = 65536;

/** A 24-bit timestamp field of this value means "read the 32-bit extended timestamp". */
export const EXTENDED_TIMESTAMP_MARK = 0xffffff;
/** Largest message length a chunk header can express (24 bits). */
export const MAX_MESSAGE_LENGTH_FIELD = 0xffffff;

/** Message header sizes for chunk formats 0..3. */
export const MESSAGE_HEADER_SIZE = [11, 7, 3, 0] as const;

export const FMT_0 = 0;
export const FMT_1 = 1;
export const FMT_2 = 2;
export const FMT_3 = 3;

/** Message type ids. */
export const MSG_SET_CHUNK_SIZE = 1;
export const MSG_ABORT = 2;
export const MSG_ACKNOWLEDGEMENT = 3;
export const MSG_USER_CONTROL = 4;
export const MSG_WINDOW_ACK_SIZE = 5;
export const MSG_SET_PEER_BANDWIDTH = 6;
export const MSG_AUDIO = 8;
export const MSG_VIDEO = 9;
export const MSG_DATA_AMF3 = 15;
export const MSG_SHARED_OBJECT_AMF3 = 16;
export const MSG_COMMAND_AMF3 = 17;
export const MSG_DATA_AMF0 = 18;
export const MSG_SHARED_OBJECT_AMF0 = 19;
export const MSG_COMMAND_AMF0 = 20;
export const MSG_AGGREGATE = 22;

/** Whether a message type id is one RTMP defines; others are ignored and counted. */
export function isKnownMessageType(typeId: number): boolean {
  switch (typeId) {
    case MSG_SET_CHUNK_SIZE:
    case MSG_ABORT:
    case MSG_ACKNOWLEDGEMENT:
    case MSG_USER_CONTROL:
    case MSG_WINDOW_ACK_SIZE:
    case MSG_SET_PEER_BANDWIDTH:
    case MSG_AUDIO:
    case MSG_VIDEO:
    case MSG_DATA_AMF3:
    case MSG_SHARED_OBJECT_AMF3:
    case MSG_COMMAND_AMF3:
    case MSG_DATA_AMF0:
    case MSG_SHARED_OBJECT_AMF0:
    case MSG_COMMAND_AMF0:
    case MSG_AGGREGATE:
      return true;
    default:
      return false;
  }
}

/** User control event types (message type 4). */
export const UC_STREAM_BEGIN = 0;
export const UC_STREAM_EOF = 1;
export const UC_STREAM_DRY = 2;
export const UC_SET_BUFFER_LENGTH = 3;
export const UC_STREAM_IS_RECORDED = 4;
export const UC_PING_REQUEST = 6;
export const UC_PING_RESPONSE = 7;

/** Set Peer Bandwidth limit types. */
export const BANDWIDTH_LIMIT_HARD = 0;
export const BANDWIDTH_LIMIT_SOFT = 1;
export const BANDWIDTH_LIMIT_DYNAMIC = 2;

/**
 * Chunk stream ids this codec writes on. Any id 2..65599 is legal; these are the ones
 * most servers use, so captures read familiarly.
 */
export const CSID_PROTOCOL = 2;
export const CSID_COMMAND = 3;
export const CSID_AUDIO = 4;
export const CSID_VIDEO = 5;
export const CSID_DATA = 6;

/** Highest chunk stream id the 3-byte basic header can express. */
export const MAX_CSID = 65599;

/** Message stream id of NetConnection traffic. */
export const STREAM_ID_CONTROL = 0;
