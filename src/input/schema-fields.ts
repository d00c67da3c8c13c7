import type { z } from 'zod';
import { globalRegistry } from 'zod';
import { UNIT_META_KEY, type UnitKind } from './schema-units.js';
import { formatBitrate, formatDurationMs, parseBitrate, parseDurationMs, parseSize } from './units.js';

/**
 * What a command-line flag needs to know about the schema field it sets: its kind (and unit),
 * its description and its default. Flags, their help text and their defaults are derived from
 * the zod schemas this way, so each setting is defined once.
 */
export interface FieldInfo {
  kind:
    | 'duration'
    | 'bitrate'
    | 'size'
    | 'integer'
    | 'number'
    | 'string'
    | 'boolean'
    | 'enum'
    | 'list'
    | 'record'
    | 'other';
  description: string | undefined;
  /** The schema's default, when it has one. */
  default: unknown;
  /** An enum's values, or the literals a union also accepts ("auto"). */
  values: string[];
}

type Def = Record<string, unknown> & { type: string };
const def = (x: unknown): Def => (x as { _zod: { def: Def } })._zod.def;
const meta = (x: unknown): Record<string, unknown> | undefined =>
  globalRegistry.get(x as z.ZodType) as Record<string, unknown> | undefined;

/** The field at a dotted path of an object schema, or null when there is none. */
export function fieldAt(schema: z.ZodType, path: string): FieldInfo | null {
  let node: unknown = schema;
  let description: string | undefined;
  let dflt: unknown;
  for (const key of path.split('.')) {
    node = unwrap(node).node;
    const d = def(node);
    if (d.type !== 'object') return null;
    node = (d.shape as Record<string, unknown>)[key];
    if (node === undefined) return null;
    description = undefined;
    dflt = undefined;
  }
  const u = unwrap(node);
  description = u.description;
  dflt = u.default;
  const d = def(u.node);
  const info = (kind: FieldInfo['kind'], values: string[] = []): FieldInfo => ({
    kind,
    description,
    default: dflt,
    values,
  });
  if (u.unit !== undefined) return info(u.unit);
  switch (d.type) {
    case 'number':
      return info(
        (d.checks as unknown[] | undefined)?.some(
          (c) => def(c).format === 'safeint' || (def(c) as { check?: string }).check === 'number_format',
        )
          ? 'integer'
          : 'number',
      );
    case 'string':
      return info('string');
    case 'boolean':
      return info('boolean');
    case 'enum':
      return info('enum', Object.values(d.entries as Record<string, string>));
    case 'array':
      return info('list');
    case 'record':
      return info('record');
    case 'union': {
      const options = (d.options as unknown[]).map((o) => def(unwrap(o).node));
      const literals = options.filter((o) => o.type === 'literal').flatMap((o) => (o.values as unknown[]).map(String));
      const numeric = options.find((o) => o.type === 'number');
      return numeric !== undefined ? info('integer', literals) : info('other', literals);
    }
    default:
      return info('other');
  }
}

/** Through defaults, optionals, preprocessing and transforms to the value's own schema, noting what was on the way. */
function unwrap(x: unknown): {
  node: unknown;
  description: string | undefined;
  default: unknown;
  unit: UnitKind | undefined;
} {
  let description: string | undefined;
  let dflt: unknown;
  let unit: UnitKind | undefined;
  for (;;) {
    const m = meta(x);
    description ??= (m?.description as string | undefined) ?? (x as { description?: string }).description;
    unit ??= m?.[UNIT_META_KEY] as UnitKind | undefined;
    const d = def(x);
    if (d.type === 'default' || d.type === 'prefault') {
      if (dflt === undefined)
        dflt = typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue;
      x = d.innerType;
    } else if (d.type === 'optional' || d.type === 'nullable' || d.type === 'readonly') {
      x = d.innerType;
    } else if (d.type === 'pipe') {
      // A transform's pipe is read on its input side (what a flag sets); a preprocessing one on its output side.
      x = def(d.out).type === 'transform' ? d.in : d.out;
    } else {
      return { node: x, description, default: dflt, unit };
    }
  }
}

/** A flag's text turned into the value its field takes, or what is wrong with it. */
export function flagValue(flag: string, field: FieldInfo, raw: string): { value: unknown } | { problem: string } {
  const text = raw.trim();
  switch (field.kind) {
    case 'duration':
      return parseDurationMs(text) !== null
        ? { value: text }
        : { problem: `${flag}: "${raw}" is not a duration such as 30s, 1500ms or 2m` };
    case 'bitrate':
      return parseBitrate(text) !== null
        ? { value: text }
        : { problem: `${flag}: "${raw}" is not a bit rate such as 600k or 2.5m` };
    case 'size':
      return parseSize(text) !== null
        ? { value: text }
        : { problem: `${flag}: "${raw}" is not a size such as 65536, 64k or 2m` };
    case 'integer':
      if (field.values.includes(text)) return { value: text };
      return /^-?\d+$/.test(text)
        ? { value: Number(text) }
        : {
            problem:
              `${flag}: "${raw}" is not a whole ` +
              `number${field.values.length > 0 ? ` or ${field.values.join(', ')}` : ''}`,
          };
    case 'number': {
      const n = Number(text);
      return text !== '' && Number.isFinite(n) ? { value: n } : { problem: `${flag}: "${raw}" is not a number` };
    }
    case 'boolean': {
      const v = text.toLowerCase();
      if (['on', 'true', 'yes', '1'].includes(v)) return { value: true };
      if (['off', 'false', 'no', '0'].includes(v)) return { value: false };
      return { problem: `${flag}: "${raw}" is not on or off` };
    }
    default:
      return { value: raw };
  }
}

/** The default as a person would write it ("2s", "600k", "16m", "on"). */
export function formatDefault(field: FieldInfo): string | null {
  const v = field.default;
  if (v === undefined) return null;
  if (typeof v === 'number') {
    if (field.kind === 'duration') return formatDurationMs(v);
    if (field.kind === 'bitrate') return formatBitrate(v);
    if (field.kind === 'size') return formatSize(v);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'string') return v;
  return null;
}

function formatSize(bytes: number): string {
  if (bytes < 65536) return String(bytes);
  for (const [unit, n] of [
    ['g', 1024 ** 3],
    ['m', 1024 ** 2],
    ['k', 1024],
  ] as const)
    if (bytes % n === 0) return `${bytes / n}${unit}`;
  return String(bytes);
}

/** Help text for a flag: the field's description, its choices and its default. */
export function fieldHelp(field: FieldInfo, text = field.description ?? ''): string {
  const choices = field.kind === 'enum' ? ` (${field.values.join(', ')})` : '';
  const d = formatDefault(field);
  return `${text}${choices}${d !== null && !/\(default/.test(text) ? ` (default ${d})` : ''}`;
}

/** The placeholder a flag's help shows for its value. */
export function valueName(field: FieldInfo): string {
  switch (field.kind) {
    case 'duration':
      return 'time';
    case 'bitrate':
      return 'rate';
    case 'size':
      return 'bytes';
    case 'integer':
      return field.values.length > 0 ? `n|${field.values.join('|')}` : 'n';
    case 'boolean':
      return 'on|off';
    case 'enum':
      return 'name';
    default:
      return 'value';
  }
}
