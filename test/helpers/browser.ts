import { existsSync, readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { pathToFileURL } from 'node:url';
import { hasTool, run, type RunResult } from './tools.js';

/** Debian's chromium, headless: the page is loaded from disk with no network at all. */
export const CHROMIUM = 'chromium';

export function hasChromium(): boolean {
  return hasTool(CHROMIUM, 'apt-get install chromium');
}

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-extensions',
  '--no-first-run',
  '--no-default-browser-check',
  '--hide-scrollbars',
  '--enable-logging=stderr',
  '--v=0',
  // Let timers and animation frames run before the DOM is dumped or the screenshot taken.
  '--virtual-time-budget=8000',
];

function chromium(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return run(CHROMIUM, [...FLAGS, ...args], timeoutMs);
}

export interface PageCheck {
  /** The DOM after the page's scripts ran. */
  dom: string;
  /** Messages the page logged to the console, and uncaught errors. */
  consoleMessages: string[];
  body: Record<string, string>;
}

/** Opens a local HTML file and returns its DOM after scripts ran, with its console output. */
export async function openPage(file: string): Promise<PageCheck> {
  const r = await chromium(['--dump-dom', pathToFileURL(file).href]);
  if (r.code !== 0) throw new Error(`chromium exited with ${r.code}: ${r.stderr.slice(-2000)}`);
  const consoleMessages = r.stderr.split('\n').filter((l) => /CONSOLE|Uncaught/.test(l));
  const bodyTag = /<body([^>]*)>/.exec(r.stdout)?.[1] ?? '';
  const body: Record<string, string> = {};
  for (const m of bodyTag.matchAll(/([\w-]+)="([^"]*)"/g)) body[m[1]!] = m[2]!;
  return { dom: r.stdout, consoleMessages, body };
}

/** Takes a screenshot of a local HTML file; returns the decoded PNG. */
export async function screenshot(file: string, out: string, width = 1400, height = 2400): Promise<PNG> {
  const r = await chromium([`--window-size=${width},${height}`, `--screenshot=${out}`, pathToFileURL(file).href]);
  if (r.code !== 0 || !existsSync(out))
    throw new Error(`chromium did not write ${out} (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  return PNG.sync.read(readFileSync(out));
}

/** Pixels of the image close to a colour (#rrggbb). */
export function countColor(png: PNG, hex: string, tolerance = 40): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    if (
      Math.abs(png.data[i]! - r) < tolerance &&
      Math.abs(png.data[i + 1]! - g) < tolerance &&
      Math.abs(png.data[i + 2]! - b) < tolerance
    )
      n++;
  }
  return n;
}
