import { z } from 'zod';
import { parseBitrate, parseDurationMs, parseSize } from './units.js';

/**
 * Schema fields for values written with a unit (durations, bit rates, sizes): they accept a
 * number or a string such as "30s", "600k", "64k", carry the unit in their metadata (so the
 * JSON Schema and the derived command-line flags know it), and resolve to ms, bit/s or bytes.
 */

/** Marks fields that accept a unit string (see `unitJsonSchema`). */
export const UNIT_META_KEY = 'rtmpbenchUnit';
export type UnitKind = 'duration' | 'bitrate' | 'size';

const shown = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));

/** Milliseconds: "30s", "1500ms", "2m", or a number of seconds. */
export const durationField = () =>
  z
    .preprocess(
      (v) => parseDurationMs(v) ?? v,
      z
        .number({ error: (i) => `expected a duration such as 30s, 1500ms or 2m, got ${shown(i.input)}` })
        .int()
        .min(0),
    )
    .meta({ [UNIT_META_KEY]: 'duration' });

/** Bits per second: "600k", "2.5m", or a number. */
export const bitrateField = () =>
  z
    .preprocess(
      (v) => parseBitrate(v) ?? v,
      z
        .number({ error: (i) => `expected a bit rate such as 600k or 2.5m, got ${shown(i.input)}` })
        .int()
        .min(0),
    )
    .meta({ [UNIT_META_KEY]: 'bitrate' });

/** Bytes: "64k", "2m" (powers of 1024), or a number. */
export const sizeField = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess((v) => parseSize(v) ?? v, z.number().int().min(min).max(max)).meta({ [UNIT_META_KEY]: 'size' });

/** JSON Schema of a value written with a unit: a number, or a string such as "30s" / "600k". */
export function unitJsonSchema(
  kind: string,
  bounds: { minimum?: number; maximum?: number } = {},
): Record<string, unknown> {
  const max =
    bounds.maximum !== undefined && bounds.maximum < Number.MAX_SAFE_INTEGER ? { maximum: bounds.maximum } : {};
  if (kind === 'duration') {
    return {
      anyOf: [
        { type: 'number', minimum: 0, description: 'seconds' },
        { type: 'string', pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h))+$|^\\d+(\\.\\d+)?$' },
      ],
      description: 'a duration: 30s, 1500ms, 2m, 1m30s, or seconds',
    };
  }
  if (kind === 'bitrate') {
    return {
      anyOf: [
        { type: 'number', minimum: 0, description: 'bits per second' },
        { type: 'string', pattern: '^\\d+(\\.\\d+)?\\s*[kKmMgG]?(bps|b/s|bit/s)?$' },
      ],
      description: 'a bit rate: 600k, 2.5m, or bits per second',
    };
  }
  return {
    anyOf: [
      { type: 'integer', minimum: bounds.minimum ?? 0, ...max },
      { type: 'string', pattern: '^\\d+(\\.\\d+)?\\s*([kKmMgG][iI]?[bB]?|[bB])?$' },
    ],
    description: 'a size: 65536, 64k, 2m',
  };
}
