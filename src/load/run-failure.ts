import type { RunSummary } from '../results/summary.js';

/**
 * Whether the run itself failed, though it ran to the end: no stream could be published, no
 * player could connect, or the target dropped every session before the end. Partial failures
 * are results (counted by reason; thresholds judge them).
 */
export function runFailure(s: RunSummary): string | null {
  const reasons = (prefix: string) =>
    Object.entries(s.failures)
      .filter(([k]) => k.startsWith(`${prefix}: `))
      .map(([k, v]) => `${k.slice(prefix.length + 2)} ×${v}`)
      .join(', ');
  const p = s.sessions.publishers;
  if (p.planned > 0 && p.connected === 0) return `no publisher could publish (${reasons('publisher')})`;
  const pl = s.sessions.players;
  if (pl.planned > 0 && pl.connected === 0) return `no player could play (${reasons('player')})`;
  const dropped = Object.entries(s.failures)
    .filter(([k]) => k.includes('dropped'))
    .reduce((n, [, v]) => n + v, 0);
  const connected = p.connected + pl.connected;
  if (connected > 0 && dropped >= connected) return `the target closed every connection before the end of the run (${Object.keys(s.failures).join(', ')})`;
  return null;
}
