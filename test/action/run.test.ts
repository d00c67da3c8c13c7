import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/proc/port.js';
import type { ComparisonFile } from '../../src/results/comparison-file.js';
import { PACKAGE_ROOT } from '../../src/version.js';
import { run, type RunResult } from '../helpers/tools.js';
import { scratch } from '../helpers/runs.js';
import { CLI } from '../helpers/server.js';

/**
 * The GitHub Action's script (.github/action/run.sh) end to end, as the runner calls it: the
 * action's inputs in RTMPBENCH_* variables, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT and the workspace
 * set, rtmpbench taken from the action's own path (this checkout).
 */

const workspace = scratch('action');
const SCRIPT = join(PACKAGE_ROOT, '.github', 'action', 'run.sh');

interface ActionRun {
  result: RunResult;
  summary: string;
  outputs: Record<string, string>;
}

async function runAction(name: string, inputs: Record<string, string>): Promise<ActionRun> {
  const summaryFile = join(workspace, `${name}-summary.md`);
  const outputFile = join(workspace, `${name}-output`);
  writeFileSync(summaryFile, '');
  writeFileSync(outputFile, '');
  const env: NodeJS.ProcessEnv = {
    GITHUB_ACTION_PATH: PACKAGE_ROOT,
    GITHUB_WORKSPACE: workspace,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_OUTPUT: outputFile,
  };
  for (const [k, v] of Object.entries(inputs)) env[`RTMPBENCH_${k.toUpperCase()}`] = v;
  const result = await run('bash', [SCRIPT], 150_000, env);
  const outputs = Object.fromEntries(
    readFileSync(outputFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return { result, summary: readFileSync(summaryFile, 'utf8'), outputs };
}

describe("the GitHub Action's script", () => {
  let first: ActionRun;
  let second: ActionRun;

  beforeAll(async () => {
    writeFileSync(
      join(workspace, 'small.yaml'),
      'name: small\nduration: 4s\nplayers: { perStream: 4 }\nthresholds: ["sessions.players.connected >= 1"]\n',
    );
    const [a, b] = [await freePort(), await freePort()];
    const serve = (port: number) => `exec ${process.execPath} ${CLI} serve --port ${port} --log-level warn`;
    // Two builds of one server, interleaved and repeated.
    first = await runAction('first', {
      scenario: 'small.yaml',
      servers: `base rtmp://127.0.0.1:${a}/live ${serve(a)}\nhead rtmp://127.0.0.1:${b}/live ${serve(b)}\n`,
      baseline: 'base',
      gates: 'latency.endToEnd.p99 +200%\n\nserver.cpuPer1000PlayerMinutes +300%\n',
      repeat: '2',
      results: 'results-1',
    });
    // One build against the results saved by the first, with half the players: the planned
    // viewers are half the saved baseline's in every round, a certain failure of the rule.
    second = await runAction('second', {
      scenario: 'small.yaml',
      servers: `head rtmp://127.0.0.1:${b}/live ${serve(b)}`,
      baseline: 'base',
      against: join('results-1', first.outputs['results-dir']!.split('/').pop()!),
      gates: 'sessions.players.planned +10%',
      repeat: '2',
      args: '--players 2',
      results: 'results-2',
    });
  }, 300_000);

  it('runs the comparison, writes its Markdown to the job summary and sets its outputs', () => {
    expect(first.result.code, first.result.stderr).toBe(0);
    expect(first.outputs['exit-code'], first.summary).toBe('0');
    expect(first.outputs).toMatchObject({
      'exit-code': '0',
      'results-root': 'results-1',
      junit: 'results-1/junit.xml',
    });
    expect(first.outputs['results-dir']).toMatch(/^results-1\/.*-compare-small$/);
    expect(first.summary).toMatch(/^## rtmpbench compare "small"/);
    expect(first.summary).toContain('**Gates against base: all passed**');
    expect(first.summary).toMatch(/✅ passed: server\.cpuPer1000PlayerMinutes \+300%: head /);
    expect(readFileSync(join(workspace, 'results-1', 'junit.xml'), 'utf8')).toContain(
      '<testsuite name="gates: against base" tests="2" failures="0"',
    );
    const file = JSON.parse(
      readFileSync(join(workspace, first.outputs['results-dir']!, 'compare.json'), 'utf8'),
    ) as ComparisonFile;
    expect(file.runs.map((r) => `${r.round}:${r.variant}`)).toEqual(['0:base', '0:head', '1:head', '1:base']);
  });

  it('reports a failed gate in the summary, as an annotation and in its exit-code output, and still exits 0 for the upload step', () => {
    expect(second.result.code, second.result.stderr).toBe(0);
    expect(second.outputs['exit-code']).toBe('1');
    expect(second.summary).toContain('**Gates against base: 1 FAILED**');
    expect(second.summary).toMatch(/the baseline "base" was read from results saved earlier/);
    expect(second.result.stdout).toMatch(
      /^::error title=rtmpbench gate::sessions\.players\.planned \+10%: head 0\.50× base/m,
    );
  });
});
