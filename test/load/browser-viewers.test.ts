import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeRuns } from '../../src/lab/merge.js';
import { BrowserViewers } from '../../src/load/browser/browser-viewers.js';
import { runScenario } from '../../src/load/orchestrator.js';
import { resolveScenario } from '../../src/load/scenario.js';
import {
  decodeHistogram,
  mergeEncoded,
  newHistogram,
  type Histogram,
  type HistogramKey,
} from '../../src/metrics/histograms.js';
import { round2 } from '../../src/metrics/round.js';
import { startServer, type RunningServer } from '../../src/proc/servers.js';
import { loadRun } from '../../src/results/folder.js';
import { browserFigures } from '../../src/results/browser.js';
import type { BrowserGroupFigures } from '../../src/results/summary.js';
import { hasChromium } from '../helpers/browser.js';
import { makeClip, markedClip, shiftedMarksClip } from '../helpers/media-files.js';
import { hasNodeMediaServer, startNodeMediaServer, type Peer } from '../helpers/peers.js';
import { scratch } from '../helpers/runs.js';
import { hasTool, start } from '../helpers/tools.js';

/**
 * Real players as viewers: hls.js and mpegts.js in Debian's headless Chromium play what the
 * built-in server and node-media-server serve of a real clip, and read the timing marks of the
 * frames they render. The figures checked are counts and shares, never times.
 */

const ready = hasChromium() && hasTool('ffmpeg');

function scenario(input: Record<string, unknown>) {
  const r = resolveScenario({ name: 'browsers', workers: 1, ...input });
  if (r.scenario === null) throw new Error(r.problems.join('; '));
  return r.scenario;
}

/** What every group of a healthy run shows: it played, and each frame it showed carried the mark sent with it. */
function expectPlayedWithMarks(g: BrowserGroupFigures | undefined, minShare: number): void {
  expect(g?.errors).toBeUndefined();
  expect(g!.viewers).toBe(1);
  expect(g!.viewersPlaying).toBe(1);
  expect(g!.renderedFrames).toBeGreaterThan(50);
  expect(g!.markedShare).toBeGreaterThanOrEqual(minShare);
  expect(g!.marksOffTimeline).toBe(0);
  expect(g!.latencyP50Ms).toBeGreaterThan(0);
  expect(g!.decodedFrames).toBeGreaterThan(0);
  expect(g!.kbpsPerViewer).toBeGreaterThan(0);
  expect(g!.clockBoundUs).toBeGreaterThan(0);
}

describe('browser viewers in a scenario', () => {
  it('are refused with a synthetic source, whose frames no decoder can show', () => {
    const r = resolveScenario({ name: 'b', duration: '10s', browsers: [{ protocol: 'hls' }] });
    expect(r.problems.join('\n')).toMatch(/browsers: .*synthetic source.*--source clip\.flv/);
  });
});

describe.skipIf(!ready)('browser viewers (hls.js, mpegts.js in Chromium)', () => {
  const dir = scratch('browsers');
  let clip: string;
  beforeAll(async () => {
    clip = await makeClip(dir, 'browser-clip', { seconds: 30, fps: 25, gopSeconds: 1 });
  });

  it("play the built-in server's HLS, LL-HLS, HTTP-FLV and WS-FLV of a clip the generator publishes, reading the marks they render", async () => {
    const { summary } = await runScenario({
      scenario: scenario({
        target: 'builtin',
        // 200 ms parts: hls.js plays them in its lowLatencyMode (ll-hls), and the whole segments without it (hls).
        server: { hlsSegmentMs: 1000, hlsPartMs: 200, hlsOnDemand: false },
        streams: 1,
        publishers: { source: clip },
        players: { perStream: 1 },
        browsers: [{ protocol: 'hls' }, { protocol: 'll-hls' }, { protocol: 'http-flv' }, { protocol: 'ws-flv' }],
        duration: '14s',
        ramp: '1s',
        warmup: '2s',
      }),
      outDir: dir,
    });
    const b = summary.browser!;
    expect(Object.keys(b).sort()).toEqual(['hls', 'httpFlv', 'llHls', 'wsFlv']);
    expect([b.hls!.player, b.llHls!.player, b.httpFlv!.player]).toEqual(['hls.js', 'hls.js', 'mpegts.js']);
    expectPlayedWithMarks(b.hls, 0.95);
    expectPlayedWithMarks(b.llHls, 0.95);
    expect(b.llHls!.playerEstimateP50Ms).toBeGreaterThan(0);
    expect(b.llHls!.mediaRate).toBeGreaterThan(0);
    // mpegts.js drops the SEI it parses before its remuxer has a timestamp base (the GOP the
    // server sends at once on joining): those first frames render unmatched.
    expectPlayedWithMarks(b.httpFlv, 0.6);
    expectPlayedWithMarks(b.wsFlv, 0.6);
    expect(b.hls!.cpuCoresPerViewer).toBeGreaterThan(0);
    expect(b.hls!.pssBytesPerViewer).toBeGreaterThan(0);
  }, 90_000);

  describe.skipIf(!hasNodeMediaServer())("node-media-server's HTTP-FLV", () => {
    let nms: Peer;
    beforeAll(async () => {
      nms = await startNodeMediaServer();
    });
    afterAll(async () => {
      await nms?.stop();
    });

    it('plays in mpegts.js, each rendered frame read with its mark', async () => {
      const { summary } = await runScenario({
        scenario: scenario({
          target: `rtmp://127.0.0.1:${nms.rtmpPort}/live`,
          streams: 1,
          publishers: { source: clip },
          players: { perStream: 1 },
          browsers: [{ protocol: 'http-flv', url: `http://127.0.0.1:${nms.httpPort}/live/{stream}.flv` }],
          duration: '10s',
          ramp: '1s',
          warmup: '2s',
        }),
        outDir: dir,
      });
      expectPlayedWithMarks(summary.browser?.httpFlv, 0.6);
    }, 60_000);
  });

  describe('merged over the shares of a run', () => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await startServer('builtin', { http: {} });
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('gives the percentiles of the histograms the shares kept, added, and their counts summed', async () => {
      // Two streams over two shares: each share publishes one and opens the browser viewer of its own.
      const s = scenario({
        target: server.url,
        streams: 2,
        publishers: { source: clip },
        players: { perStream: 1 },
        browsers: [{ protocol: 'http-flv', url: server.playUrls['http-flv'] }],
        duration: '8s',
        ramp: '1s',
        warmup: '2s',
      });
      const shares = await Promise.all(
        [0, 1].map((index) =>
          runScenario({ scenario: s, share: { shardOf: { index, count: 2 }, runId: 'browsers' }, outDir: dir }),
        ),
      );
      const runs = shares.map((r) => loadRun(r.resultsDir));
      for (const r of runs) {
        // Each share's figures come from the files it kept, by the path a merge takes.
        const kept = r.counters!.browser!;
        expect(browserFigures(kept, mergeEncoded([r.histograms]))).toEqual(r.summary.browser);
        expect(kept.groups.httpFlv!.viewers).toBe(1);
        expect(kept.machines).toHaveLength(1);
        expectPlayedWithMarks(r.summary.browser?.httpFlv, 0.6);
      }
      const merged = mergeRuns(runs, join(dir, 'merged'));
      const m = merged.summary.browser!.httpFlv!;
      const added = (metric: string) => {
        const h = newHistogram();
        for (const r of runs) h.add(decodeHistogram(r.histograms[`browser.httpFlv.${metric}` as HistogramKey]!));
        return h;
      };
      const ms = (h: Histogram, p: number) => round2(h.getValueAtPercentile(p) / 1000);
      const latency = added('latency');
      const firstFrame = added('firstFrame');
      expect([m.latencyP50Ms, m.latencyP90Ms, m.latencyP99Ms, m.latencyMaxMs]).toEqual(
        [50, 90, 99, 100].map((p) => ms(latency, p)),
      );
      expect([m.firstFrameP50Ms, m.firstFrameMaxMs]).toEqual([ms(firstFrame, 50), ms(firstFrame, 100)]);
      expect(m.bufferP50Ms).toBe(ms(added('buffer'), 50));
      const [a, b] = runs.map((r) => r.counters!.browser!.groups.httpFlv!);
      expect(m.viewers).toBe(2);
      expect(m.viewersPlaying).toBe(2);
      expect(m.renderedFrames).toBe(a!.rendered + b!.rendered);
      expect(m.markedShare).toBe(Math.round(((a!.marked + b!.marked) / (a!.rendered + b!.rendered)) * 1e4) / 1e4);
      expect(m.clockBoundUs).toBe(Math.max(a!.clockBoundUs, b!.clockBoundUs));
      // The media clock's pace: media time over page time, each summed over the viewers.
      expect(a!.playedClockMs).toBeGreaterThan(0);
      expect(m.mediaRate).toBe(
        Math.round(((a!.playedMediaMs! + b!.playedMediaMs!) / (a!.playedClockMs! + b!.playedClockMs!)) * 1e4) / 1e4,
      );
      // Cost: each machine's CPU over the viewers' time, and memory over the viewers, added up.
      const machines = runs.flatMap((r) => r.counters!.browser!.machines);
      const sum = (f: (x: (typeof machines)[number]) => number) => machines.reduce((t, x) => t + f(x), 0);
      expect(m.cpuCoresPerViewer).toBe(
        Math.round((sum((x) => x.cpuSeconds) / sum((x) => x.viewerSeconds)) * 1e4) / 1e4,
      );
      expect(m.pssBytesPerViewer).toBe(Math.round(sum((x) => x.pssAboveBareBytes) / 2));
      // The merged folder keeps what a further merge needs: the histograms added, a cost per machine.
      const again = loadRun(merged.dir);
      expect(decodeHistogram(again.histograms['browser.httpFlv.latency']!).totalCount).toBe(latency.totalCount);
      expect(again.counters!.browser!.machines).toHaveLength(2);
    }, 60_000);
  });

  describe('marks read where they were sent', () => {
    let server: RunningServer;
    const publishers: ReturnType<typeof start>[] = [];
    beforeAll(async () => {
      server = await startServer('builtin', {
        http: { hlsFragmentS: 1 },
        builtinArgs: ['--hls-on-demand', 'off', '--hls-part-ms', '200'],
      });
      const files = {
        right: markedClip(clip).flv,
        // Every other second (25 frames), each frame carries the mark of the frame 3 later.
        moved: shiftedMarksClip(clip, 25, 3),
        // ffmpeg's own stream of the clip: no marks.
        plain: readFileSync(clip),
      };
      for (const [name, flv] of Object.entries(files)) {
        const path = join(dir, `${name}.flv`);
        writeFileSync(path, flv);
        publishers.push(
          start('ffmpeg', [
            '-loglevel',
            'error',
            '-re',
            '-i',
            path,
            '-c',
            'copy',
            '-f',
            'flv',
            `${server.url}/${name}`,
          ]),
        );
      }
    });
    afterAll(async () => {
      await Promise.all(publishers.map((p) => p.stop()));
      await server?.stop();
    });

    it("finds every mark of a true stream on its frames, the moved marks of another off them, and plays ffmpeg's LL-HLS", async () => {
      const viewers = await BrowserViewers.launch();
      let figures: Record<string, BrowserGroupFigures>;
      try {
        await new Promise((r) => setTimeout(r, 3000));
        for (const name of ['right', 'moved'])
          await viewers.add({ group: name, protocol: 'hls', url: server.playUrls.hls!.replace('{stream}', name) });
        await viewers.add({
          group: 'plain',
          protocol: 'll-hls',
          url: server.playUrls.hls!.replace('{stream}', 'plain'),
        });
        for (let i = 0; i < 8; i++) {
          await new Promise((r) => setTimeout(r, 1000));
          await viewers.tick();
        }
      } finally {
        const measured = await viewers.close();
        figures = browserFigures(measured.data, measured.histograms);
      }
      expect(figures.right!.viewersPlaying).toBe(1);
      expect(figures.right!.markedShare).toBeGreaterThanOrEqual(0.95);
      expect(figures.right!.marksOffTimeline).toBe(0);
      expect(figures.moved!.viewersPlaying).toBe(1);
      expect(figures.moved!.markedShare).toBeGreaterThanOrEqual(0.95);
      // ffmpeg's stream in hls.js's lowLatencyMode: played, no marks, hls.js's own estimate of its latency.
      expect(figures.plain!.viewersPlaying).toBe(1);
      expect(figures.plain!.renderedFrames).toBeGreaterThan(50);
      expect(figures.plain!.markedShare).toBe(0);
      expect(figures.plain!.playerEstimateP50Ms).toBeGreaterThan(0);
      // Every other second's frames show a mark three frames (120 ms) off their own time.
      expect(figures.moved!.marksOffTimeline).toBeGreaterThan(figures.moved!.renderedFrames / 4);
    }, 60_000);
  });
});
