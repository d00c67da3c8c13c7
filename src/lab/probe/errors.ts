import { isRtmpError, RtmpError, type ErrorCode } from '../../protocol/errors.js';

/**
 * Why a probe could not get what it waited for. Probes throw these; the runner turns them
 * into results: a step of the behaviour under test that fails is the probe's `fail`, a step of
 * its set-up (or its time limit) is an `error` of the probe itself.
 */
export class ProbeError extends RtmpError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
  }
}

/** A step (an answer, a message, a close) did not happen: the server did something else. */
export class StepError extends ProbeError {
  constructor(
    /** What the step waited for, e.g. "_result of connect". */
    readonly step: string,
    message: string,
  ) {
    super('RTMP_ERR_PROBE_STEP', message);
  }
}

/** Set-up a probe needs before the behaviour it tests (publish, play) did not work. */
export class SetupError extends ProbeError {
  constructor(message: string) {
    super('RTMP_ERR_PROBE_STEP', message);
  }
}

export class ProbeTimeoutError extends ProbeError {
  constructor(message: string) {
    super('RTMP_ERR_PROBE_TIMEOUT', message);
  }
}

/** The reason an error gives, without its code's description (for one-line evidence). */
export function why(e: unknown): string {
  return isRtmpError(e) ? e.reason : ((e as Error)?.message ?? String(e));
}
