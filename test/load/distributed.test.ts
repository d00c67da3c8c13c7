import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAccountingLog, accountShares } from '../../src/load/accounting-log.js';
import { planShards } from '../../src/load/plan.js';
import { freePort } from '../../src/proc/port.js';
import type { RunSummary } from '../../src/results/summary.js';
import { run, type RunResult } from '../helpers/tools.js';
import { CLI, startServerProcess, type ServerProcess } from '../helpers/server.js';
import { HOST_ADDRESS, makeMachines, namespacesUnavailable, type Machines } from '../../bench/lib/netns.js';
import { runDir, scenarioFile, scratch, summaryOf } from '../helpers/runs.js';
import { hasTool } from '../helpers/tools.js';

/**
 * A run spread over three "machines" on this one: each share a process in a network namespace
 * of its own with its own address, the server and the coordinator on the host. Share 1's
 * monotonic clock is two hours ahead (a time namespace), share 2's wall clock seven seconds
 * ahead (faketime, monotonic untouched): offsets put on from outside rtmpbench. One stream,
 * published by share 0; its viewers are dealt over all three shares, so share 0's are the
 * controls (same host as the publisher) and shares 1 and 2 watch across hosts.
 */

const MONO_AHEAD_S = 7200;
const WALL_AHEAD_S = 7;
/**
 * How far the cross-host viewers' median latency may sit from the controls' beyond the clocks'
 * stated bounds: every share's workers, the server and the coordinator share two cores, so a
 * frame's trip differs by when each process gets a core; the medians of a few hundred frames
 * each stay within a few ms of each other on this machine (a wrong offset would be hours or
 * seconds off).
 */
const SCHEDULING_MARGIN_MS = 5;

const unavailable = namespacesUnavailable();
if (unavailable !== null && process.env.CI) throw new Error(`the distributed test must run in CI: ${unavailable}`);
const faketime = unavailable === null && hasTool('faketime');
if (unavailable !== null) console.warn(`[skip] distributed run across namespaces: ${unavailable}`);

const out = scratch('distributed');

/** Cuts a file of the folder short (a copy that did not finish). */
function truncated(dir: string): string {
  const f = join(dir, 'histograms.json');
  writeFileSync(f, readFileSync(f).subarray(0, 100));
  return dir;
}

/** Changes one digit of the summary, keeping its length (an edit by hand). */
function edited(dir: string): string {
  const f = join(dir, 'summary.json');
  const text = readFileSync(f, 'utf8');
  const at = text.search(/"planned": \d/) + '"planned": '.length;
  writeFileSync(f, text.slice(0, at) + (text[at] === '9' ? '8' : '9') + text.slice(at + 1));
  return dir;
}

/**
 * Whether a share's viewers measured what the controls did: most frames they got are latency
 * samples (a viewer clock ahead of the publisher's makes every frame look sent before the viewer
 * began), none below zero (one behind makes them negative), and the median within the two
 * clocks' bounds and the scheduling margin of the controls'.
 */
function offsetCheck(control: RunSummary, s: RunSummary): boolean {
  const bound = (s.share!.clock!.monoBoundUs + control.share!.clock!.monoBoundUs) / 1000;
  const measured = s.latencyMs.endToEnd.count >= 0.5 * s.throughput.framesReceived && s.frames.latencyBelowZero === 0;
  return (
    measured && Math.abs(s.latencyMs.endToEnd.p50 - control.latencyMs.endToEnd.p50) <= bound + SCHEDULING_MARGIN_MS
  );
}

interface Trio {
  shares: RunSummary[];
  dirs: string[];
}

describe.skipIf(unavailable !== null || !faketime)(
  'a run spread over three machines with clocks hours and seconds apart',
  () => {
    let machines: Machines;
    let server: ServerProcess;
    const file = scenarioFile(
      out,
      'spread',
      [
        'name: spread',
        'streams: 1',
        'players:',
        '  perStream: 6',
        'duration: 6s',
        'publishers:',
        '  gop: 1s',
        'workers: 1',
        'thresholds:',
        '  - frames.lost == 0',
        '',
      ].join('\n'),
    );

    beforeAll(async () => {
      machines = makeMachines(3);
      server = await startServerProcess(['--host', HOST_ADDRESS, '--log-level', 'warn']);
    }, 30_000);
    afterAll(async () => {
      await server?.stop();
      machines?.remove();
    });

    /** The three shares with their clocks put off, joined at a coordinator on the host. */
    async function runTrio(tag: string, extra: string[] = []): Promise<Trio> {
      const port = await freePort();
      const coordinator = run(
        process.execPath,
        [CLI, 'coordinate', '--shares', '3', '--listen', `${HOST_ADDRESS}:${port}`, '--idle', '3s', '--run-id', tag],
        90_000,
      );
      await new Promise((r) => setTimeout(r, 500));
      const target = `rtmp://${HOST_ADDRESS}:${server.port}/live`;
      const args = (k: number) => [
        CLI,
        'run',
        file,
        '--target',
        target,
        '--shard',
        `${k}/3`,
        '--coordinator',
        `http://${HOST_ADDRESS}:${port}`,
        '--run-id',
        tag,
        '--out',
        join(out, tag),
        '--server-pid',
        String(server.pid),
        ...extra,
      ];
      const prefix: string[][] = [
        [...machines.exec(0), process.execPath],
        [
          ...machines.exec(1),
          'unshare',
          '--time',
          `--monotonic=${MONO_AHEAD_S}`,
          '--fork',
          '--kill-child',
          process.execPath,
        ],
        [...machines.exec(2), 'faketime', '-f', `+${WALL_AHEAD_S}s`, process.execPath],
      ];
      const env = { FAKETIME_DONT_FAKE_MONOTONIC: '1' };
      const results: RunResult[] = await Promise.all(
        prefix.map((p, k) => run(p[0]!, [...p.slice(1), ...args(k)], 90_000, k === 2 ? env : undefined)),
      );
      for (const [k, r] of results.entries()) expect(r.code, `share ${k}: ${r.stderr}`).toBe(0);
      const c = await coordinator;
      expect(c.code, c.stderr).toBe(0);
      const dirs = results.map((r) => runDir(r.stdout));
      return { shares: dirs.map(summaryOf), dirs };
    }

    let corrected: Trio;
    let uncorrected: Trio | null = null;
    const uncorrectedDirs = () => uncorrected!.dirs;
    beforeAll(async () => {
      corrected = await runTrio('corrected');
    }, 120_000);

    it("estimates each share's clock offset within the bound it states", () => {
      const [s0, s1, s2] = corrected.shares.map((s) => s.share!.clock!);
      // Reference (share 0's host) minus each share's clock: 0, −2 h on the monotonic clock, −7 s on the wall clock.
      expect(Math.abs(s0!.monoOffsetUs)).toBeLessThanOrEqual(s0!.monoBoundUs);
      expect(Math.abs(s1!.monoOffsetUs + MONO_AHEAD_S * 1e6)).toBeLessThanOrEqual(s1!.monoBoundUs);
      expect(Math.abs(s1!.wallOffsetUs)).toBeLessThanOrEqual(s1!.wallBoundUs + 1);
      expect(Math.abs(s2!.wallOffsetUs + WALL_AHEAD_S * 1e6)).toBeLessThanOrEqual(s2!.wallBoundUs + 1000);
      expect(Math.abs(s2!.monoOffsetUs)).toBeLessThanOrEqual(s2!.monoBoundUs);
      for (const c of [s0, s1, s2]) expect(c!.monoBoundUs).toBeLessThan(5000);
      // Every share began at the common start, within its bound.
      for (const s of corrected.shares) expect(s.share!.lateMs).toBeLessThanOrEqual(s.share!.maxLateMs);
    });

    it('drops, clamps or loses no cross-host latency: every frame received is a latency sample or was sent before its viewer began', () => {
      for (const s of corrected.shares) {
        expect(s.frames.latencyBelowZero, s.share!.host).toBe(0);
        expect(s.latencyMs.endToEnd.count + (s.frames.sentBeforeJoin ?? 0)).toBe(s.throughput.framesReceived);
        expect(s.throughput.framesReceived).toBeGreaterThan(0);
      }
    });

    it("gives the cross-host viewers the controls' latency, within the clocks' bounds and a scheduling margin", () => {
      const [control, ...across] = corrected.shares;
      for (const s of across)
        expect(
          offsetCheck(control!, s),
          JSON.stringify({ control: control!.latencyMs.endToEnd, s: s.latencyMs.endToEnd, clock: s.share!.clock }),
        ).toBe(true);
    });

    it('merges the shares with frame accounting done over all of them, as one process would', async () => {
      const m = await run(
        process.execPath,
        [CLI, 'merge', ...corrected.dirs, '--out', join(out, 'merged'), '--json'],
        60_000,
      );
      expect(m.code, m.stderr).toBe(0);
      const merged = JSON.parse(m.stdout) as RunSummary;
      expect(merged.sessions.players.planned).toBe(6);
      expect(merged.shares?.map((s) => s.index)).toEqual([0, 1, 2]);
      expect(merged.frames.expectedSource).toBe('send-logs');
      // received + lost == expected, over viewers whose publisher was on another share.
      expect(merged.throughput.framesReceived - (merged.frames.slowReceived ?? 0) + merged.frames.lost).toBe(
        merged.frames.expected,
      );
      // The same accounting over the same records, here in one process.
      const records = corrected.dirs.map((d) => readAccountingLog(d)!);
      const published = new Set(planShards(merged.scenario, 1, 'rtmp://127.0.0.1/app', 0).flatMap((t) => t.publish));
      const once = accountShares(records, published, merged.scenario.stallThresholdMs);
      expect(merged.frames.expected).toBe(once.added.expected);
      // Each share alone could not account for the viewers of a stream it did not publish.
      expect(corrected.shares[1]!.frames.expectedSource).toBe('none');
    });

    it('fails the offset check with the correction switched off: the share two hours ahead sees every frame as sent before it began', async () => {
      const off = await runTrio('uncorrected', ['--clock-correction', 'off']);
      uncorrected = off;
      const [control, ahead, wall] = off.shares;
      expect(ahead!.share!.clock!.corrected).toBe(false);
      expect(offsetCheck(control!, ahead!)).toBe(false);
      expect(ahead!.latencyMs.endToEnd.count).toBe(0);
      expect(ahead!.frames.sentBeforeJoin).toBe(ahead!.throughput.framesReceived);
      // The wall clock's offset never enters latency: marks are on monotonic clocks, the same on share 2's host.
      expect(offsetCheck(control!, wall!)).toBe(true);
    }, 120_000);

    it('refuses duplicate, foreign, missing, truncated and edited shares, each with its own message, writing nothing', async () => {
      const [d0, d1, d2] = corrected.dirs as [string, string, string];
      const copy = (dir: string, name: string) => {
        const to = join(out, 'tampered', name);
        cpSync(dir, to, { recursive: true });
        return to;
      };
      const mergeOut = join(out, 'refused');
      const merge = (dirs: string[], extra: string[] = []) =>
        run(process.execPath, [CLI, 'merge', ...dirs, '--out', mergeOut, ...extra], 60_000);
      const cases: [string, string[], RegExp][] = [
        ['a share given twice', [d0, d1, copy(d1, 'twice'), d2], /both share 1 of the run/],
        [
          'a share of another run',
          [d0, d1, uncorrectedDirs()[2]!],
          /is a share of run uncorrected, .* of run corrected/,
        ],
        ['a missing share', [d0, d1], /shares 2 of 3 are missing/],
        [
          'a truncated share',
          [d0, d1, truncated(copy(d2, 'truncated'))],
          /histograms\.json has \d+ bytes, its manifest says \d+ \(truncated or edited\)/,
        ],
        [
          'an edited share',
          [d0, d1, edited(copy(d2, 'edited'))],
          /summary\.json does not match its manifest's hash \(edited\)/,
        ],
        ['a folder that is not there', [d0, d1, join(out, 'nowhere')], /not a results folder/],
      ];
      for (const [what, dirs, message] of cases) {
        const r = await merge(dirs);
        expect(r.code, `${what}: ${r.stderr}`).toBe(2);
        expect(r.stderr, what).toMatch(message);
      }
      expect(existsSync(mergeOut), 'nothing written').toBe(false);
      // Part of the run, on request: it says which shares and what fraction of the viewers are missing.
      const partial = await merge([d0, d1], ['--allow-partial', '--json']);
      expect(partial.code, partial.stderr).toBe(0);
      const p = JSON.parse(partial.stdout) as RunSummary;
      expect(p.missingShares).toEqual({ indexes: [2], fractionOfPlayersPlanned: 0.3333 });
      expect(partial.stderr).toMatch(/shares 2 are missing: this is part of the run \(66\.7% of its planned viewers\)/);
    });
  },
);
