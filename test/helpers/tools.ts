import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

const cache = new Map<string, boolean>();

/**
 * Whether an external program (ffmpeg, rtmpdump, nginx...) is installed. In CI (`CI` set)
 * a missing tool is an error, because `.ci/run` installs them: the tests must not quietly
 * skip there. Elsewhere the tests that need it are skipped with a note saying how to enable them.
 */
export function hasTool(name: string, installHint = `apt-get install ${name}`): boolean {
  let found = cache.get(name);
  if (found === undefined) {
    found = spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
    cache.set(name, found);
    if (!found) {
      if (process.env.CI) throw new Error(`${name} is required in CI but is not installed (${installHint})`);
      console.warn(`[skip] ${name} not found: tests that need it are skipped. Enable them with: ${installHint}`);
    }
  }
  return found;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion, killing it (by PID) if it outlives `timeoutMs`. */
export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Starts a long-running program; the returned stop() kills exactly that PID. */
export function start(cmd: string, args: string[]): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** ffmpeg arguments for a test source: H.264 (libx264) + AAC with a keyframe every `gopSeconds`. */
export function testSourceArgs(opts: { seconds: number; fps?: number; size?: string; gopSeconds?: number; videoKbps?: number }): string[] {
  const fps = opts.fps ?? 25;
  const gop = Math.round(fps * (opts.gopSeconds ?? 2));
  return [
    '-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', `testsrc=size=${opts.size ?? '320x240'}:rate=${fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(opts.seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
    ...(opts.videoKbps ? ['-b:v', `${opts.videoKbps}k`, '-maxrate', `${opts.videoKbps}k`, '-bufsize', `${opts.videoKbps * 2}k`] : []),
    '-c:a', 'aac', '-b:a', '64k',
  ];
}
