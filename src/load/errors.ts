import { RtmpError } from '../protocol/errors.js';

/** The run itself failed (target unreachable, server did not start, workers hung): exit code 3. */
export class RunError extends RtmpError {
  constructor(message: string) {
    super('RTMP_ERR_RUN_FAILED', message);
  }
}
