import { CLIENT_FAILURES, RtmpError, type ClientFailure, type ClientStep } from '../protocol/errors.js';

export { CLIENT_FAILURES, type ClientFailure, type ClientStep } from '../protocol/errors.js';

export class ClientError extends RtmpError {
  constructor(
    /** The stable kind of failure (refused, timeout, handshake, rejected, closed...). */
    readonly failure: ClientFailure,
    message: string,
    /**
     * Where in the session's setup it failed, for the kinds that can fail at several steps (a timeout:
     * which wait ran out).
     */
    readonly stage?: ClientStep,
    /** The HTTP status of the answer that refused the request (HTTP viewers: 404 before a stream exists). */
    readonly status?: number,
  ) {
    super(CLIENT_FAILURES[failure], message);
  }
}

/** How a client connection ended: closed by us (`local`), or a failure, with what was seen. */
export interface ClientClose {
  kind: ClientFailure | 'local';
  message: string;
}
