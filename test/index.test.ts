import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/version.js';
import { run } from './helpers/tools.js';

/**
 * The package as its users import it: by name, through package.json's exports (the built
 * files), in a process of its own.
 */
const script = `
import * as api from 'rtmpbench';
import { RtmpServer, resolveServerConfig, resolveScenario, runScenario, loadRun, formatSummary } from 'rtmpbench';
const server = new RtmpServer(resolveServerConfig({ port: 0, logLevel: 'error' }));
const { port } = await server.listen();
const { scenario, problems } = resolveScenario({ name: 'api', target: 'rtmp://127.0.0.1:' + port + '/live', players: { perStream: 3 }, duration: '2s', workers: 1 });
if (scenario === null) throw new Error(problems.join('; '));
const out = await runScenario({ scenario, outDir: process.argv[1] });
const loaded = loadRun(out.resultsDir);
await server.close(100);
console.log(JSON.stringify({ exports: Object.keys(api).sort(), players: out.summary.sessions.players, frames: loaded.summary.throughput.framesReceived, text: formatSummary(out.summary, out.resultsDir).split('\\n')[0] }));
`;

describe('the package', () => {
  it('is imported by its name and runs a scenario against a server it started itself', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const out = mkdtempSync(join(tmpdir(), 'rtmpbench-api-'));
    try {
      const r = await run(process.execPath, ['--input-type=module', '-e', script, out], 60_000, undefined, PACKAGE_ROOT);
      expect(r.code, r.stderr).toBe(0);
      const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { exports: string[]; players: { connected: number }; frames: number; text: string };
      for (const name of ['runScenario', 'resolveScenario', 'RtmpServer', 'Publisher', 'Player', 'runComparison', 'mergeRuns', 'runMarkdown', 'runHtml', 'comparisonHtml', 'loadRun', 'ChunkReader', 'BufferPool', 'evaluateGates', 'parseGateRule', 'runJunit', 'LiveRun', 'MetricsEndpoint', 'Dashboard']) {
        expect(res.exports).toContain(name);
      }
      expect(res.players.connected).toBe(3);
      expect(res.frames).toBeGreaterThan(0);
      expect(res.text).toContain('rtmpbench run "api"');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
