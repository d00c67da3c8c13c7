import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseRtmpUrl } from '../../../src/client/url.js';
import { UsageError } from '../../../src/input/usage-error.js';
import { ProbeContext } from '../../../src/lab/probe/context.js';
import { DEFAULT_PROBES, PROBES, selectProbes } from '../../../src/lab/probe/list.js';
import { probeServer } from '../../../src/lab/probe/runner.js';
import { PROBE_GROUPS } from '../../../src/results/probe.js';
import { scriptedServer, silentServer } from '../../helpers/scripted-server.js';
import { waitFor } from '../../helpers/server.js';

/** The runner: selection, baseline, time budget, isolation of probes that may stop a server. */

describe('the probe list', () => {
  it('has at least 25 probes with unique ids of the form group.name, in every group, each with a title and a definition', () => {
    expect(PROBES.length).toBeGreaterThanOrEqual(25);
    expect(new Set(PROBES.map((p) => p.id)).size).toBe(PROBES.length);
    for (const p of PROBES) {
      expect(p.id.startsWith(`${p.group}.`), p.id).toBe(true);
      expect(p.title.length).toBeGreaterThan(0);
      expect(p.definition.length).toBeGreaterThan(10);
    }
    expect(new Set(PROBES.map((p) => p.group))).toEqual(new Set(PROBE_GROUPS));
  });

  it('selects by id, group and prefix, and names what selects nothing', () => {
    expect(selectProbes(['handshake']).probes.every((p) => p.group === 'handshake')).toBe(true);
    expect(selectProbes(['media.hevc', 'chunking.csid-*']).probes.map((p) => p.id)).toEqual([
      'chunking.csid-1-byte',
      'chunking.csid-2-byte',
      'chunking.csid-3-byte',
      'media.hevc',
    ]);
    expect(selectProbes(['media.h265', 'chunking']).unknown).toEqual(['media.h265']);
  });

  it('refuses an unknown probe before anything connects', async () => {
    await expect(probeServer('rtmp://127.0.0.1:1/live', { only: ['no.such-probe'] })).rejects.toBeInstanceOf(
      UsageError,
    );
  });
});

describe('probing servers that cannot be probed', () => {
  it('reports a server where nothing listens as not probed, with no probe results', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    const r = await probeServer(`rtmp://127.0.0.1:${port}/live`, { waitMs: 300 });
    expect(r.unreachable).toMatch(/nothing accepted a connection/);
    expect(r.probes).toEqual([]);
  });

  it('ends against a server that never answers: handshake probes fail, the rest cannot run', async () => {
    const silent = await silentServer();
    try {
      const r = await probeServer(silent.url, { waitMs: 400 });
      expect(r.unreachable).toBeNull();
      expect(r.probes).toHaveLength(DEFAULT_PROBES.length);
      const byId = Object.fromEntries(r.probes.map((p) => [p.id, p]));
      expect(byId['handshake.simple']).toMatchObject({
        result: 'fail',
        detail: expect.stringContaining('S0, S1 and S2'),
      });
      expect(byId['media.avc-aac']).toMatchObject({
        result: 'error',
        detail: expect.stringContaining('baseline check'),
      });
      expect(r.counts.pass).toBe(0);
      // Not "stopped answering after" anything: it never answered.
      expect(r.probes.some((p) => /stopped answering/.test(p.detail))).toBe(false);
    } finally {
      await silent.close();
    }
  });

  it('runs no probe once the time budget is spent', async () => {
    const srv = await scriptedServer();
    try {
      const r = await probeServer(srv.url, { waitMs: 500, budgetMs: 1, only: ['handshake', 'media.avc-aac'] });
      expect(r.probes.every((p) => p.result === 'error' && /time budget/.test(p.detail))).toBe(true);
    } finally {
      await srv.close();
    }
  });
});

describe('probes that may stop a fragile server', () => {
  it('run alone and last; when the server stops answering after one, it fails and the rest are not run', async () => {
    const srv = await scriptedServer({ dieOnDate: true });
    try {
      const r = await probeServer(srv.url, {
        waitMs: 1500,
        only: ['commands.connect-amf-types', 'commands.amf3-values', 'media.avc-aac'],
      });
      const byId = Object.fromEntries(r.probes.map((p) => [p.id, p]));
      expect(byId['media.avc-aac']!.result).toBe('pass');
      expect(byId['commands.connect-amf-types']).toMatchObject({
        result: 'fail',
        detail: expect.stringContaining('stopped answering after this probe'),
      });
      expect(byId['commands.amf3-values']).toMatchObject({
        result: 'error',
        detail: 'not run: the server stopped answering after commands.connect-amf-types',
      });
    } finally {
      await srv.close();
    }
  });
});

describe('a probe', () => {
  it('cannot send more than 16 MB on all its connections together', async () => {
    const srv = await scriptedServer();
    const ctx = new ProbeContext({
      target: { url: parseRtmpUrl(srv.url), insecure: false },
      streamPrefix: 'cap',
      index: 1,
      waitMs: 1000,
    });
    try {
      const [a, b] = [await ctx.dial(), await ctx.dial()];
      a.write(Buffer.alloc(10 * 1024 * 1024));
      expect(() => b.write(Buffer.alloc(7 * 1024 * 1024))).toThrow(/more than 16777216 bytes/);
      expect(ctx.bytesSent).toBe(10 * 1024 * 1024);
    } finally {
      ctx.closeAll();
      await srv.close();
    }
  });
});

describe('stream names', () => {
  it('are unique per run and probe, and never left published', async () => {
    const srv = await scriptedServer();
    try {
      const names: string[] = [];
      const a = await probeServer(srv.url, { only: ['media.avc-aac', 'sessions.republish'], streamPrefix: 'mine' });
      const b = await probeServer(srv.url, { only: ['media.avc-aac'], streamPrefix: 'mine' });
      expect([a, b].every((r) => r.counts.pass === r.probes.length)).toBe(true);
      const streams = (srv as unknown as { streams: Map<string, { publishers: unknown[] }> }).streams;
      await waitFor(() => [...streams.values()].every((s) => s.publishers.length === 0), 3000, 'publishers to leave');
      for (const s of streams) {
        names.push(s[0]);
        expect(s[1].publishers, s[0]).toEqual([]);
      }
      expect(names.every((n) => /^mine_[a-z0-9]+_\d+_\d+$/.test(n))).toBe(true);
      expect(new Set(names.map((n) => n.split('_')[1])).size).toBe(2);
    } finally {
      await srv.close();
    }
  });
});
