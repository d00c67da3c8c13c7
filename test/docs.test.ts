import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/version.js';
import { headingAnchors, headingSlug, isRawBaselineOutput, linkProblems, pageLinks } from './helpers/doc-links.js';

const pages = [
  'README.md',
  ...readdirSync(join(PACKAGE_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('the README and the docs pages', () => {
  it('are there: the README and an index of the docs', () => {
    expect(pages).toContain('docs/README.md');
    expect(pages.length).toBeGreaterThan(10);
  });

  for (const page of pages) {
    it(`${page}: every relative link names a file or folder that exists, every anchor a heading, none a baseline's raw output`, () => {
      expect(linkProblems(PACKAGE_ROOT, page)).toEqual([]);
    });
  }

  it('the README links to every docs page', () => {
    const linked = new Set(pageLinks(readFileSyncUtf8('README.md')).map((l) => l.target.split('#')[0]));
    for (const page of pages.filter((p) => p.startsWith('docs/'))) expect(linked, page).toContain(page);
  });

  it('the README stays a landing page (under 300 lines)', () => {
    expect(readFileSyncUtf8('README.md').split('\n').length).toBeLessThan(300);
  });
});

describe('the link checker', () => {
  const root = mkdtempSync(join(tmpdir(), 'doc-links-'));
  mkdirSync(join(root, 'docs'));
  mkdirSync(join(root, 'results', 'baselines', 'soak'), { recursive: true });
  writeFileSync(join(root, 'results', 'baselines', 'soak', 'summary.json'), '{}');
  writeFileSync(join(root, 'results', 'baselines', 'soak', 'endToEnd.hlog'), '');
  writeFileSync(
    join(root, 'docs', 'run.md'),
    '# `rtmpbench run [SCENARIO]`\n\n## How it measures\n\n## How it measures\n',
  );

  it('makes GitHub anchors of headings, numbering repeated ones', () => {
    expect(headingSlug('`rtmpbench run [SCENARIO]`: run a load scenario')).toBe(
      'rtmpbench-run-scenario-run-a-load-scenario',
    );
    expect(headingSlug('Results: the contract')).toBe('results-the-contract');
    expect([...headingAnchors('# A b\n```\n# not a heading\n```\n## A b\n')]).toEqual(['a-b', 'a-b-1']);
  });

  it('passes links that resolve and anchors that exist', () => {
    const text =
      '[run](docs/run.md#how-it-measures) [again](docs/run.md#how-it-measures-1) [s](results/baselines/soak/summary.json) [x](https://example.com/nowhere)\n';
    expect(linkProblems(root, 'README.md', text)).toEqual([]);
  });

  it('reports a missing file, a missing anchor, a raw baseline file and a link leaving the repository', () => {
    const text = [
      '[gone](docs/gone.md)',
      '[anchor](docs/run.md#no-such-heading)',
      '[self](#nowhere)',
      '[raw](results/baselines/soak/endToEnd.hlog)',
      'see `results/baselines/soak/report.html` and `results/baselines/missing/summary.json`',
      '[out](../outside.md)',
      '```',
      '[in a code block](docs/not-checked.md)',
      '```',
    ].join('\n');
    const problems = linkProblems(root, 'README.md', text);
    expect(problems).toHaveLength(7);
    expect(problems.join('\n')).toMatch(/docs\/gone\.md: no such file/);
    expect(problems.join('\n')).toMatch(/#no-such-heading in docs\/run\.md/);
    expect(problems.join('\n')).toMatch(/#nowhere in README\.md/);
    expect(problems.join('\n')).toMatch(/endToEnd\.hlog: raw output/);
    expect(problems.join('\n')).toMatch(/report\.html: raw output/);
    expect(problems.join('\n')).toMatch(/missing\/summary\.json: no such file/);
    expect(problems.join('\n')).toMatch(/outside\.md: points outside the repository/);
  });

  it('knows the raw output of a baseline from what is kept', () => {
    for (const p of [
      'results/baselines/x/timeline.json',
      'results/baselines/x/timeline.ndjson',
      'results/baselines/x/report.html',
      'results/baselines/p/flame/profile/a.html',
      'results/baselines/p/cpu-prof/profile/s.cpuprofile',
    ])
      expect(isRawBaselineOutput(p), p).toBe(true);
    for (const p of [
      'results/baselines/x/summary.json',
      'results/baselines/x/report.md',
      'results/baselines/x/compare.json',
      'results/baselines/bench.json',
      'results/run/timeline.json',
    ])
      expect(isRawBaselineOutput(p), p).toBe(false);
  });
});

function readFileSyncUtf8(page: string): string {
  return readFileSync(join(PACKAGE_ROOT, page), 'utf8');
}
