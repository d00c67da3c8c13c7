import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion, killing it (by PID) if it outlives `timeoutMs`. */
export function run(cmd: string, args: string[], timeoutMs = 60_000, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
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

/** ffmpeg arguments for a test source: H.264 (libx264) + AAC with a keyframe every `gopSeconds`. */
export function testSourceArgs(opts: {
  seconds: number;
  fps?: number;
  size?: string;
  gopSeconds?: number;
  videoKbps?: number;
  /** Moving noise over testsrc2, so the encoder really spends the bitrate it is given. */
  noisy?: boolean;
}): string[] {
  const fps = opts.fps ?? 25;
  const gop = Math.round(fps * (opts.gopSeconds ?? 2));
  return [
    '-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', `${opts.noisy ? 'testsrc2' : 'testsrc'}=size=${opts.size ?? '320x240'}:rate=${fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(opts.seconds),
    ...(opts.noisy ? ['-vf', 'noise=alls=12:allf=t'] : []),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
    ...(opts.videoKbps ? ['-b:v', `${opts.videoKbps}k`, '-maxrate', `${opts.videoKbps}k`, '-bufsize', `${opts.videoKbps * 2}k`] : []),
    '-c:a', 'aac', '-b:a', '64k',
  ];
}
