import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UsageError } from '../../input/usage-error.js';

/**
 * Chromium for browser viewers: the system's (Debian's `chromium`, never a downloaded one),
 * started through playwright-core, which is an optional dependency loaded only when a run has
 * browser viewers (a CLI without it runs everything else, and refuses browser viewers with the
 * reason). The browser runs as a server process of its own, in a process group of its own, so
 * its CPU and memory (every renderer, GPU and utility process) are measured apart.
 */

/** Browser viewers cannot run here: what is missing and how to get it (the CLI exits 2). */
export class BrowserUnavailable extends UsageError {}

export interface BrowserKit {
  /** The browser's process group (its main process's pid). */
  pid: number;
  newContext(): Promise<unknown>;
  close(): Promise<void>;
}

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--autoplay-policy=no-user-gesture-required',
  // Every page plays as a visible one: no timer or rendering throttling of background pages.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  // The page comes from rtmpbench on the stream's own origin; Chromium's checks on pages reaching
  // loopback or private addresses (a public site's page reaching into a LAN) would refuse its
  // WebSocket to the server under test, which runs on loopback here and not in a viewer's world.
  '--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests',
];

/** The chromium executable on the PATH (or the one named), or null. */
function findChromium(named?: string): string | null {
  const candidates = named !== undefined ? [named] : ['chromium', 'chromium-browser'];
  for (const c of candidates) {
    const paths = c.includes('/') ? [c] : (process.env.PATH ?? '').split(delimiter).map((d) => join(d, c));
    for (const p of paths) {
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        // not here
      }
    }
  }
  return null;
}

interface PlaywrightChromium {
  launchServer(o: { executablePath: string; args: string[]; headless: boolean }): Promise<{
    process(): { pid?: number };
    wsEndpoint(): string;
    close(): Promise<void>;
  }>;
  connect(ws: string): Promise<{ newContext(): Promise<unknown>; close(): Promise<void> }>;
}

/** Whether browser viewers can run here: null when they can, else the reason. */
export async function browserViewersMissing(executable?: string): Promise<string | null> {
  if (findChromium(executable) === null)
    return `browser viewers need Chromium: ${executable ?? 'chromium'} is not on the PATH (apt-get install chromium)`;
  try {
    await import('playwright-core');
  } catch {
    return 'browser viewers need the npm package playwright-core (npm install playwright-core)';
  }
  return null;
}

export async function loadBrowserKit(executable?: string): Promise<BrowserKit> {
  const missing = await browserViewersMissing(executable);
  if (missing !== null) throw new BrowserUnavailable(missing);
  const { chromium } = (await import('playwright-core')) as unknown as { chromium: PlaywrightChromium };
  const server = await chromium.launchServer({
    executablePath: findChromium(executable)!,
    args: FLAGS,
    headless: true,
  });
  const pid = server.process().pid;
  if (pid === undefined) {
    await server.close();
    throw new Error('chromium started without a process id');
  }
  try {
    const browser = await chromium.connect(server.wsEndpoint());
    return {
      pid,
      newContext: () => browser.newContext(),
      close: async () => {
        await browser.close().catch(() => undefined);
        await server.close();
      },
    };
  } catch (e) {
    await server.close();
    throw e;
  }
}
