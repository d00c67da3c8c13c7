import { describe, expect, it } from 'vitest';
import { DEFAULT_PROBES } from '../../../src/lab/probe/list.js';
import { probeTarget } from '../../../src/lab/probe/targets.js';
import { serverAvailability, type ServerKind } from '../../../src/proc/servers.js';
import type { ProbeReport } from '../../../src/results/probe.js';

/**
 * The probe against real servers, each started in its own process and stopped by PID: every
 * probe against the built-in server (none may fail), and against nginx-rtmp and
 * node-media-server the probes whose answers their sources and trackers tell (a subset, to keep
 * the suite short).
 */

function available(kind: ServerKind): boolean {
  const a = serverAvailability(kind);
  if (!a.available && process.env.CI) throw new Error(`${kind} must be installed in CI (${a.hint})`);
  return a.available;
}

const byId = (r: ProbeReport) => Object.fromEntries(r.probes.map((p) => [p.id, p]));
const resultsOf = (r: ProbeReport) => Object.fromEntries(r.probes.map((p) => [p.id, p.result]));

describe('the built-in server', () => {
  it('passes every probe (info probes aside) and reports its chunk stream limit', async () => {
    const r = await probeTarget({ kind: 'start', server: 'builtin' });
    expect(r.unreachable).toBeNull();
    expect(r.probes).toHaveLength(DEFAULT_PROBES.length);
    expect(
      r.probes.filter((p) => p.result !== 'pass' && p.result !== 'info').map((p) => `${p.id}: ${p.result} ${p.detail}`),
    ).toEqual([]);
    const p = byId(r);
    // The limits it documents: 64 chunk streams per connection (--max-chunk-streams).
    expect(p['chunking.chunk-stream-limit']!.evidence['chunk streams accepted']).toBe(64);
    expect(p['timestamps.viewer-timeline']!.detail).toMatch(/^as the publisher sent them/);
  }, 90_000);
});

describe('nginx-rtmp', () => {
  const known = {
    // max_streams defaults to 32: chunk stream ids 32 and up close the connection.
    'chunking.chunk-stream-limit': 'info',
    'chunking.csid-1-byte': 'pass',
    'chunking.csid-2-byte': 'fail',
    // ngx_rtmp_receive.c: "case NGX_RTMP_MSG_ABORT: /* abort chunk stream =val */ break;"
    'chunking.abort': 'fail',
    // Its AMF0 reader has no date and no avmplus (AMF3) type.
    'commands.connect-amf-types': 'fail',
    'commands.amf3-values': 'fail',
    'commands.amf3-envelope': 'pass',
    // Unknown commands have no handler and get no answer.
    'commands.unknown': 'fail',
    // The codec module rebuilds onMetaData from the fields it knows ("meta on").
    'commands.metadata': 'n/a',
    // wait_key: players start at a legacy keyframe; Enhanced RTMP frames have another frame type.
    'media.hevc': 'fail',
    'media.avc-aac': 'pass',
    // max_message defaults to 1 MB.
    'media.keyframe-1mb': 'pass',
    'media.keyframe-4mb': 'fail',
    'flow-control.acknowledgements': 'pass',
    'flow-control.ping': 'pass',
    'sessions.unpublish-notify': 'pass',
  } as const;

  it.skipIf(!available('nginx-rtmp'))(
    'gives the answers its source tells',
    async () => {
      const r = await probeTarget({ kind: 'start', server: 'nginx-rtmp' }, { only: Object.keys(known), waitMs: 1500 });
      expect(resultsOf(r)).toEqual(known);
      const p = byId(r);
      expect(p['chunking.chunk-stream-limit']!.evidence).toMatchObject({
        'chunk streams accepted': 30,
        'first refused chunk stream id': 32,
      });
      expect(p['commands.connect-amf-types']!.evidence).toMatchObject({
        'a date': 'connection closed',
        'a strict array': 'answered',
        'an ECMA array': 'answered',
      });
    },
    90_000,
  );
});

describe('node-media-server', () => {
  const known = {
    // Its chunk reader keeps a map of every chunk stream: no limit.
    'chunking.chunk-stream-limit': 'info',
    'chunking.csid-3-byte': 'pass',
    // Abort is read and ignored: the next message continues the aborted one.
    'chunking.abort': 'fail',
    // Messages whose clock passed 0xffffffff are dropped.
    'timestamps.wrap': 'fail',
    // The extended field is always read on type-3 chunks after an extended header.
    'timestamps.extended-not-repeated': 'fail',
    'timestamps.extended': 'pass',
    // Metadata goes to players as the publisher sent it, @setDataFrame included.
    'commands.metadata': 'fail',
    'commands.unknown': 'fail',
    // No acknowledgements, no ping responses, no notice to players when the publisher leaves.
    'flow-control.acknowledgements': 'fail',
    'flow-control.ping': 'fail',
    'sessions.unpublish-notify': 'fail',
    'media.hevc': 'pass',
    'media.keyframe-8mb': 'pass',
    // Its AMF0 reader has no avmplus type and throws out of the socket handler: the process ends.
    'commands.amf3-values': 'fail',
  } as const;

  it.skipIf(!available('node-media-server'))(
    'gives the answers its source tells',
    async () => {
      const r = await probeTarget(
        { kind: 'start', server: 'node-media-server' },
        { only: Object.keys(known), waitMs: 1500 },
      );
      expect(resultsOf(r)).toEqual(known);
      const p = byId(r);
      expect(p['chunking.chunk-stream-limit']!.evidence['chunk streams accepted']).toBe('1000 (all tried)');
      expect(p['commands.amf3-values']!.detail).toMatch(/stopped answering after this probe/);
    },
    90_000,
  );
});
