import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { flagsToSettings } from '../../src/cli/serve.js';
import { UsageError } from '../../src/input/usage-error.js';
import { readServerConfigFile, resolveServerConfig } from '../../src/server/config.js';

const work = mkdtempSync(join(tmpdir(), 'rtmpbench-config-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('server settings', () => {
  it('has the documented defaults', () => {
    expect(resolveServerConfig({})).toMatchObject({
      host: '127.0.0.1',
      port: 1935,
      chunkSize: 4096,
      gopCache: true,
      backpressure: 'drop-to-keyframe',
      mergeWriteMs: 0,
    });
  });

  it('lists every invalid setting at once', () => {
    try {
      resolveServerConfig({ chunkSize: 64, backpressure: 'maybe' as 'none', port: 70000 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      const msg = (e as UsageError).reason;
      expect(msg).toMatch(/chunkSize/);
      expect(msg).toMatch(/backpressure/);
      expect(msg).toMatch(/port/);
    }
    expect(() => resolveServerConfig({ tlsPort: 4443 })).toThrow(/tlsPort needs tlsCert and tlsKey/);
    expect(() => resolveServerConfig({ nonsense: 1 } as never)).toThrow(/nonsense/);
  });

  it('reads YAML config files; flags override them', () => {
    const file = join(work, 'server.yaml');
    writeFileSync(file, 'chunkSize: 128\ngopCache: false\nbackpressure: priority-drop\n');
    const fromFile = readServerConfigFile(file);
    const { settings, problems } = flagsToSettings({ chunkSize: '64k', maxQueuedBytes: '512k' });
    expect(problems).toEqual([]);
    expect(resolveServerConfig({ ...fromFile, ...settings })).toMatchObject({
      chunkSize: 65536,
      gopCache: false,
      backpressure: 'priority-drop',
      maxQueuedBytes: 512 * 1024,
    });
  });

  it('reports unparseable flags by name', () => {
    const { problems } = flagsToSettings({ port: 'abc', gopCache: 'sometimes', maxQueuedBytes: '3 parsecs' });
    expect(problems).toEqual([
      '--port: "abc" is not a whole number',
      '--gop-cache: "sometimes" is not on or off',
      '--max-queued-bytes: "3 parsecs" is not a size such as 65536, 64k or 2m',
    ]);
  });

  it('refuses an unreadable or non-mapping config file with a clear message', () => {
    expect(() => readServerConfigFile(join(work, 'missing.yaml'))).toThrow(/cannot read config file/);
    const list = join(work, 'list.yaml');
    writeFileSync(list, '- a\n- b\n');
    expect(() => readServerConfigFile(list)).toThrow(/must hold a mapping/);
  });
});
