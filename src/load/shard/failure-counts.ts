import { ClientError } from '../../client/errors.js';
import { failureKey, httpErrorKey, type FailedSession, type Failure, type HttpError } from '../../results/failures.js';
import { NamedCounts } from './tally.js';

/** Unexpected errors' messages a worker writes out (each once): enough to see a bug, never a flood. */
const UNEXPECTED_MESSAGES_SHOWN = 5;

/** A session's setup failed with `e`: a client error by its kind and step; anything else is `other`. */
function setupFailure(session: FailedSession, e: unknown): Failure {
  if (!(e instanceof ClientError)) return { ...session, phase: 'setup', kind: 'other' };
  return e.stage === undefined
    ? { ...session, phase: 'setup', kind: e.failure }
    : { ...session, phase: 'setup', kind: e.failure, step: e.stage };
}

/**
 * A worker's failures and HTTP error answers, counted under their results-folder keys (with
 * what changed since the last tick). An unexpected error counts as `other`; the first few
 * distinct messages are written to stderr, so a bug is seen without its message becoming a key.
 */
export class FailureCounts {
  readonly failures = new NamedCounts();
  readonly httpErrors = new NamedCounts();
  private readonly unexpectedSeen = new Set<string>();

  add(f: Failure): void {
    this.failures.add(failureKey(f));
  }

  /** A session whose setup threw `e`. */
  setupFailed(session: FailedSession, e: unknown): void {
    const f = setupFailure(session, e);
    this.add(f);
    if (f.kind === 'other') this.unexpected(e);
  }

  httpError(e: HttpError): void {
    this.httpErrors.add(httpErrorKey(e));
  }

  private unexpected(e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    if (this.unexpectedSeen.size >= UNEXPECTED_MESSAGES_SHOWN || this.unexpectedSeen.has(message)) return;
    this.unexpectedSeen.add(message);
    console.error(e);
  }
}
