import { describe, expect, it } from 'vitest';
import {
  foldedText,
  parseFolded,
  profileDifference,
  speedscopeFile,
  StackFolder,
  topFunctions,
} from '../../src/metrics/stack-samples.js';

/** Two samples of one stack and one of another, as `perf script` prints them. */
const SCRIPT = `node  4375  4950.651781:    2004008 cpu-clock: 
\t    7f4c1400611a JS:*takeBatches file:///home/u/rtmpbench/dist/src/server/live-stream.js:221:16+0x5a (/tmp/perf-4375.map)
\t         14cfd1c Builtins_JSEntry+0xdc (/usr/bin/node)
\t          2724a __libc_start_call_main+0x7a (/usr/lib/x86_64-linux-gnu/libc.so.6)

node  4375  4950.653781:    2004008 cpu-clock: 
\t    7f4c1400611b JS:~takeBatches file:///home/u/rtmpbench/dist/src/server/live-stream.js:221:16+0x10 (/tmp/perf-4375.map)
\t         14cfd1c Builtins_JSEntry+0xdc (/usr/bin/node)
\t          2724a __libc_start_call_main+0x7a (/usr/lib/x86_64-linux-gnu/libc.so.6)

nginx 900/901 4950.655781:    2004008 cpu-clock: 
\tffffffff8a1b2c3d tcp_sendmsg+0x1d ([kernel.kallsyms])
\t          41a2b3 [unknown] (/usr/sbin/nginx)
\t          52a2b3 ngx_rtmp_send_message+0x33 (/usr/lib/nginx/modules/ngx_rtmp_module.so)
`;

describe('StackFolder', () => {
  it('folds perf script samples into one root-first line per unique stack, whatever the read boundaries', () => {
    for (const cut of [1, 7, 64, SCRIPT.length]) {
      const folder = new StackFolder();
      for (let i = 0; i < SCRIPT.length; i += cut) folder.push(SCRIPT.slice(i, i + cut));
      const stacks = folder.finish();
      expect([...stacks.entries()]).toEqual([
        ['node;__libc_start_call_main;Builtins_JSEntry;JS:takeBatches src/server/live-stream.js:221:16', 2],
        ['nginx;ngx_rtmp_send_message;[unknown] nginx;tcp_sendmsg', 1],
      ]);
    }
  });

  it('writes the collapsed format and reads it back', () => {
    const folder = new StackFolder();
    folder.push(SCRIPT);
    const stacks = folder.finish();
    expect(parseFolded(foldedText(stacks))).toEqual(stacks);
    expect(foldedText(stacks).split('\n')[0]).toMatch(/ 2$/);
  });
});

describe('topFunctions', () => {
  it('counts self samples on the leaf and total samples once per stack, in % of all samples', () => {
    const stacks = parseFolded('p;a;b;a 2\np;a;c 1\np;c 1\n');
    const top = topFunctions(stacks);
    expect(top[0]).toEqual({ name: 'a', selfSamples: 2, totalSamples: 3, selfPercent: 50, totalPercent: 75 });
    expect(top.find((f) => f.name === 'c')).toMatchObject({ selfSamples: 2, totalPercent: 50 });
    expect(top.find((f) => f.name === 'b')).toMatchObject({ selfSamples: 0, totalSamples: 2 });
  });
});

describe('profileDifference', () => {
  it("lists where the candidate's self share grew or shrank most, in percentage points", () => {
    const baseline = parseFolded('p;main;write 50\np;main;parse 50\n');
    const candidate = parseFolded('p;main;write 80\np;main;parse 20\n');
    expect(profileDifference(baseline, candidate)).toEqual([
      { name: 'parse', baselinePercent: 50, candidatePercent: 20, differencePoints: -30 },
      { name: 'write', baselinePercent: 50, candidatePercent: 80, differencePoints: 30 },
    ]);
  });
});

describe('speedscopeFile', () => {
  it('holds one sampled profile whose weights sum to the samples and whose frames are shared', () => {
    const file = speedscopeFile(parseFolded('p;a;b 3\np;a 2\n'), 'x') as {
      shared: { frames: { name: string }[] };
      profiles: { type: string; samples: number[][]; weights: number[]; endValue: number }[];
    };
    expect(file.shared.frames.map((f) => f.name)).toEqual(['p', 'a', 'b']);
    expect(file.profiles[0]).toMatchObject({
      type: 'sampled',
      samples: [
        [0, 1, 2],
        [0, 1],
      ],
      weights: [3, 2],
      endValue: 5,
    });
  });
});
