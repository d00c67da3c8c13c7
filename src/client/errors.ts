import { RtmpError, type ErrorCode } from '../protocol/errors.js';

/**
 * Why a client session could not be set up, or ended: a stable failure kind (what the load
 * generator counts failures by) with its code in the error registry.
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
} as const satisfies Record<string, ErrorCode>;

export type ClientFailure = keyof typeof CLIENT_FAILURES;

export class ClientError extends RtmpError {
  constructor(
    /** The stable kind of failure (refused, timeout, handshake, rejected, closed...). */
    readonly failure: ClientFailure,
    message: string,
  ) {
    super(CLIENT_FAILURES[failure], message);
  }
}

/** How a client connection ended: closed by us (`local`), or a failure, with what was seen. */
export interface ClientClose {
  kind: ClientFailure | 'local';
  message: string;
}
