import { RtmpError, type ErrorCode, type ErrorDetail } from '../protocol/errors.js';

/**
 * The user's input is wrong: a flag, a scenario value, a file or URL they named. The CLI
 * prints the reason and exits 2 (bad usage), before anything starts where it can.
 */
export class UsageError extends RtmpError {
  constructor(message: string, code: ErrorCode = 'RTMP_ERR_USAGE', detail: ErrorDetail = {}) {
    super(code, message, detail);
  }
}
