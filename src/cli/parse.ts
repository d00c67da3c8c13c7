import { UsageError } from '../protocol/errors.js';
import { sizeValue } from '../server/config.js';


function bad(flag: string, value: string, expected: string): never {
  throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `${flag}: "${value}" is not ${expected}`);
}

/** A whole number (flag values are strings). */
export function parseInteger(flag: string, value: string): number {
  if (!/^-?\d+$/.test(value.trim())) bad(flag, value, 'a whole number');
  return Number(value);
}

/** A byte count: "65536", "64k", "2m" (powers of 1024). */
export function parseBytes(flag: string, value: string): number {
  const v = sizeValue(value);
  if (typeof v !== 'number') bad(flag, value, 'a size such as 65536, 64k or 2m');
  return v;
}

/** A bit rate in bits per second: "600k", "2.5m", "2500000" (powers of 1000). */
export function parseBitrate(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([km]?)(?:bps|b)?$/i.exec(value.trim());
  if (!m) bad(flag, value, 'a bit rate such as 600k or 2.5m');
  const mult = m[2]!.toLowerCase() === 'k' ? 1e3 : m[2]!.toLowerCase() === 'm' ? 1e6 : 1;
  return Math.round(Number(m[1]) * mult);
}

/** A duration in ms: "30s", "1500ms", "2m", or plain seconds "30". */
export function parseDurationMs(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(value.trim());
  if (!m) bad(flag, value, 'a duration such as 30s, 1500ms or 2m');
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's').toLowerCase() as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * mult);
}

export function parseOnOff(flag: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['on', 'true', 'yes', '1'].includes(v)) return true;
  if (['off', 'false', 'no', '0'].includes(v)) return false;
  return bad(flag, value, 'on or off');
}
