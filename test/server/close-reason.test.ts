import { describe, expect, it } from 'vitest';
import { CLOSE_KINDS, closeReason, formatCloseReason } from '../../src/server/close-reason.js';

describe('close reasons', () => {
  it('format as the kind, then the detail after a colon', () => {
    expect(formatCloseReason(closeReason('idle', 'nothing received for 30000 ms'))).toBe(
      'idle: nothing received for 30000 ms',
    );
    expect(formatCloseReason(closeReason('RTMP_ERR_CHUNK_STREAM_LIMIT', 'too many chunk streams (64)'))).toBe(
      'RTMP_ERR_CHUNK_STREAM_LIMIT: too many chunk streams (64)',
    );
  });

  it('format as the kind alone when there is no detail', () => {
    expect(formatCloseReason(closeReason('shutdown'))).toBe('shutdown');
  });

  it('keep the kinds that /stats and run summaries have always shown', () => {
    for (const kind of [
      'peer-closed',
      'socket-error',
      'handshake-timeout',
      'idle',
      'publisher-idle',
      'slow-player',
      'shutdown',
      'bad-play',
      'bad-publish',
      'duplicate-publisher',
    ]) {
      expect(CLOSE_KINDS).toContain(kind);
    }
  });
});
