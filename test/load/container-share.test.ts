import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/proc/port.js';
import type { RunSummary } from '../../src/results/summary.js';
import { CLI, startServerProcess, type ServerProcess } from '../helpers/server.js';
import { runDir, scenarioFile, scratch, summaryOf } from '../helpers/runs.js';
import { run } from '../helpers/tools.js';

/**
 * One share of a two-share run inside the container image (Containerfile), the other share, its
 * coordinator and the built-in server on this host, over loopback (the container shares the
 * host's network). The image is RTMPBENCH_TEST_IMAGE (CI builds it: .ci/podman-image.sh), else
 * a local rtmpbench:ci.
 */

function testImage(): { image: string } | { skip: string } {
  const given = process.env.RTMPBENCH_TEST_IMAGE;
  if (given !== undefined && given !== '') return { image: given };
  if (process.env.CI) throw new Error('CI builds the image (.ci/podman-image.sh) and sets RTMPBENCH_TEST_IMAGE');
  const exists = spawnSync('podman', ['image', 'exists', 'rtmpbench:ci'], { stdio: 'ignore' });
  if (exists.error !== undefined) return { skip: 'podman is not installed' };
  if (exists.status !== 0) return { skip: 'no image rtmpbench:ci: build it with .ci/podman-image.sh' };
  return { image: 'rtmpbench:ci' };
}

const found = testImage();
if ('skip' in found) console.warn(`[skip] a share in a container: ${found.skip}`);

describe.skipIf('skip' in found)('a share run inside the container image', () => {
  const image = 'image' in found ? found.image : '';
  const out = scratch('container-share');
  const file = scenarioFile(
    out,
    'boxed',
    ['name: boxed', 'streams: 2', 'players:', '  perStream: 3', 'duration: 4s', 'workers: 1', ''].join('\n'),
  );
  let server: ServerProcess;
  const shares: RunSummary[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    server = await startServerProcess(['--host', '127.0.0.1', '--log-level', 'warn']);
    const port = await freePort();
    const target = `rtmp://127.0.0.1:${server.port}/live`;
    const common = ['--target', target, '--run-id', 'boxed-1', '--start-timeout', '60s', '--no-progress'];
    // Both shares write into one folder (a bind mount must exist before the container starts).
    mkdirSync(join(out, 'host'));
    const onHost = run(
      process.execPath,
      [CLI, 'run', file, '--shard', '0/2', '--coordinate', `127.0.0.1:${port}`, '--out', join(out, 'host'), ...common],
      120_000,
    );
    const inContainer = run(
      'podman',
      [
        'run',
        '--rm',
        '--network',
        'host',
        '--volume',
        `${dirname(file)}:/scenario:ro`,
        '--volume',
        `${join(out, 'host')}:/out`,
        image,
        'run',
        `/scenario/${basename(file)}`,
        '--shard',
        '1/2',
        '--coordinator',
        `http://127.0.0.1:${port}`,
        '--out',
        '/out',
        ...common,
      ],
      120_000,
    );
    const [h, c] = await Promise.all([onHost, inContainer]);
    expect([h.code, c.code], `the host's share: ${h.stderr}\nthe container's share: ${c.stderr}`).toEqual([0, 0]);
    dirs.push(runDir(h.stdout), runDir(c.stdout).replace(/^\/out/, join(out, 'host')));
    shares.push(...dirs.map(summaryOf));
  }, 150_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('joins the host share at its coordinator and starts with it', () => {
    expect(shares.map((s) => s.share!.index)).toEqual([0, 1]);
    for (const s of shares) {
      expect(s.share!.runId).toBe('boxed-1');
      expect(s.share!.lateMs).toBeLessThanOrEqual(s.share!.maxLateMs);
    }
    expect(shares[0]!.share!.scenarioHash).toBe(shares[1]!.share!.scenarioHash);
  });

  it('merges with the host share: sessions add up, no frame lost', async () => {
    const m = await run(process.execPath, [CLI, 'merge', ...dirs, '--out', join(out, 'merged'), '--json'], 60_000);
    expect(m.code, m.stderr).toBe(0);
    const merged = JSON.parse(m.stdout) as RunSummary;
    expect(merged.shares?.map((s) => s.index)).toEqual([0, 1]);
    expect(merged.sessions.players.planned).toBe(6);
    expect(merged.sessions.players.connected).toBe(
      shares[0]!.sessions.players.connected + shares[1]!.sessions.players.connected,
    );
    expect(merged.sessions.players.connected).toBe(6);
    expect(merged.frames.lost).toBe(0);
    expect(merged.throughput.framesReceived).toBeGreaterThan(0);
  });
});
