import { serverConfigSchema } from '../server/config.js';

/**
 * A scenario's `server` section and its comparison's settings are the built-in server's own
 * settings (`rtmpbench serve --config`): checked by its schema, with a hint for a misspelt key.
 */

/** One thing wrong with a scenario: where (the path of keys) and what. */
export interface ScenarioIssue {
  path: (string | number)[];
  message: string;
}

/** Problems with built-in server settings (as in `rtmpbench serve --config`), with their paths. */
export function serverSettingIssues(settings: Record<string, unknown>): ScenarioIssue[] {
  const own: ScenarioIssue[] = [];
  const rest = { ...settings };
  for (const k of ['host', 'port'] as const) {
    if (rest[k] === undefined) continue;
    own.push({ path: [k], message: "the run chooses the built-in server's address itself (a free loopback port)" });
    delete rest[k];
  }
  const r = serverConfigSchema.safeParse({ ...rest, port: 0 });
  if (r.success) return own;
  const known = Object.keys(serverConfigSchema.shape);
  return own.concat(
    r.error.issues.flatMap((i): ScenarioIssue[] => {
      const path = i.path.map((k) => (typeof k === 'number' ? k : String(k)));
      if (i.code !== 'unrecognized_keys') return [{ path, message: i.message }];
      return i.keys.map((key) => {
        const guess = closest(key, known);
        return { path: [key], message: `not a server setting${guess !== null ? ` (did you mean "${guess}"?)` : ''}` };
      });
    }),
  );
}

/** The candidate nearest to `word` by edit distance, if near enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}
