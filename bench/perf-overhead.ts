/**
 * What watching a server with perf costs it, as cost per event (the figure to multiply by a run's
 * events): a child process does a fixed amount of work, alone and with perf attached, in
 * interleaved rounds; the difference in its CPU time over the events perf handled is the cost of
 * one event.
 *
 * - `--server-syscalls`: `perf stat` counting rtmpbench's syscall tracepoints; the child makes
 *   N write() calls of 100 bytes to /dev/null. Cost per system call.
 * - `--profile-server`: `perf record -e cpu-clock -F 499 -g`; the child computes (no system
 *   calls). Cost per sample, in the child; and perf's own CPU per second (it drains the samples
 *   on the same machine).
 * - The /proc breakdown (server.cost): the generator reads the server's /proc files; nothing
 *   runs in the server. Its cost to the generator per read.
 *
 *   node dist/bench/perf-overhead.js [--rounds 7] [--out results/baselines/perf-overhead/bench.json]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mean, pairedRatio, stdev } from '../src/metrics/stats.js';
import { syscallEvents } from '../src/metrics/syscall-counts.js';
import { CostMonitor } from '../src/metrics/process-cost.js';
import { hasSyscallTracepoint, PERF_EVENT, PERF_FREQUENCY_HZ } from '../src/proc/perf.js';
import { argValue, environment, formatTable, writeResult } from './lib/env.js';

const rounds = Number(argValue('rounds') ?? 7);
const WRITES = 400_000;
/** Outer loops of the compute child: about 2 s of one core here. */
const COMPUTE_LOOPS = 4000;

/** The child: waits for a line on stdin, does its work, prints its CPU µs (user + system) and exits. */
const CHILD = {
  writes: `const fs=require('fs');const fd=fs.openSync('/dev/null','w');const b=Buffer.alloc(100);
process.stdin.once('data',()=>{const c0=process.cpuUsage();for(let i=0;i<${WRITES};i++)fs.writeSync(fd,b);
const c=process.cpuUsage(c0);console.log(c.user+c.system);process.exit(0)});`,
  compute: `process.stdin.once('data',()=>{const c0=process.cpuUsage();let x=0;
for(let j=0;j<${COMPUTE_LOOPS};j++){for(let i=0;i<1e5;i++)x+=Math.sqrt(i*x+1)%7}
const c=process.cpuUsage(c0);console.log(JSON.stringify({cpuUs:c.user+c.system,x}));process.exit(0)});`,
};

interface Round {
  childCpuUs: number;
  /** perf's own CPU (user + system µs), when attached. */
  perfCpuUs: number | null;
  /** Events perf counted or samples it took. */
  events: number | null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** One round: the child alone (perfArgs null) or with `perf ...perfArgs -p PID` attached. */
async function round(kind: keyof typeof CHILD, perfArgs: string[] | null): Promise<Round> {
  const child = spawn(process.execPath, ['-e', CHILD[kind]], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<void>((r) => child.on('exit', () => r()));
  let perf: ReturnType<typeof spawn> | null = null;
  let perfOut = '';
  if (perfArgs !== null) {
    // `sh -c 'perf ...; times'`: the shell's children's CPU is perf's.
    perf = spawn('sh', ['-c', `perf ${perfArgs.join(' ')} -p ${child.pid} 2>&1; times`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    perf.stdout!.on('data', (d: Buffer) => (perfOut += d.toString()));
    await sleep(700); // perf attached
  } else await sleep(700);
  child.stdin.write('go\n');
  await done;
  let perfCpuUs: number | null = null;
  let events: number | null = null;
  if (perf !== null) {
    await new Promise<void>((r) => perf!.on('exit', () => r()));
    // `times`: the shell's own times, then its children's: "0m0.000s 0m0.001s\n0m1.234s 0m0.567s".
    const t = [...perfOut.matchAll(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/g)].at(-1);
    if (t !== undefined) perfCpuUs = (Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4])) * 1e6;
    if (perfArgs![0] === 'stat') {
      const total = /^(\d+),,raw_syscalls:sys_enter/m.exec(perfOut);
      events = total ? Number(total[1]) : null;
    } else {
      const s = /\(\s*(\d+) samples\)/.exec(perfOut);
      events = s ? Number(s[1]) : null;
    }
  }
  const line = out.trim();
  const childCpuUs = line.startsWith('{') ? (JSON.parse(line) as { cpuUs: number }).cpuUs : Number(line);
  return { childCpuUs, perfCpuUs, events };
}

const statArgs = ['stat', '-x,', '-e', syscallEvents(hasSyscallTracepoint).join(',')];
const work = mkdtempSync(join(tmpdir(), 'rtmpbench-perf-overhead-'));
const recordArgs = ['record', '-e', PERF_EVENT, '-F', String(PERF_FREQUENCY_HZ), '-g', '-o', join(work, 'perf.data')];

async function compare(kind: keyof typeof CHILD, args: string[]) {
  const alone: number[] = [];
  const watched: Round[] = [];
  for (let i = 0; i < rounds; i++) {
    // Interleaved, the order flipped each round (A B, B A, ...).
    const pair = i % 2 === 0 ? [null, args] : [args, null];
    for (const a of pair) {
      const r = await round(kind, a);
      if (a === null) alone.push(r.childCpuUs);
      else watched.push(r);
    }
  }
  return { alone, watched };
}

const env = environment();
const tp = await compare('writes', statArgs);
const perCall = tp.watched.map((w, i) => (w.childCpuUs - tp.alone[i]!) / (w.events ?? WRITES));
const rec = await compare('compute', recordArgs);
const perSample = rec.watched.map((w, i) => (w.childCpuUs - rec.alone[i]!) / (w.events ?? 1));
const seconds = rec.watched.map((w) => w.childCpuUs / 1e6);
const perfCpuPerSec = rec.watched.map((w, i) => (w.perfCpuUs ?? 0) / seconds[i]!);
const samplesPerSec = rec.watched.map((w, i) => (w.events ?? 0) / seconds[i]!);

// The /proc breakdown: reads by the generator of a process with threads (this one).
const m = new CostMonitor(process.pid);
m.start();
const t0 = process.hrtime.bigint();
for (let i = 0; i < 1000; i++) m.current();
const perReadUs = Number(process.hrtime.bigint() - t0) / 1000 / 1000;

const ratio = pairedRatio(
  tp.watched.map((w) => w.childCpuUs),
  tp.alone,
);
const result = {
  environment: env,
  rounds,
  syscallCounting: {
    writes: WRITES,
    childCpuUsAlone: tp.alone,
    childCpuUsCounted: tp.watched.map((w) => w.childCpuUs),
    eventsCounted: tp.watched.map((w) => w.events),
    costPerSyscallNs: {
      mean: mean(perCall) * 1000,
      stdev: stdev(perCall) * 1000,
      values: perCall.map((x) => x * 1000),
    },
    cpuRatio: ratio,
  },
  profiling: {
    frequencyHz: PERF_FREQUENCY_HZ,
    childCpuUsAlone: rec.alone,
    childCpuUsSampled: rec.watched.map((w) => w.childCpuUs),
    samples: rec.watched.map((w) => w.events),
    costPerSampleUs: { mean: mean(perSample), stdev: stdev(perSample), values: perSample },
    cpuRatio: pairedRatio(
      rec.watched.map((w) => w.childCpuUs),
      rec.alone,
    ),
    samplesPerSecond: samplesPerSec,
    perfCpuPercentOfOneCore: perfCpuPerSec.map((us) => us / 1e4),
  },
  procBreakdown: { perReadMs: perReadUs / 1000 },
};
console.log(
  formatTable([
    {
      watch: '--server-syscalls (perf stat, tracepoints)',
      'per event': `${result.syscallCounting.costPerSyscallNs.mean.toFixed(0)} ± ${result.syscallCounting.costPerSyscallNs.stdev.toFixed(0)} ns per system call`,
      'child CPU ratio':
        ratio === null ? '-' : `${ratio.estimate.toFixed(3)}× [${ratio.low.toFixed(3)}–${ratio.high.toFixed(3)}]`,
    },
    {
      watch: `--profile-server (perf record ${PERF_FREQUENCY_HZ} Hz -g)`,
      'per event': `${mean(perSample).toFixed(1)} ± ${stdev(perSample).toFixed(1)} µs per sample (${mean(samplesPerSec).toFixed(0)} samples/s); perf itself ${mean(result.profiling.perfCpuPercentOfOneCore).toFixed(2)}% of a core`,
      'child CPU ratio':
        result.profiling.cpuRatio === null
          ? '-'
          : `${result.profiling.cpuRatio.estimate.toFixed(3)}× [${result.profiling.cpuRatio.low.toFixed(3)}–${result.profiling.cpuRatio.high.toFixed(3)}]`,
    },
    {
      watch: 'server.cost (/proc reads)',
      'per event': `${result.procBreakdown.perReadMs.toFixed(2)} ms per read, in the generator`,
      'child CPU ratio': '-',
    },
  ]),
);
rmSync(work, { recursive: true, force: true });
const out = argValue('out');
if (out !== undefined) console.log(`written: ${writeResult('perf-overhead', result, out)}`);
