import type { z } from 'zod';
import { parseThreshold } from '../results/thresholds.js';
import { parseGateRule } from '../results/gates.js';
import { scenarioSchemaWith, type Scenario } from '../scenario/schema.js';
import { closest, type ScenarioIssue } from '../scenario/server-settings.js';

export type { Scenario, ScenarioInput } from '../scenario/schema.js';
export type { ScenarioIssue } from '../scenario/server-settings.js';

/**
 * The scenario schema (src/scenario/schema.ts) with the checks of threshold and gate expressions,
 * and the resolution of a scenario: the schema's output, or every problem with its path.
 */

const problemOf = (r: object | string): string | null => (typeof r === 'string' ? r : null);

export const scenarioSchema = scenarioSchemaWith({
  threshold: (e) => problemOf(parseThreshold(e)),
  gateRule: (g) => problemOf(parseGateRule(g)),
});

export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(scenario)';
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

/** The keys an object schema at `path` accepts (through defaults, optionals, arrays, records). */
function knownKeys(schema: z.ZodType, path: readonly (string | number)[]): string[] {
  let cur: unknown = schema;
  const def = (x: unknown) => (x as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  const unwrap = (x: unknown): unknown => {
    for (;;) {
      const d = def(x);
      if (d.innerType !== undefined) x = d.innerType;
      // A transform's pipe is read on its input side; a preprocessing one on its output side.
      else if (d.type === 'pipe') x = def(d.out).type === 'transform' ? d.in : d.out;
      else return x;
    }
  };
  for (const k of path) {
    cur = unwrap(cur);
    const d = def(cur);
    if (d.type === 'object') cur = (d.shape as Record<string, unknown>)[String(k)];
    else if (d.type === 'array') cur = d.element;
    else if (d.type === 'record') cur = d.valueType;
    else if (d.type === 'union') cur = (d.options as unknown[]).find((o) => def(unwrap(o)).type === 'object');
    else return [];
    if (cur === undefined) return [];
  }
  const d = def(unwrap(cur));
  return d.type === 'object' ? Object.keys(d.shape as object) : [];
}

/**
 * Validates a scenario; returns it resolved, or every problem as "path: message" (and as
 * issues with their paths, so a file's problems can name their lines).
 */
export function resolveScenario(
  input: unknown,
): { scenario: Scenario; problems: []; issues: [] } | { scenario: null; problems: string[]; issues: ScenarioIssue[] } {
  const r = scenarioSchema.safeParse(input);
  if (!r.success) {
    const issues: ScenarioIssue[] = [];
    for (const i of r.error.issues) {
      const path = i.path.map((k) => (typeof k === 'number' ? k : String(k)));
      if (i.code !== 'unrecognized_keys') {
        issues.push({ path, message: i.message });
        continue;
      }
      // One problem per unknown key, with the key it most likely meant.
      const known = knownKeys(scenarioSchema, path);
      for (const key of i.keys) {
        const guess = closest(key, known);
        const hint =
          guess !== null ? ` (did you mean "${guess}"?)` : known.length > 0 ? ` (known here: ${known.join(', ')})` : '';
        issues.push({ path: [...path, key], message: `unknown key${hint}` });
      }
    }
    return { scenario: null, problems: issues.map((i) => `${formatPath(i.path)}: ${i.message}`), issues };
  }
  return { scenario: r.data, problems: [], issues: [] };
}
