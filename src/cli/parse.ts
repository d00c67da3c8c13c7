import { UsageError } from '../input/usage-error.js';
import { parseBitrate as bitrate, parseDurationMs as duration, parseSize } from '../input/units.js';

function bad(flag: string, value: string, expected: string): never {
  throw new UsageError(`${flag}: "${value}" is not ${expected}`);
}

/** A whole number (flag values are strings). */
export function parseInteger(flag: string, value: string): number {
  if (!/^-?\d+$/.test(value.trim())) bad(flag, value, 'a whole number');
  return Number(value);
}

/** A byte count: "65536", "64k", "2m" (powers of 1024). */
export function parseBytes(flag: string, value: string): number {
  return parseSize(value) ?? bad(flag, value, 'a size such as 65536, 64k or 2m');
}

/** A bit rate in bits per second: "600k", "2.5m", "2500000" (powers of 1000). */
export function parseBitrate(flag: string, value: string): number {
  return bitrate(value) ?? bad(flag, value, 'a bit rate such as 600k or 2.5m');
}

/** A duration in ms: "30s", "1500ms", "2m", or plain seconds "30". */
export function parseDurationMs(flag: string, value: string): number {
  return duration(value) ?? bad(flag, value, 'a duration such as 30s, 1500ms or 2m');
}

export function parseOnOff(flag: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['on', 'true', 'yes', '1'].includes(v)) return true;
  if (['off', 'false', 'no', '0'].includes(v)) return false;
  return bad(flag, value, 'on or off');
}
