/**
 * The one registry of stable error codes rtmpbench raises, whatever the layer (it lives here,
 * at the bottom, so that every layer can name its codes; docs/results.md lists them all and a test
 * keeps that list true). Classes say who must act, and each lives in the layer that raises it:
 * - ProtocolError (here): the peer broke the protocol (close that connection, log the reason);
 * - LimitError (here): the peer stayed inside the protocol but hit a configured limit;
 * - ArgumentError (here): code called an API of this layer with an invalid value;
 * - UsageError (src/input/): the user's input (a flag, a scenario, a file) is wrong;
 * - ClientError (src/client/): a client session could not be set up or was ended;
 * - RunError (src/load/): a run itself failed (target unreachable, server did not start);
 * - ProbeError (src/lab/probe/): a probe of a server could not get what it waited for.
 * Messages carry the state and byte offset where the problem was seen.
 */

export const ERROR_CODES = {
  RTMP_ERR_HANDSHAKE_VERSION: 'unsupported RTMP version byte in the handshake',
  RTMP_ERR_HANDSHAKE_STATE: 'handshake used out of order',
  RTMP_ERR_CHUNK_SIZE: 'invalid chunk size',
  RTMP_ERR_CHUNK_STREAM_UNINITIALISED: 'chunk header refers to a chunk stream with no previous header',
  RTMP_ERR_CHUNK_STREAM_LIMIT: 'too many chunk streams',
  RTMP_ERR_MESSAGE_TOO_LARGE: 'message length above the configured limit',
  RTMP_ERR_CONTROL_MALFORMED: 'protocol control message has the wrong length',
  RTMP_ERR_READER_DEAD: 'data pushed to a reader that already failed',
  RTMP_ERR_AMF_TRUNCATED: 'AMF value ends before its declared length',
  RTMP_ERR_AMF_MALFORMED: 'AMF value is malformed',
  RTMP_ERR_AMF_UNSUPPORTED: 'AMF type is not supported',
  RTMP_ERR_AMF_LIMIT: 'AMF value exceeds a decoding limit',
  RTMP_ERR_AMF_ENCODE: 'value cannot be encoded as AMF',
  RTMP_ERR_COMMAND_MALFORMED: 'command message is malformed',
  RTMP_ERR_TAG_TRUNCATED: 'audio/video tag header is truncated',
  RTMP_ERR_INVALID_ARGUMENT: 'invalid argument',
  RTMP_ERR_USAGE: 'invalid input',
  RTMP_ERR_CLIENT_REFUSED: 'connection refused',
  RTMP_ERR_CLIENT_UNREACHABLE: 'host unreachable',
  RTMP_ERR_CLIENT_TLS: 'TLS failed',
  RTMP_ERR_CLIENT_SOCKET: 'socket error',
  RTMP_ERR_CLIENT_TIMEOUT: 'no answer in time',
  RTMP_ERR_CLIENT_HANDSHAKE: 'handshake failed',
  RTMP_ERR_CLIENT_REJECTED: 'the server refused the request',
  RTMP_ERR_CLIENT_CLOSED: 'the connection closed',
  RTMP_ERR_CLIENT_PROTOCOL: 'the server broke the protocol',
  RTMP_ERR_CLIENT_ADDRESS: 'no source address or port to connect from',
  RTMP_ERR_RUN_FAILED: 'the run failed',
  RTMP_ERR_FLV_HEADER: 'FLV stream does not start with an FLV header',
  RTMP_ERR_FLV_TAG: 'FLV tag header is malformed',
  RTMP_ERR_NAL_MALFORMED: 'NAL unit lengths run past the end of the frame',
  RTMP_ERR_CODEC_CONFIG: 'codec configuration record is malformed or unsupported',
  RTMP_ERR_TS_SYNC: 'MPEG-TS packet does not start with the sync byte',
  RTMP_ERR_TS_MALFORMED: 'MPEG-TS table or PES header is malformed',
  RTMP_ERR_MP4_MALFORMED: 'MP4 box is malformed or truncated',
  RTMP_ERR_MP4_UNSUPPORTED: 'MP4 content is not supported',
  RTMP_ERR_PLAYLIST_MALFORMED: 'HLS playlist is malformed',
  RTMP_ERR_MEDIA_LIMIT: 'container element above a configured limit',
  RTMP_ERR_PROBE_STEP: 'a probe step did not get the answer it waited for',
  RTMP_ERR_PROBE_TIMEOUT: 'a probe did not finish within its time limit',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Why a client session could not be set up, or ended: a stable failure kind (what the load
 * generator counts failures by) with its code in the registry. Defined here, below the client
 * that raises them and the results that count them.
 */
export const CLIENT_FAILURES = {
  refused: 'RTMP_ERR_CLIENT_REFUSED',
  dns: 'RTMP_ERR_CLIENT_UNREACHABLE',
  tls: 'RTMP_ERR_CLIENT_TLS',
  socket: 'RTMP_ERR_CLIENT_SOCKET',
  timeout: 'RTMP_ERR_CLIENT_TIMEOUT',
  handshake: 'RTMP_ERR_CLIENT_HANDSHAKE',
  rejected: 'RTMP_ERR_CLIENT_REJECTED',
  closed: 'RTMP_ERR_CLIENT_CLOSED',
  protocol: 'RTMP_ERR_CLIENT_PROTOCOL',
  /** The host would not bind the source address (not the host's: EADDRNOTAVAIL) or had no port left on it (EADDRINUSE). */
  address: 'RTMP_ERR_CLIENT_ADDRESS',
} as const satisfies Record<string, ErrorCode>;

export type ClientFailure = keyof typeof CLIENT_FAILURES;
export const CLIENT_FAILURE_LIST = Object.keys(CLIENT_FAILURES) as ClientFailure[];

/**
 * The steps of a client session's setup a failure can name (which of the generator's waits ran
 * out): RTMP's connection and commands, an HTTP viewer's request. `command` is any other RTMP call.
 */
export const CLIENT_STEPS = [
  'tcp connect',
  'handshake',
  'connect command',
  'createStream',
  'publish',
  'play',
  'command',
  'response headers',
  'response body',
] as const;
export type ClientStep = (typeof CLIENT_STEPS)[number];

export function isClientStep(s: string): s is ClientStep {
  return (CLIENT_STEPS as readonly string[]).includes(s);
}

export interface ErrorDetail {
  /** Parser state name at the time of the error. */
  state?: string;
  /** Byte offset: in the stream for the chunk reader, in the value for AMF. */
  offset?: number;
  [key: string]: unknown;
}

export class RtmpError extends Error {
  readonly code: ErrorCode;
  readonly detail: ErrorDetail;
  /** The message without the code's description (for a CLI line). */
  readonly reason: string;

  constructor(code: ErrorCode, message: string, detail: ErrorDetail = {}) {
    const where =
      detail.state !== undefined || detail.offset !== undefined
        ? ` (${[
            detail.state !== undefined ? `state ${detail.state}` : '',
            detail.offset !== undefined ? `offset ${detail.offset}` : '',
          ]
            .filter(Boolean)
            .join(', ')})`
        : '';
    super(`${ERROR_CODES[code]}: ${message}${where}`);
    this.name = new.target.name;
    this.code = code;
    this.detail = detail;
    this.reason = message;
  }
}

/** The peer sent bytes that break the protocol. */
export class ProtocolError extends RtmpError {}

/** The peer's input was valid RTMP but exceeded a configured limit. */
export class LimitError extends RtmpError {}

/** Code called an API of the protocol layer with an invalid value (a bug in the caller). */
export class ArgumentError extends RtmpError {}

export function isRtmpError(err: unknown): err is RtmpError {
  return err instanceof RtmpError;
}

/**
 * What a stream reader reports when its run stops on `err`: an RtmpError as it is, anything
 * else (a sink's handler threw) as RTMP_ERR_READER_DEAD naming the handler, `err` as cause.
 */
export function readerError(err: unknown, handler: string): RtmpError {
  if (err instanceof RtmpError) return err;
  return new ProtocolError('RTMP_ERR_READER_DEAD', `${handler} threw: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}
