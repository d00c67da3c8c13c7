import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Scenario } from './scenario.js';

/**
 * A share of a run spread over machines knows what it is: its summary's `share` says which
 * share of how many, of which run (an id every share has), of which scenario (a hash of the
 * resolved scenario), from which host and addresses, on what clock (its offset to the run's
 * reference, with the bound), and when it was meant to start and did. manifest.json, written
 * last, lists every file with its size and SHA-256, so `merge` can tell a whole folder from a
 * truncated or edited one.
 */

const MANIFEST_FILE = 'manifest.json';

/** A share's clock against the run's reference (the coordinator's host), µs. */
export interface ShareClockFigures {
  /** Reference monotonic − this host's, and its bound: what marks and schedules are corrected by. */
  monoOffsetUs: number;
  monoBoundUs: number;
  /** Reference wall clock − this host's, and its bound. */
  wallOffsetUs: number;
  wallBoundUs: number;
  driftPpm: number | null;
  minRttUs: number;
  exchanges: number;
  /** Whether marks were on the reference clock (false: --clock-correction off, each host's own). */
  corrected: boolean;
}

export interface ShareRecord {
  /** The run's id: given (--run-id) or the coordinator's; null for a share of neither. */
  runId: string | null;
  index: number;
  count: number;
  scenarioHash: string;
  host: string;
  addresses: string[];
  /** Present in a run with a coordinator: the clock figures at the run's end. */
  clock?: ShareClockFigures;
  /** The common start as this host's wall clock read it, and when its workers actually began. */
  plannedStart: string;
  actualStart: string;
  /** How late this share's latest worker began against the common start, ms, and the bound past which the share failed. */
  lateMs: number;
  maxLateMs: number;
  /** Viewer sessions this share planned (a partial merge says what fraction of the run's it holds). */
  playersPlanned: number;
}

/**
 * What shares of one run have in common: the resolved scenario less what belongs to one machine
 * (`serverPid`: the server process the share beside it watches and profiles; the others have none).
 */
function sharedScenario(s: Scenario): Omit<Scenario, 'serverPid'> {
  const { serverPid: _, ...rest } = s;
  return rest;
}

/** The resolved scenario's hash: shares of one run have the same. */
export function scenarioHash(s: Scenario): string {
  return createHash('sha256')
    .update(stableJson(sharedScenario(s)))
    .digest('hex');
}

/** JSON with keys in order at every level, so equal objects hash alike. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

interface ManifestEntry {
  path: string;
  bytes: number;
  sha256: string;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Lists every file of the folder (but the manifest) with its size and hash: call it last. */
export function writeManifest(dir: string): void {
  const files: ManifestEntry[] = filesUnder(dir)
    .filter((p) => relative(dir, p) !== MANIFEST_FILE)
    .sort()
    .map((p) => ({ path: relative(dir, p), bytes: statSync(p).size, sha256: sha256(p) }));
  writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify({ files }, null, 2)}\n`);
}

/** Whether a folder has a manifest (a share's does). */
export function hasManifest(dir: string): boolean {
  return existsSync(join(dir, MANIFEST_FILE));
}

/** What is wrong with a folder against its manifest (missing, truncated, edited files), or null. */
export function checkManifest(dir: string): string | null {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return `it has no ${MANIFEST_FILE} (a share that did not finish writing, or not a share)`;
  let files: ManifestEntry[];
  try {
    files = (JSON.parse(readFileSync(path, 'utf8')) as { files: ManifestEntry[] }).files;
    if (!Array.isArray(files)) throw new Error('no file list');
  } catch (e) {
    return `its ${MANIFEST_FILE} cannot be read (${(e as Error).message})`;
  }
  for (const f of files) {
    const p = join(dir, f.path);
    if (!existsSync(p)) return `${f.path} is missing`;
    const bytes = statSync(p).size;
    if (bytes !== f.bytes) return `${f.path} has ${bytes} bytes, its manifest says ${f.bytes} (truncated or edited)`;
    if (sha256(p) !== f.sha256) return `${f.path} does not match its manifest's hash (edited)`;
  }
  return null;
}
