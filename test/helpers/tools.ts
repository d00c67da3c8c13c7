import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

import { run, type RunResult } from '../../bench/lib/proc.js';

export { run, testSourceArgs, type RunResult } from '../../bench/lib/proc.js';

/** ffmpeg publishing a media file to an RTMP URL in real time (-re), its streams copied, as a live encoder would. */
export function publishFile(path: string, url: string, timeoutMs = 60_000): Promise<RunResult> {
  return run(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-re', '-i', path, '-c', 'copy', '-f', 'flv', url],
    timeoutMs,
  );
}

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

/** Starts a long-running program; the returned stop() kills exactly that PID. */
export function start(
  cmd: string,
  args: string[],
): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
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
