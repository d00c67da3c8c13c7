import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/version.js';
import { scratch } from '../helpers/runs.js';
import { run, type RunResult } from '../helpers/tools.js';

/**
 * The published package: `npm pack` of this tree (as built), installed from the tarball into an
 * empty folder (its dependencies from npm's cache, or the registry when the cache lacks them),
 * and `npx rtmpbench` run from there: a run, then a report of its folder.
 */

const dir = scratch('pack');
const npm = (args: string[], cwd: string, timeoutMs = 120_000): Promise<RunResult> =>
  run(
    'npm',
    args,
    timeoutMs,
    { npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
    cwd,
  );

describe('the npm package', () => {
  let files: string[] = [];
  let app = '';
  let install: RunResult;

  beforeAll(async () => {
    // The tree is built (npm test builds it first): packing runs no script.
    const packed = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], PACKAGE_ROOT);
    expect(packed.code, packed.stderr).toBe(0);
    const info = (JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[])[0]!;
    files = info.files.map((f) => f.path);
    app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{ "name": "app", "private": true }\n');
    install = await npm(['install', '--prefer-offline', join(dir, info.filename)], app, 170_000);
  }, 200_000);

  it('ships the built code, the scenarios and the Grafana dashboard, and no sources or tests', () => {
    for (const f of [
      'package.json',
      'README.md',
      'dist/src/cli/main.js',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/load/shard/worker.js',
      'scenarios/quickstart.yaml',
      'scenarios/scenario.schema.json',
      'dashboards/grafana.json',
    ])
      expect(files, f).toContain(f);
    expect(
      files.filter((f) => /^(src|test|bench|results)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts'))),
    ).toEqual([]);
  });

  it('installs from the tarball into an empty folder, and npx rtmpbench runs and reports from there', async () => {
    expect(install.code, install.stderr).toBe(0);
    const r = await run(
      'npx',
      ['--no', 'rtmpbench', 'run', '--duration', '5s', '--no-progress'],
      90_000,
      undefined,
      app,
    );
    expect(r.code, r.stderr).toBe(0);
    const results = /results: (\S+)/.exec(r.stdout)![1]!;
    expect(existsSync(join(app, results, 'summary.json'))).toBe(true);
    const report = await run('npx', ['--no', 'rtmpbench', 'report', results], 60_000, undefined, app);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toContain('rtmpbench run "quickstart"');
    expect(existsSync(join(app, results, 'report.html'))).toBe(true);
  }, 150_000);
});
