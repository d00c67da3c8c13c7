import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateGates, gateValue, judgeRule } from '../../src/lab/gate.js';
import { loadSavedBaseline } from '../../src/lab/saved-baseline.js';
import { computeComparison } from '../../src/report/comparison.js';
import { formatComparison, formatSummary } from '../../src/report/console.js';
import { comparisonMarkdown, runMarkdown } from '../../src/report/write.js';
import { COMPARISON_FILE } from '../../src/results/comparison-file.js';
import { loadComparison, loadRun, SUMMARY_FILE, type LoadedRun } from '../../src/results/folder.js';
import { parseGateRules } from '../../src/results/gates.js';

/**
 * Every committed baseline still loads, renders the same Markdown and console reports, and
 * judges the same latency gates, from the files that are committed. The goldens were written
 * while the raw logs (.hlog, timelines) were still beside the summaries; rewrite them only on
 * purpose, with `npx vitest run test/results/baselines.test.ts -u`.
 */

const ROOT = resolve('results/baselines');
const GOLDEN = resolve('test/results/__golden__/baselines');
const GATES = parseGateRules(['latency.endToEnd.p99 +20%']);

/** Comparison folders and run folders outside comparisons, relative to ROOT, in order. */
function baselineFolders(dir = ROOT): { dir: string; kind: 'comparison' | 'run' }[] {
  if (existsSync(join(dir, COMPARISON_FILE))) return [{ dir: relative(ROOT, dir), kind: 'comparison' }];
  if (existsSync(join(dir, SUMMARY_FILE))) return [{ dir: relative(ROOT, dir), kind: 'run' }];
  return readdirSync(dir)
    .sort()
    .map((name) => join(dir, name))
    .filter((p) => statSync(p).isDirectory())
    .flatMap((p) => baselineFolders(p));
}

const rel = (dir: string) => relative(ROOT, dir);

/** A run's Markdown report and gate values; its console report too when it stands alone (in a comparison it says the same). */
function runText(run: LoadedRun, alone: boolean): string {
  const values = GATES.map((g) => `- ${g.rule.replace(/ .*/, '')} = ${gateValue(g, run) ?? 'not measured'}`);
  const console = alone ? ['```', formatSummary(run.summary, rel(run.dir)), '```', ''] : [];
  return [`### run ${rel(run.dir)}`, '', runMarkdown(run), ...console, 'gate values:', ...values, ''].join('\n');
}

/** What `compare --against DIR --gate ...` judges: the saved runs as the baseline of the comparison's other variants. */
function againstText(dir: string, variants: Map<string, LoadedRun[]>): string[] {
  const saved = loadSavedBaseline(dir);
  const savedRuns = saved.runs.map((d) => loadRun(d));
  const lines = [`saved baseline: ${saved.runs.map(rel).join(', ')} (started ${saved.startedAt})`];
  for (const rule of GATES) {
    const base = savedRuns.map((r) => gateValue(rule, r));
    for (const [name, runs] of variants)
      lines.push(
        `- ${
          judgeRule(
            rule,
            name,
            'saved',
            runs.map((r) => gateValue(rule, r)),
            base,
          ).message
        }`,
      );
  }
  return lines;
}

function comparisonText(dir: string): string {
  const c = loadComparison(dir);
  const t = computeComparison(c);
  const gates = evaluateGates(GATES, c).map((g) => `- ${g.passed ? 'passed' : 'FAILED'}: ${g.message}`);
  const variants = new Map([...c.runs].map(([name, runs]) => [name, runs.map((r) => r.run)]));
  return [
    comparisonMarkdown(c, t),
    '```',
    formatComparison(t),
    '```',
    '',
    `gates (${GATES.map((g) => g.rule).join('; ')}):`,
    ...gates,
    '',
    ...againstText(dir, variants),
    '',
    ...[...variants.values()].flat().map((r) => runText(r, false)),
  ].join('\n');
}

describe('committed baselines', () => {
  const folders = baselineFolders();

  it('are there to check', () => {
    expect(folders.filter((f) => f.kind === 'comparison').length).toBeGreaterThan(10);
  });

  for (const f of folders) {
    it(`${f.dir} renders its reports and judges its gates as when it was committed`, async () => {
      const dir = join(ROOT, f.dir);
      const text = f.kind === 'comparison' ? comparisonText(dir) : runText(loadRun(dir), true);
      await expect(text).toMatchFileSnapshot(join(GOLDEN, `${f.dir}.md`));
    });
  }
});
