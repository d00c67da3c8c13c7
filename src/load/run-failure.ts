import { failureKey, failureReason, parseFailureKey, type Failure } from '../results/failures.js';
import type { RunSummary } from '../results/summary.js';

/**
 * Whether the run itself failed, though it ran to the end: no stream could be published, no
 * player could connect, or the target dropped every session before the end. Partial failures
 * are results (counted by reason; thresholds judge them).
 */
export function runFailure(s: RunSummary): string | null {
  const counted = Object.entries(s.failures).flatMap(([key, n]) => {
    const f = parseFailureKey(key);
    return f === null ? [] : [{ f, n }];
  });
  // Why sessions of a role could not start; viewers of other protocols than RTMP are named.
  const reasons = (role: Failure['role']) =>
    counted
      .filter(({ f }) => f.role === role && f.phase === 'setup')
      .map(({ f, n }) => `${f.role === 'player' && f.protocol !== 'rtmp' ? failureKey(f) : failureReason(f)} ×${n}`)
      .join(', ');
  const share = s.share;
  // Only a coordinated share has a common start to be late for; one on its own starts when it starts.
  if (share !== undefined && share.clock !== undefined && share.lateMs > share.maxLateMs) {
    return `share ${share.index} of ${share.count} began ${share.lateMs} ms after the common start (more than --max-late ${share.maxLateMs} ms): its sessions did not start with the others'`;
  }
  const p = s.sessions.publishers;
  if (p.planned > 0 && p.connected === 0) return `no publisher could publish (${reasons('publisher')})`;
  const pl = s.sessions.players;
  if (pl.planned > 0 && pl.connected === 0) return `no player could play (${reasons('player')})`;
  const dropped = counted.filter(({ f }) => f.phase === 'dropped').reduce((n, { n: k }) => n + k, 0);
  const connected = p.connected + pl.connected;
  if (connected > 0 && dropped >= connected)
    return `the target closed every connection before the end of the run (${Object.keys(s.failures).join(', ')})`;
  return null;
}
