import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { UsageError } from '../input/usage-error.js';
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
  throw new UsageError(`no scenario file "${nameOrPath}" (and no shipped scenario of that name)`);
}

export interface ScenarioFile {
  path: string;
  data: Record<string, unknown>;
  /** Line (1-based) where the value at a key path is written, or of its nearest written parent. */
  lineOf(keys: readonly (string | number)[]): number | null;
}

/** Reads a YAML (or JSON) scenario file into a raw object; syntax errors name the line. */
export function readScenarioFile(path: string): ScenarioFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read scenario ${path}: ${(e as Error).message}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new UsageError(
      `${path} is not valid YAML:\n  ${doc.errors.map((e) => e.message.split('\n')[0]).join('\n  ')}`,
    );
  }
  const data: unknown = doc.toJS();
  if (data !== null && data !== undefined && (typeof data !== 'object' || Array.isArray(data))) {
    throw new UsageError(`${path} must hold a mapping (name: ..., players: ...)`);
  }
  const lineOf = (keys: readonly (string | number)[]): number | null => {
    let node: unknown = doc.contents;
    let line: number | null = null;
    const at = (n: unknown) => {
      const r = (n as Node | null)?.range;
      return r ? lines.linePos(r[0]).line : null;
    };
    for (const k of keys) {
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => String((p.key as { value?: unknown } | null)?.value ?? p.key) === String(k),
        );
        if (pair === undefined) break;
        line = at(pair.key) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof k === 'number' && node.items[k] !== undefined) {
        node = node.items[k];
        line = at(node) ?? line;
      } else break;
    }
    return line;
  };
  return { path, data: (data ?? {}) as Record<string, unknown>, lineOf };
}

/** Merges `over` into `base` recursively (plain objects only; arrays and values are replaced). */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (
      v !== null &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      b !== null &&
      typeof b === 'object' &&
      !Array.isArray(b)
    ) {
      out[k] = deepMerge(b as Record<string, unknown>, v as Record<string, unknown>);
    } else {
      out[k] = v;
    }
  }
  return out;
}
