import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFolded, topFunctions } from '../../src/metrics/stack-samples.js';
import { cli } from '../helpers/cli.js';
import type { Page } from 'playwright-core';
import { hasChromium, launchChromium } from '../helpers/playwright.js';
import { runDir, scratch, summaryOf } from '../helpers/runs.js';
import { CLI } from '../helpers/server.js';
import { hasTool, run, start } from '../helpers/tools.js';
import { freePort, waitForPort } from '../../src/proc/port.js';

/** `--profile-server`: perf samples the server under test while the load runs; refusals before any load. */

const out = scratch('profile-server');
const isRoot = process.getuid?.() === 0;
const paranoid = Number(readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8'));
const hasPerf = hasTool('perf', 'apt-get install linux-perf');

/** The run report's flame graph, as d3-flame-graph drew it in the page. */
const FLAME_GRAPH = '#server-flame-graph svg.d3-flame-graph';

/** The names of the frames drawn (each frame a `g.frame` with its name as an attribute). */
function frameNames(page: Page): Promise<string[]> {
  return page.locator(`${FLAME_GRAPH} g.frame`).evaluateAll((gs) => gs.map((g) => g.getAttribute('name') ?? ''));
}

describe('refusals before any load starts (exit 2, the fix in the message)', () => {
  it('says perf is missing when it is not on PATH', async () => {
    const r = await cli(['run', '--players', '1', '--duration', '5s', '--out', out, '--profile-server'], 30_000, {
      PATH: out, // no perf in it (node is run by its full path)
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/perf is not installed.*apt-get install linux-perf/);
    expect(r.stdout).not.toMatch(/results:/);
  });

  it('asks for --server-pid when an external target has no known process', async () => {
    const r = await cli(
      ['run', '--target', 'rtmp://127.0.0.1:1/live', '--duration', '5s', '--out', out, '--profile-server'],
      30_000,
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/process is not known for rtmp:\/\/127\.0\.0\.1:1\/live: name it with --server-pid/);
  });

  // As an unprivileged user (runuser), never by changing the machine's settings.
  const runAsNobody = (args: string[]) =>
    run('runuser', ['-u', 'nobody', '--', process.execPath, CLI, 'run', ...args, '--out', '/tmp'], 30_000);
  it.skipIf(!isRoot || paranoid <= 1 || !hasPerf)(
    "refuses an unprivileged user the kernel setting's value and how to allow it, and another user's process",
    async () => {
      const r = await runAsNobody([
        '--target',
        'rtmp://127.0.0.1:1/live',
        '--server-pid',
        '1',
        '--duration',
        '5s',
        '--profile-server',
      ]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`kernel.perf_event_paranoid is ${paranoid}`);
      expect(r.stderr).toContain('sysctl kernel.perf_event_paranoid=1');
      expect(r.stderr).toMatch(/process 1 belongs to user 0, not to this user \(\d+\): perf may not trace it/);
    },
  );

  it.skipIf(!isRoot || !hasPerf)(
    'refuses --server-syscalls to an unprivileged user: the setting tracepoints need, and the tracing file system',
    async () => {
      const r = await runAsNobody(['--players', '1', '--duration', '5s', '--server-syscalls']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/perf cannot count the server's system calls \(--server-syscalls\)/);
      if (paranoid > -1) expect(r.stderr).toContain('sysctl kernel.perf_event_paranoid=-1');
      expect(r.stdout).not.toMatch(/results:/);
    },
  );
});

describe.skipIf(!hasPerf || (!isRoot && paranoid > 1))('a profile of the built-in server', () => {
  let dir = '';
  beforeAll(async () => {
    const r = await cli(
      [
        'run',
        '--players',
        '50',
        '--duration',
        '6s',
        '--warmup',
        '1s',
        '--out',
        out,
        '--profile-server',
        '--no-progress',
      ],
      120_000,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/server CPU profile: [\d,]+ samples/);
    dir = runDir(r.stdout);
    const rep = await cli(['report', dir], 60_000);
    expect(rep.code, rep.stderr).toBe(0);
  }, 200_000);

  it('folds the samples, names JavaScript frames of src/server/, and records the top functions', () => {
    const s = summaryOf(dir);
    expect(s.serverProfile).toMatchObject({ tool: 'perf', event: 'cpu-clock', frequencyHz: 499 });
    expect(s.serverProfile!.samples).toBeGreaterThan(50);
    expect(s.serverProfile!.top.length).toBeGreaterThan(5);
    const stacks = parseFolded(readFileSync(join(dir, 'server-profile.folded'), 'utf8'));
    const names = topFunctions(stacks, 10_000).map((f) => f.name);
    expect(names.some((n) => /^JS:\S+ src\/server\//.test(n))).toBe(true);
    const speedscope = JSON.parse(readFileSync(join(dir, 'server-profile.speedscope.json'), 'utf8'));
    expect(speedscope.profiles[0].type).toBe('sampled');
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toMatch(/\| function \| self % \| total % \|/);
  });

  describe.skipIf(!hasChromium())('in the HTML report', () => {
    let browser: Awaited<ReturnType<typeof launchChromium>>;
    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(async () => browser?.close());

    it('draws a flame graph whose frames carry the server’s JavaScript function names', async () => {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1200 } });
      await page.goto(`file://${join(dir, 'report.html')}`);
      const graph = page.locator(FLAME_GRAPH);
      const png = await graph.screenshot({ path: join(out, 'flame-graph.png') });
      expect(png.length).toBeGreaterThan(1000);
      const named = await frameNames(page);
      expect(named.some((n) => /^JS:\S+ src\/server\//.test(n))).toBe(true);
      // Labels drawn on the frames, not only in tooltips.
      expect(await graph.locator('.d3-flame-graph-label', { hasText: /src\/server\// }).count()).toBeGreaterThan(0);
      await page.close();
    });
  });
});

const hasNginx = hasTool('nginx', 'apt-get install nginx libnginx-mod-rtmp');

describe.skipIf(!hasPerf || !hasNginx || (!isRoot && paranoid > 1))('a comparison with nginx-rtmp', () => {
  let stdout = '';
  let nginxRun = '';
  let compareDir = '';
  beforeAll(async () => {
    const r = await cli(
      [
        'compare',
        '--servers',
        'builtin,nginx-rtmp',
        // Enough viewers that nginx-rtmp's few CPU-ms give a few hundred samples.
        '--players',
        '300',
        '--duration',
        '5s',
        '--warmup',
        '1s',
        '--out',
        out,
        '--profile-server',
        '--no-progress',
      ],
      180_000,
    );
    expect(r.code, r.stderr).toBe(0);
    stdout = r.stdout;
    const dir = /results: (\S+)/.exec(stdout)![1]!;
    compareDir = dir;
    const file = JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as {
      runs: { variant: string; dir: string }[];
    };
    nginxRun = join(dir, file.runs.find((x) => x.variant === 'nginx-rtmp')!.dir);
    const rep = await cli(['report', nginxRun], 60_000);
    expect(rep.code, rep.stderr).toBe(0);
  }, 240_000);

  it("says where nginx-rtmp's samples go against the built-in server's", () => {
    expect(stdout).toMatch(/server CPU profile, nginx-rtmp against builtin/);
    expect(stdout).toMatch(/baseline self %\s+candidate self %\s+difference \(points\)/);
    for (const report of ['report.md', 'report.html'])
      expect(readFileSync(join(compareDir, report), 'utf8')).toMatch(/nginx-rtmp against builtin/);
  });

  // Which of nginx's exported functions a few hundred samples land in varies with the machine's
  // load (stacks without frame pointers are a frame or two deep): ngx_rtmp_ ones most runs,
  // nginx's core ngx_ ones (ngx_unix_send...) always.
  it.skipIf(!hasChromium())("names nginx-rtmp's exported ngx_ functions in its flame graph", async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1200 } });
      await page.goto(`file://${join(nginxRun, 'report.html')}`);
      await page.locator(FLAME_GRAPH).screenshot({ path: join(out, 'nginx-flame-graph.png') });
      const named = await frameNames(page);
      expect(
        named.some((n) => n.startsWith('ngx_')),
        named.join(', '),
      ).toBe(true);
      // The comparison's differential graph: nginx-rtmp's frames, each with its delta against the
      // built-in server's share at the same stack (every nginx stack is its own: all of it is new).
      await page.goto(`file://${join(compareDir, 'report.html')}`);
      const diff = page.locator('#server-flame-graph-diff-0 svg.d3-flame-graph');
      await diff.screenshot({ path: join(out, 'nginx-differential-flame-graph.png') });
      const nginxRoot = await diff.locator('g.frame[name="nginx"] rect').getAttribute('fill');
      expect(nginxRoot).toBe('rgb(255,190,90)');
    } finally {
      await browser.close();
    }
  });
});

describe.skipIf(!hasPerf || (!isRoot && paranoid > 1))('rtmpbench profile --tool perf', () => {
  it('profiles a server it did not start, named by --server-pid', async () => {
    const port = await freePort();
    const server = start(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', String(port)]);
    try {
      await waitForPort(port, { timeoutMs: 15_000 });
      const r = await cli(
        [
          'profile',
          '--tool',
          'perf',
          '--target',
          `rtmp://127.0.0.1:${port}/live`,
          '--server-pid',
          String(server.child.pid),
          '--players',
          '20',
          '--duration',
          '5s',
          '--out',
          out,
          '--no-progress',
        ],
        120_000,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/profile: \S+server-profile\.speedscope\.json/);
      const s = summaryOf(runDir(r.stdout));
      expect(s.serverProfile!.pids).toEqual([server.child.pid]);
      expect(s.serverProfile!.samples).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
  }, 150_000);

  it('refuses an external target without --server-pid before any load', async () => {
    const r = await cli(['profile', '--tool', 'perf', '--target', 'rtmp://127.0.0.1:1/live', '--out', out], 30_000);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/name it with --server-pid/);
  });
});
