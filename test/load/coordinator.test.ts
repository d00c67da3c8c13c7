import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator, CoordinatorClient, wallClockUs, type ShareJoin } from '../../src/load/coordinator.js';
import { monotonicUs } from '../../src/media/timing-mark.js';
import { cli } from '../helpers/cli.js';

/** The rendezvous and reference clock of a distributed run, over real loopback HTTP. */

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

async function coordinator(count: number, extra: { startAtWallMs?: number; leadMs?: number } = {}): Promise<string> {
  const c = new Coordinator({ runId: 'r1', count, leadMs: 500, ...extra });
  open.push(c);
  return `http://127.0.0.1:${await c.listen(0)}`;
}

const share = (index: number, count: number, over: Partial<ShareJoin> = {}): ShareJoin => ({
  runId: 'r1',
  index,
  count,
  scenarioHash: 'h'.repeat(64),
  host: `host${index}`,
  ...over,
});

function client(url: string): CoordinatorClient {
  const c = new CoordinatorClient(url);
  open.push(c);
  return c;
}

describe('the coordinator of a distributed run', () => {
  it('starts every share at one moment once all have joined, with a clock offset near zero on one host', async () => {
    const url = await coordinator(2);
    const a = client(url);
    const b = client(url);
    await a.join(share(0, 2));
    // One share alone does not start: the other is awaited (and a short wait says so).
    await expect(a.waitForStart(300)).rejects.toThrow(/only 1 of 2 shares joined/);
    await b.join(share(1, 2));
    const [sa, sb] = await Promise.all([a.waitForStart(5000), b.waitForStart(5000)]);
    expect(Math.abs(sa - sb)).toBeLessThanOrEqual(a.offset().boundUs + b.offset().boundUs + 1);
    expect(sa).toBeGreaterThan(monotonicUs());
    const o = a.offset();
    // One host, one clock: the true offset is 0, within the bound.
    expect(Math.abs(o.offsetUs)).toBeLessThanOrEqual(o.boundUs);
    expect(Math.abs(a.figures().wallOffsetUs)).toBeLessThanOrEqual(a.figures().wallBoundUs + 1);
  });

  it('refuses a share of another run, another scenario, or an index taken by another host', async () => {
    const url = await coordinator(2);
    await client(url).join(share(0, 2));
    await expect(client(url).join(share(1, 2, { runId: 'r2' }))).rejects.toThrow(
      /share of run r2, not of this run \(r1\)/,
    );
    await expect(client(url).join(share(1, 2, { scenarioHash: 'x'.repeat(64) }))).rejects.toThrow(
      /runs another scenario/,
    );
    await expect(client(url).join(share(0, 2, { host: 'elsewhere' }))).rejects.toThrow(
      /share 0 has joined already from host0/,
    );
    await expect(client(url).join(share(2, 3))).rejects.toThrow(/does not fit a run of 2 shares/);
  });

  it('fails a start that passed before every share joined, instead of starting stale', async () => {
    const url = await coordinator(2, { startAtWallMs: wallClockUs() / 1000 + 200 });
    const a = client(url);
    await a.join(share(0, 2));
    await new Promise((r) => setTimeout(r, 400));
    await client(url).join(share(1, 2));
    await expect(a.waitForStart(2000)).rejects.toThrow(
      /the start \(--start-at\) passed .* before the last of 2 shares joined/,
    );
  });

  it('lets a share that starts before its coordinator wait for it to come up', async () => {
    const free = new Coordinator({ runId: 'r1', count: 1 });
    const port = await free.listen(0);
    await free.close();
    const late = new Coordinator({ runId: 'r1', count: 1, leadMs: 200 });
    open.push(late);
    const up = new Promise((r) => setTimeout(r, 700)).then(() => late.listen(port));
    const joined = client(`http://127.0.0.1:${port}`).join(share(0, 1), 5000);
    await expect(joined).resolves.toBe('r1');
    await up;
  });

  it('says so when the coordinator cannot be reached', async () => {
    await expect(client('http://127.0.0.1:9').join(share(0, 1))).rejects.toThrow(/cannot reach the coordinator/);
  });

  it('refuses a start in the past, or one it cannot read, before anything starts', async () => {
    for (const args of [
      ['coordinate', '--shares', '2', '--start-at', '2020-01-01T00:00:00Z'],
      ['run', 'quickstart', '--shard', '0/2', '--coordinate', '127.0.0.1:0', '--start-at', '2020-01-01T00:00:00Z'],
    ]) {
      const r = await cli(args, 20_000);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--start-at: 2020-01-01T00:00:00\.000Z is in the past/);
    }
    const bad = await cli(['coordinate', '--shares', '2', '--start-at', 'tomorrow'], 20_000);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--start-at: "tomorrow" is not an ISO time with its zone/);
    const alone = await cli(['run', 'quickstart', '--coordinator', 'http://127.0.0.1:9'], 20_000);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/--coordinator: a share's flags, given with --shard I\/N/);
  });
});
