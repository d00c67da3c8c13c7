import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * One of rtmpbench's own modules, to run in another thread or process (the shard worker, the
 * CLI that serves the built-in server): the compiled `.js` beside the caller in an installed
 * package or a build, or the `.ts` source through tsx's loader when rtmpbench itself runs from
 * source (the test runner). No path into a build folder is wired in.
 */
export interface OwnModule {
  url: URL;
  path: string;
  /** Node flags the thread or process needs to load it. */
  execArgv: string[];
}

export function ownModule(callerUrl: string, relativeJs: string): OwnModule {
  const js = new URL(relativeJs, callerUrl);
  if (existsSync(fileURLToPath(js))) return { url: js, path: fileURLToPath(js), execArgv: [] };
  const ts = new URL(relativeJs.replace(/\.js$/, '.ts'), callerUrl);
  if (existsSync(fileURLToPath(ts))) return { url: ts, path: fileURLToPath(ts), execArgv: ['--import', 'tsx'] };
  throw new Error(`rtmpbench is incomplete: neither ${fileURLToPath(js)} nor its source exists`);
}
