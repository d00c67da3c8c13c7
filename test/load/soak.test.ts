import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serverAvailability, startServer } from '../../src/proc/servers.js';
import type { RunSummary } from '../../src/results/summary.js';
import { readTimeline } from '../../src/results/folder.js';
import { cli } from '../helpers/cli.js';
import { runDir, scratch, summaryOf } from '../helpers/runs.js';

const out = scratch('soak');

describe('the soak scenario', () => {
  const nginx = serverAvailability('nginx-rtmp').available;
  it.skipIf(!nginx)(
    'judges nginx-rtmp free of leaks in a minute, with the samples, the churn and the hooks it asked for',
    async () => {
      const server = await startServer('nginx-rtmp');
      // A hook the server "offers": answers with how often it was called.
      let calls = 0;
      const hookServer = http.createServer((_req, res) => res.end(`call ${++calls}\n`));
      await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', () => r()));
      const hook = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/check`;
      try {
        const file = join(out, 'soak-hooks.yaml');
        const { writeFileSync } = await import('node:fs');
        writeFileSync(
          file,
          readFileSync(join(import.meta.dirname, '../../scenarios/soak.yaml'), 'utf8').replace(
            'thresholds:',
            `hooks: { before: "${hook}", after: "${hook}" }\nthresholds:`,
          ),
        );
        const r = await cli(
          [
            'run',
            file,
            '--waves-count',
            '4',
            '--target',
            server.url,
            '--server-pid',
            String(server.pid),
            '--out',
            out,
            '--no-progress',
          ],
          150_000,
        );
        const dir = runDir(r.stdout);
        const s: RunSummary = summaryOf(dir);
        expect(s.server?.leak?.verdict, JSON.stringify(s.server?.leak)).toBe('no-leak');
        // The generator's own memory is judged by the same rule, over the same plateau.
        expect(s.generator.leak?.plateau.sessionsEnded, JSON.stringify(s.generator.leak)).toBeGreaterThan(300);
        expect(s.generator.leak?.bytesPerSession).not.toBeNull();
        // The run ran (a frame nginx-rtmp dropped for a player that fell behind, on a busy machine, may fail a threshold: exit 1).
        expect([0, 1], r.stderr).toContain(r.code);
        // Publications came and went, viewers came in waves and churned, and followed the stream.
        expect(s.sessions.publishers.planned).toBeGreaterThan(4);
        expect(s.latencyMs.resume.count).toBeGreaterThan(0);
        const t = readTimeline(dir);
        expect(t.every((p) => typeof p.sessionsEnded === 'number')).toBe(true);
        expect(t.at(-2)!.sessionsEnded).toBeGreaterThan(300);
        expect(t.some((p) => typeof p.serverFds === 'number' && p.serverFds > 0)).toBe(true);
        // The hooks were called before and after, their answers kept.
        expect(calls).toBe(2);
        expect(s.hooks?.before).toMatchObject({ url: hook, status: 200 });
        expect(readFileSync(join(dir, 'hooks', 'after.txt'), 'utf8')).toBe('call 2\n');
      } finally {
        hookServer.close();
        await server.stop();
      }
    },
    180_000,
  );
});
