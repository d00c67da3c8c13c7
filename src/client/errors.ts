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
    /** Where in the session's setup it failed, for the kinds that can fail at several steps (a timeout: which wait ran out). */
    readonly stage?: string,
  ) {
    super(CLIENT_FAILURES[failure], message);
  }

  /** What failures are counted by: the kind, and the stage where there is one (`timeout in handshake`). */
  get failureReason(): string {
    return this.stage === undefined ? this.failure : `${this.failure} in ${this.stage}`;
  }
}

/** The reason a failed setup is counted by: a client error's kind and stage, or the message of anything else. */
export function failureReason(e: unknown): string {
  return e instanceof ClientError ? e.failureReason : (e as Error).message;
}

/** How a client connection ended: closed by us (`local`), or a failure, with what was seen. */
export interface ClientClose {
  kind: ClientFailure | 'local';
  message: string;
}
