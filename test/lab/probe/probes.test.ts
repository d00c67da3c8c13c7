import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PROBE_BYTES } from '../../../src/lab/probe/context.js';
import { DEFAULT_PROBES } from '../../../src/lab/probe/list.js';
import { probeServer } from '../../../src/lab/probe/runner.js';
import type { ProbeReport } from '../../../src/results/probe.js';
import { scriptedServer, type Faults, type ScriptedServer } from '../../helpers/scripted-server.js';

/**
 * Each probe's verdict, proven against a scripted server with the bug it looks for: the probe
 * must fail that server (and pass the same server without the bug, in the first test). Steps
 * wait 1.5 s here (3 s by default), so the failures that wait for an answer that never comes
 * end sooner; the server without bugs gets the default, as nothing there waits in vain.
 */

const WAIT_MS = 1500;

async function probe(faults: Faults, only: string[], waitMs = WAIT_MS): Promise<ProbeReport> {
  const srv = await scriptedServer(faults);
  try {
    return await probeServer(srv.url, { waitMs, only });
  } finally {
    await srv.close();
  }
}

const results = (r: ProbeReport) => Object.fromEntries(r.probes.map((p) => [p.id, p.result]));

/** A fault, and the probes that must fail a server that has it. */
const BUGS: [string, Faults, string[]][] = [
  ['refuses the simple handshake', { rejectSimpleHandshake: true }, ['handshake.simple']],
  ['answers a digest C1 with an unsigned S2', { unsignedS2: true }, ['handshake.digest-8', 'handshake.digest-772']],
  ['throws away a C2 that came with C1', { dropEarlyC2: true }, ['handshake.c2-early']],
  ['throws away bytes that came with C2', { dropAfterC2: true }, ['handshake.c2-with-connect']],
  [
    'refuses chunk sizes above 4096',
    { maxInChunkSize: 4096 },
    ['chunking.chunk-size-65536', 'chunking.chunk-size-max'],
  ],
  ['ignores Set Chunk Size', { ignoreSetChunkSize: true }, ['chunking.chunk-size-4096']],
  ['refuses chunk sizes below 129', { minInChunkSize: 129 }, ['chunking.chunk-size-128']],
  ['takes no chunk stream ids above 63', { maxCsid: 63 }, ['chunking.csid-2-byte', 'chunking.csid-3-byte']],
  ['takes no chunk stream ids above 319', { maxCsid: 319 }, ['chunking.csid-3-byte']],
  ['takes no chunk stream ids above 9', { maxCsid: 9 }, ['chunking.csid-1-byte']],
  [
    'reads a chunk of another chunk stream as the rest of the current message',
    { noInterleave: true },
    ['chunking.interleaved'],
  ],
  ['ignores Abort', { ignoreAbort: true }, ['chunking.abort']],
  ['reads fmt 1 and 2 timestamp deltas as absolute times', { deltaAsAbsolute: true }, ['chunking.header-compression']],
  [
    'gives a message that starts with fmt 3 the last timestamp',
    { fmt3WithoutDelta: true },
    ['chunking.fmt3-new-message'],
  ],
  [
    'leaves the extended timestamp out of the type-3 chunks it sends',
    { omitExtendedOnType3: true },
    ['timestamps.extended'],
  ],
  ['never reads an extended timestamp on type-3 chunks', { readExtendedOnType3: 'never' }, ['timestamps.extended']],
  [
    'always reads an extended timestamp on type-3 chunks',
    { readExtendedOnType3: 'always' },
    ['timestamps.extended-not-repeated'],
  ],
  ['drops messages past 2^32 ms', { dropPast2pow32: true }, ['timestamps.wrap']],
  ['drops messages whose timestamps go back', { dropBackwards: true }, ['timestamps.backwards']],
  ['does not answer type-17 commands', { ignoreAmf3Commands: true }, ['commands.amf3-envelope']],
  ['closes on an AMF3 value', { closeOnAvmplus: true }, ['commands.amf3-values']],
  ['closes on connect with objectEncoding 3', { objectEncoding: 'close' }, ['commands.object-encoding-3']],
  ['cannot read AMF0 dates', { noDates: true }, ['commands.connect-amf-types', 'commands.metadata-amf-types']],
  ['relays @setDataFrame as it came', { metadata: 'keep-set-data-frame' }, ['commands.metadata']],
  ['drops metadata', { metadata: 'drop' }, ['commands.metadata']],
  ['drops type-15 data messages', { dropAmf3Data: true }, ['commands.metadata-amf3']],
  ['does not answer unknown commands', { ignoreUnknownCommands: true }, ['commands.unknown']],
  ['closes on FCPublish', { closeOnFcPublish: true }, ['commands.fcpublish']],
  ['refuses play with start -1', { playStart: 'refuse-minus-1' }, ['commands.play-arguments']],
  ['ignores deleteStream', { ignoreDeleteStream: true }, ['commands.delete-stream']],
  ['never acknowledges', { acks: 'never' }, ['flow-control.acknowledgements']],
  ['acknowledges every four windows', { acks: 'every-4-windows' }, ['flow-control.acknowledgements']],
  ['closes on Set Peer Bandwidth from a client', { closeOnPeerBandwidth: true }, ['flow-control.peer-bandwidth']],
  ['does not answer pings', { ping: 'ignore' }, ['flow-control.ping']],
  ['answers pings with another time', { ping: 'wrong-time' }, ['flow-control.ping']],
  ['closes on SetBufferLength for stream 0', { closeOnSetBufferLength0: true }, ['flow-control.set-buffer-length']],
  ['alters media', { corruptMedia: true }, ['media.avc-aac']],
  ['refuses connect with a fourCcList', { rejectFourCcList: true }, ['media.fourcc-list']],
  [
    'drops Enhanced RTMP video',
    { dropEnhancedVideo: 'all' },
    ['media.hevc', 'media.av1', 'media.vp9', 'media.multitrack', 'media.modex'],
  ],
  ['drops multitrack video', { dropEnhancedVideo: 'multitrack' }, ['media.multitrack']],
  ['drops ModEx video', { dropEnhancedVideo: 'modex' }, ['media.modex']],
  ['takes messages of 2 MB at most', { maxMessageBytes: 2_000_000 }, ['media.keyframe-4mb', 'media.keyframe-8mb']],
  ['takes messages of 500 KB at most', { maxMessageBytes: 500_000 }, ['media.keyframe-1mb']],
  ['holds audio back until video', { audioWaitsForVideo: true }, ['media.audio-only']],
  ['holds video back until audio', { videoWaitsForAudio: true }, ['media.video-only']],
  ['refuses to play a name not yet published', { playNeedsPublisher: true }, ['sessions.play-before-publish']],
  ['relays two publishers of one name', { mixPublishers: true }, ['sessions.second-publisher']],
  ['forgets its players when the publisher leaves', { dropPlayersOnUnpublish: true }, ['sessions.republish']],
  [
    'does not tell players of unpublish',
    { silentUnpublish: true },
    ['sessions.unpublish-notify', 'sessions.publisher-drop'],
  ],
  ['keeps the query in the stream name', { keepQueryInName: true }, ['sessions.name-with-query']],
];

describe('probes against a server without the bugs', () => {
  it('pass every probe with pass/fail logic, and report the info probes', async () => {
    const r = await probe({}, [], 3000);
    const notPass = r.probes.filter((p) => p.result !== 'pass' && p.result !== 'info');
    expect(notPass.map((p) => `${p.id}: ${p.result} ${p.detail}`)).toEqual([]);
    expect(r.probes).toHaveLength(DEFAULT_PROBES.length);
    // No probe sends more than 16 MB (the evidence counts every byte, handshakes included).
    for (const p of r.probes) expect(p.evidence['bytes sent'], p.id).toBeLessThanOrEqual(MAX_PROBE_BYTES);
    expect(Math.max(...r.probes.map((p) => Number(p.evidence['bytes sent'])))).toBeGreaterThan(8_000_000);
    expect(
      r.probes
        .filter((p) => p.result === 'info')
        .map((p) => p.id)
        .sort(),
    ).toEqual([
      'chunking.chunk-stream-limit',
      'flow-control.server-announcements',
      'handshake.other-version',
      'handshake.server-s1',
      'timestamps.viewer-timeline',
    ]);
  }, 90_000);
});

describe.concurrent('each probe fails a server with the bug it looks for', () => {
  for (const [bug, faults, ids] of BUGS) {
    it(`a server that ${bug}: ${ids.join(', ')} fail`, async () => {
      const r = await probe(faults, ids);
      expect(r.probes.map((p) => `${p.id}: ${p.result} (${p.detail})`)).toEqual(
        r.probes.map((p) => `${p.id}: fail (${p.detail})`),
      );
      for (const p of r.probes) expect(p.detail.length).toBeGreaterThan(0);
    });
  }

  it('every probe with pass/fail logic has a bug that fails it', () => {
    const covered = new Set(BUGS.flatMap(([, , ids]) => ids));
    const infoOnly = [
      'chunking.chunk-stream-limit',
      'flow-control.server-announcements',
      'handshake.other-version',
      'handshake.server-s1',
      'timestamps.viewer-timeline',
    ];
    expect(DEFAULT_PROBES.map((p) => p.id).filter((id) => !covered.has(id) && !infoOnly.includes(id))).toEqual([]);
  });
});

describe.concurrent('n/a: a feature refused cleanly, by design, is neither pass nor fail', () => {
  it('objectEncoding 0 in answer to objectEncoding 3 is n/a', async () => {
    const r = await probe({ objectEncoding: 'answer-0' }, ['commands.object-encoding-3']);
    expect(results(r)).toEqual({ 'commands.object-encoding-3': 'n/a' });
  });

  it('metadata rewritten by the server is n/a, with what was lost in the evidence', async () => {
    const r = await probe({ metadata: 'rewrite' }, ['commands.metadata']);
    expect(results(r)).toEqual({ 'commands.metadata': 'n/a' });
    expect(String(r.probes[0]!.evidence['properties lost or changed'])).toContain('rtmpbenchMarker');
  });

  it('play with start 0 refused (recorded streams only) is n/a', async () => {
    const r = await probe({ playStart: 'live-only' }, ['commands.play-arguments']);
    expect(results(r)).toEqual({ 'commands.play-arguments': 'n/a' });
  });
});

describe('info probes report what the server does', () => {
  let srv: ScriptedServer;
  let report: ProbeReport;
  beforeAll(async () => {
    srv = await scriptedServer({ maxCsid: 20, rebase: true });
    report = await probeServer(srv.url, {
      waitMs: WAIT_MS,
      only: [
        'chunking.chunk-stream-limit',
        'timestamps.viewer-timeline',
        'handshake.server-s1',
        'handshake.other-version',
        'flow-control.server-announcements',
      ],
    });
  });
  afterAll(() => srv.close());
  const detail = (id: string) => report.probes.find((p) => p.id === id)!;

  it('finds how many chunk streams a connection may open', () => {
    expect(detail('chunking.chunk-stream-limit')).toMatchObject({
      result: 'info',
      evidence: { 'chunk streams accepted': 19, 'first refused chunk stream id': 21 },
    });
  });

  it('tells rebased timestamps from timestamps as sent', () => {
    expect(detail('timestamps.viewer-timeline')).toMatchObject({
      result: 'info',
      detail: expect.stringContaining('rebased by -600000 ms'),
    });
  });

  it('reads S1 and the S2 forms, the answer to another version byte, and the announcements around connect', () => {
    expect(detail('handshake.server-s1').evidence).toMatchObject({
      'S1 version field (digest client)': '4.5.0.1',
      'S2 (simple client)': 'echoes C1',
    });
    expect(detail('handshake.other-version').detail).toBe('closes the connection');
    expect(detail('flow-control.server-announcements').evidence).toMatchObject({
      'Window Acknowledgement Size': 2_500_000,
      'Set Peer Bandwidth': null,
      'Set Chunk Size': 4096,
    });
  });
});
