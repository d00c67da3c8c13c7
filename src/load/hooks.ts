import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSummary } from '../results/summary.js';

/** Longest a hook may take to answer. */
const HOOK_TIMEOUT_MS = 30_000;
/** Most of an answer kept. */
const HOOK_MAX_BYTES = 4 * 1024 * 1024;

export interface HookAnswer {
  url: string;
  status: number;
  body: string;
}

/**
 * Calls a server's hook (a URL it offers for diagnosis: a memory checker's report, a heap
 * count) and keeps the answer; a hook that fails is reported, never fatal to the run.
 */
export async function callHook(url: string): Promise<HookAnswer> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(HOOK_TIMEOUT_MS) });
    const text = await res.text();
    return { url, status: res.status, body: text.length > HOOK_MAX_BYTES ? text.slice(0, HOOK_MAX_BYTES) : text };
  } catch (e) {
    return { url, status: 0, body: `no answer: ${(e as Error).message}\n` };
  }
}

/** Writes the answers into the results folder (hooks/before.txt, hooks/after.txt) and says so in the summary. */
export function keepHooks(
  dir: string,
  answers: Partial<Record<'before' | 'after', HookAnswer>>,
  summary: RunSummary,
): void {
  const entries = Object.entries(answers) as ['before' | 'after', HookAnswer][];
  if (entries.length === 0) return;
  mkdirSync(join(dir, 'hooks'), { recursive: true });
  summary.hooks = {};
  for (const [when, a] of entries) {
    const file = join('hooks', `${when}.txt`);
    writeFileSync(join(dir, file), a.body);
    summary.hooks[when] = { url: a.url, status: a.status, file };
  }
}
