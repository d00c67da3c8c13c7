import { readFileSync } from 'node:fs';

/** The package version, read from package.json (two levels above dist/src and src). */
function readVersion(): string {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'rtmpbench' && pkg.version) return pkg.version;
    } catch {
      // Try the next location.
    }
  }
  return '0.0.0';
}

export const VERSION = readVersion();
