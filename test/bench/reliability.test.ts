import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/version.js';
import { run } from '../helpers/tools.js';

const work = mkdtempSync(join(tmpdir(), 'rtmpbench-reliability-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The short version of `npm run bench:reliability` (the committed figure runs 100,000 viewer cycles). */
describe('bench:reliability, short', () => {
  it('passes every check after 800 viewer and 160 publisher cycles, and says so in its result', async () => {
    const out = join(work, 'reliability.json');
    const r = await run(
      process.execPath,
      [
        join(PACKAGE_ROOT, 'dist', 'bench', 'reliability.js'),
        '--viewers',
        '800',
        '--publishes',
        '160',
        '--waves',
        '2',
        '--concurrency',
        '8',
        '--out',
        out,
      ],
      90_000,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^reliability PASS: 800 viewer and 160 publisher cycles/);
    const result = JSON.parse(readFileSync(out, 'utf8')) as {
      passed: boolean;
      checks: { name: string; passed: boolean }[];
      waves: { cycles: number; failed: number }[];
    };
    expect(result.passed).toBe(true);
    expect(result.checks.map((c) => c.name)).toEqual([
      'rss',
      'descriptors',
      'connections',
      'registry',
      'healthy-viewer',
      'cycles',
      'leak',
    ]);
    expect(result.waves.reduce((a, w) => a + w.cycles, 0)).toBe(960);
  }, 100_000);
});
