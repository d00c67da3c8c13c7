import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRtmpUrl } from '../../src/client/url.js';
import { play, publish } from '../helpers/media.js';
import { cli } from '../helpers/cli.js';
import { startServerProcess, waitFor } from '../helpers/server.js';

const runCli = (args: string[]) => cli(args, 10_000);

const work = mkdtempSync(join(tmpdir(), 'rtmpbench-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('rtmpbench serve', () => {
  it('prints one listening line, and on SIGTERM ends players cleanly and exits 0', async () => {
    const srv = await startServerProcess(['--log-level', 'warn']);
    expect(srv.output().trim()).toBe(`listening rtmp://127.0.0.1:${srv.port}`);
    const url = parseRtmpUrl(`rtmp://127.0.0.1:${srv.port}/live`);
    const pub = await publish(url, 'cli', { seconds: 10 });
    const p = await play(url, 'cli');
    await waitFor(() => p.seqs.length > 5);
    expect(await srv.stop('SIGTERM')).toBe(0);
    await waitFor(() => p.player.closed && pub.publisher.closed, 3000, 'clients to be closed');
    expect(p.statuses).toContain('NetStream.Play.UnpublishNotify');
    pub.stop();
  });

  it('exits 0 on SIGINT too', async () => {
    const srv = await startServerProcess();
    expect(await srv.stop('SIGINT')).toBe(0);
  });

  it('reads settings from a config file, with flags taking precedence', async () => {
    const file = join(work, 'serve.yaml');
    writeFileSync(file, 'chunkSize: 128\nstatsPort: 0\nmaxQueuedBytes: 1m\n');
    const srv = await startServerProcess(['--config', file, '--chunk-size', '8192']);
    const stats = await srv.stats();
    expect(stats.settings).toMatchObject({ chunkSize: 8192, maxQueuedBytes: 1024 * 1024 });
    await srv.stop();
  });

  it('lists every invalid flag, opens no socket and exits 2', async () => {
    const r = await runCli([
      'serve',
      '--port',
      '0',
      '--chunk-size',
      '12',
      '--backpressure',
      'sometimes',
      '--gop-cache',
      'maybe',
    ]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('--gop-cache: "maybe" is not on or off');
    expect(r.stderr).toContain('chunkSize');
    expect(r.stderr).toContain('backpressure');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('exits 2 with a clear message when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    const r = await runCli(['serve', '--port', String(port)]);
    blocker.close();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`cannot listen on 127.0.0.1:${port}`));
  });

  it('rejects an unknown option with exit code 2', async () => {
    const r = await runCli(['serve', '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--frobnicate'");
  });
});
