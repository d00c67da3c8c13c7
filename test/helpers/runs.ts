import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { RunSummary } from '../../src/results/summary.js';

/** A scratch folder for one test file's runs, removed after its tests. */
export function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `rtmpbench-${prefix}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a scenario file into `dir`; returns its path. */
export function scenarioFile(dir: string, name: string, text: string): string {
  const p = join(dir, `${name}.yaml`);
  writeFileSync(p, text);
  return p;
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The results folder a run printed. */
export const runDir = (stdout: string) => /results: (\S+)/.exec(stdout)![1]!;
export const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunSummary;
