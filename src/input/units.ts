/**
 * Values people type: sizes ("64k", "2m"), bit rates ("600k", "2.5m") and durations ("30s",
 * "1500ms"). Each parser returns null for anything it cannot read, so callers can collect
 * every problem before reporting.
 */

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
};

/** Bytes: a number, or "65536", "64k", "2m" (powers of 1024). */
export function parseSize(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  return m && unit !== undefined ? Math.round(Number(m[1]) * unit) : null;
}

/** Bits per second: a number, or "600k", "2.5m", "2500000", "600kbps" (powers of 1000). */
export function parseBitrate(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:bps|b\/s|bit\/s)?$/i.exec(v.trim());
  if (!m) return null;
  const mult = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * mult);
}

/** Milliseconds: a number of seconds, or "30s", "1500ms", "2m", "1h", "1m30s". */
export function parseDurationMs(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.round(v * 1000) : null;
  if (typeof v !== 'string') return null;
  const text = v.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    consumed += m[0].length;
  }
  return consumed === text.length && consumed > 0 ? Math.round(total) : null;
}

export function formatDurationMs(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function formatBitrate(bps: number): string {
  if (bps >= 1e6 && bps % 1e5 === 0) return `${bps / 1e6}m`;
  if (bps >= 1e3 && bps % 1e3 === 0) return `${bps / 1e3}k`;
  return String(bps);
}

/**
 * A start time: an ISO 8601 date and time with its zone ("2026-12-06T10:30:00Z"), or a time
 * from now ("+30s", "2m"). Milliseconds since the epoch, or null when it is neither.
 */
export function parseStartAt(v: string, nowMs: number): number | null {
  const text = v.trim();
  const relative = parseDurationMs(text.startsWith('+') ? text.slice(1) : text);
  if (relative !== null) return nowMs + relative;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}
