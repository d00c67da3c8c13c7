import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { UsageError } from '../protocol/errors.js';
import { PACKAGE_ROOT } from '../version.js';

/** Folder of the scenarios shipped with rtmpbench. */
export const SHIPPED_SCENARIOS = join(PACKAGE_ROOT, 'scenarios');

/** A path, or the name of a shipped scenario ("quickstart" is scenarios/quickstart.yaml). */
export function resolveScenarioPath(nameOrPath: string): string {
  if (existsSync(nameOrPath)) return nameOrPath;
  for (const ext of ['.yaml', '.yml', '']) {
    const p = join(SHIPPED_SCENARIOS, `${nameOrPath}${ext}`);
    if (/^[A-Za-z0-9._-]+$/.test(nameOrPath) && existsSync(p)) return p;
  }
  throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `no scenario file "${nameOrPath}" (and no shipped scenario of that name)`);
}

/** Reads a YAML (or JSON) scenario file into a raw object; syntax errors name the line. */
export function readScenarioFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `cannot read scenario ${path}: ${(e as Error).message}`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `${path} is not valid YAML:\n  ${doc.errors.map((e) => e.message.split('\n')[0]).join('\n  ')}`);
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `${path} must hold a mapping (name: ..., players: ...)`);
  }
  return data as Record<string, unknown>;
}

/** Merges `over` into `base` recursively (plain objects only; arrays and values are replaced). */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && b !== null && typeof b === 'object' && !Array.isArray(b)) {
      out[k] = deepMerge(b as Record<string, unknown>, v as Record<string, unknown>);
    } else {
      out[k] = v;
    }
  }
  return out;
}
