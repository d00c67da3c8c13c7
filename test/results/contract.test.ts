import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario } from '../../src/load/orchestrator.js';
import { resolveScenario } from '../../src/load/scenario.js';
import { computeComparison } from '../../src/report/comparison.js';
import { comparisonHtml, comparisonMarkdown, runHtml, runMarkdown } from '../../src/report/write.js';
import { formatSummary } from '../../src/report/console.js';
import { getPath } from '../../src/results/counters.js';
import { isComparisonDir, loadComparison, loadRun } from '../../src/results/folder.js';
import type { RunSummary } from '../../src/results/summary.js';
import type { TimelinePoint } from '../../src/results/timeline.js';
import { PACKAGE_ROOT } from '../../src/version.js';
import { scratch } from '../helpers/runs.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** Every folder under `dir` holding a summary.json or a compare.json. */
function resultsFolders(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (!statSync(p).isDirectory()) continue;
    if (isComparisonDir(p)) out.push(p);
    else if (readdirSync(p).includes('summary.json')) out.push(p);
    else out.push(...resultsFolders(p));
  }
  return out;
}

/** `a.{b,c}.d` → a.b.d, a.c.d. */
function expand(pattern: string): string[] {
  const m = /^([^{]*)\{([^}]*)\}(.*)$/.exec(pattern);
  if (m === null) return [pattern];
  return m[2]!.split(',').flatMap((alt) => expand(`${m[1]}${alt.trim()}${m[3]}`));
}

/** The dotted field paths the contract in docs/results.md lists for summary.json and timeline.ndjson. */
function contractPaths(): { summary: string[]; timeline: string[] } {
  const text = readFileSync(join(PACKAGE_ROOT, 'docs', 'results.md'), 'utf8');
  const start = text.indexOf('## Results: the contract');
  if (start < 0) throw new Error('docs/results.md has no "## Results: the contract" section');
  const part = text.slice(start, text.indexOf('\n## ', start + 10));
  const summaryBlock = part.slice(part.indexOf('- `summary.json`'), part.indexOf('- `timeline.ndjson`'));
  const timelineBlock = part.slice(part.indexOf('- `timeline.ndjson`'), part.indexOf('- `histograms.json`'));
  const tokens = [...summaryBlock.matchAll(/`([a-zA-Z][\w.{},]*)`/g)].map((m) => m[1]!);
  const summary = tokens.filter((t) => t.includes('.') && !t.endsWith('.json')).flatMap(expand);
  const timeline = /\{(tSec[^}]*)\}/
    .exec(timelineBlock.replace(/\s+/g, ' '))![1]!
    .split(',')
    .map((x) => x.trim());
  return { summary, timeline };
}

describe('the results contract', () => {
  it('reads and renders every committed results folder (version 1 written by earlier versions)', () => {
    const folders = resultsFolders(join(PACKAGE_ROOT, 'results', 'baselines'));
    expect(folders.length).toBeGreaterThanOrEqual(5);
    for (const dir of folders) {
      if (isComparisonDir(dir)) {
        const c = loadComparison(dir);
        const t = computeComparison(c);
        expect(comparisonMarkdown(c, t), dir).toContain('rtmpbench compare');
        expect(comparisonHtml(c, t), dir).toContain('<html');
      } else {
        const run = loadRun(dir);
        expect(run.summary.schemaVersion, dir).toBe(1);
        expect(runMarkdown(run), dir).toContain('rtmpbench run');
        expect(runHtml(run), dir).toContain('<html');
        expect(formatSummary(run.summary, dir), dir).toContain('results:');
      }
    }
  });

  describe('a fresh run', () => {
    const out = scratch('contract');
    let srv: TestServer;
    let summary: RunSummary;
    let timeline: TimelinePoint[];
    beforeAll(async () => {
      srv = await startServer({ logLevel: 'warn' });
      const { scenario } = resolveScenario({
        name: 'contract',
        target: `rtmp://127.0.0.1:${srv.port}/live`,
        players: { perStream: 3, slowPerStream: 1 },
        duration: '2s',
        workers: 2,
        thresholds: ['frames.lost == 0'],
      });
      const r = await runScenario({ scenario: scenario!, outDir: out });
      summary = r.summary;
      timeline = r.timeline;
    });
    afterAll(() => srv?.close());

    it('has every summary field the contract lists', () => {
      const { summary: paths } = contractPaths();
      expect(paths.length).toBeGreaterThan(40);
      for (const p of paths) {
        // Present only for a known server process, a capacity search, a merge, viewers of several protocols, named groups, hooks.
        if (
          ['server.', 'capacity', 'mergedFrom', 'byProtocol', 'byGroup', 'hooks'].some((prefix) => p.startsWith(prefix))
        )
          continue;
        expect(getPath(summary, p), p).toBeDefined();
      }
    });

    it('has every timeline field the contract lists', () => {
      const { timeline: fields } = contractPaths();
      expect(fields).toContain('generatorEventLoopUtilization');
      for (const point of timeline) for (const f of fields) expect(point, f).toHaveProperty(f);
    });
  });
});
