import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMediaPlaylist } from '../../src/media/m3u8.js';
import { TS_PACKET_SIZE } from '../../src/media/mpegts.js';
import { TsDemuxer } from '../../src/media/ts-demuxer.js';
import { makeClip, markedClip, syntheticTags } from '../helpers/media-files.js';
import { hasTool, run } from '../helpers/tools.js';
import { demux, muxTags } from '../helpers/ts.js';

const hasFfmpeg = hasTool('ffmpeg');
const work = mkdtempSync(join(tmpdir(), 'rtmpbench-ts-demuxer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const strip = (r: ReturnType<typeof demux>) => ({
  units: r.units.map((u) => ({ ...u, prefix: u.prefix.toString('hex') })),
  audio: r.audio,
  errors: r.errors.map((e) => e.code),
});

describe('TsDemuxer', () => {
  it('gives the same access units, marks and audio counts when the stream is split at every byte', () => {
    const ts = muxTags(syntheticTags(3, { videoBitrate: 40_000 }));
    const whole = strip(demux(ts));
    expect(whole.units.map((u) => u.seq)).toEqual([0, 1, 2]);
    for (let cut = 1; cut < ts.length; cut++) expect(strip(demux(ts, [cut])), `cut at ${cut}`).toEqual(whole);
  });

  it('gives the same result for random splits, with a kept prefix as small as 64 bytes', () => {
    const ts = muxTags(syntheticTags(30));
    const whole = strip(demux(ts, [], { keepBytes: 256 }));
    expect(whole.units).toHaveLength(30);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: ts.length - 1 }), { maxLength: 50 }), (cuts) => {
        expect(
          strip(
            demux(
              ts,
              cuts.sort((a, b) => a - b),
              { keepBytes: 256 },
            ),
          ),
        ).toEqual(whole);
      }),
      { numRuns: 100 },
    );
    // The mark lies after AUD, SPS and PPS: 64 bytes are too few for keyframes, enough for others.
    const tight = demux(ts, [], { keepBytes: 64 }).units;
    expect(tight.filter((u) => u.seq === null).every((u) => u.keyframe)).toBe(true);
    expect(tight.filter((u) => u.seq !== null)).toHaveLength(28);
  });

  it('counts the video bytes of each access unit, beyond the kept prefix', () => {
    const tags = syntheticTags(2);
    const { units } = demux(muxTags(tags), [], { keepBytes: 128 });
    const frame1 = tags.filter((t) => t.typeId === 9)[2]!.payload.length - 5; // NAL units of frame 1
    expect(units[1]!.esBytes).toBe(6 + frame1); // AUD + each 4-byte length became a 4-byte start code
  });

  it('counts a missing packet as a continuity error and still delivers later units', () => {
    const ts = muxTags(syntheticTags(10));
    // Drop a packet in the middle of a video PES (not its first).
    let drop = -1;
    for (let o = TS_PACKET_SIZE * 10; o < ts.length; o += TS_PACKET_SIZE) {
      if ((((ts[o + 1]! & 0x1f) << 8) | ts[o + 2]!) === 0x100 && (ts[o + 1]! & 0x40) === 0) {
        drop = o;
        break;
      }
    }
    const cut = Buffer.concat([ts.subarray(0, drop), ts.subarray(drop + TS_PACKET_SIZE)]);
    const r = demux(cut);
    expect(r.errors).toEqual([]);
    expect(r.demuxer.stats().continuityErrors).toBe(1);
    expect(r.units).toHaveLength(10);
  });

  it('fails once with RTMP_ERR_TS_SYNC when a packet does not start with 0x47, and is dead afterwards', () => {
    const ts = Buffer.from(muxTags(syntheticTags(2)));
    ts[TS_PACKET_SIZE * 3] = 0x46;
    const r = demux(ts);
    expect(r.errors.map((e) => e.code)).toEqual(['RTMP_ERR_TS_SYNC']);
    expect(r.errors[0]!.detail.offset).toBe(TS_PACKET_SIZE * 3);
    expect(r.demuxer.push(ts)).toBe(false);
    expect(r.errors).toHaveLength(1);
  });

  it('fails with RTMP_ERR_TS_MALFORMED when the PMT fails its CRC', () => {
    const ts = Buffer.from(muxTags(syntheticTags(2)));
    ts[TS_PACKET_SIZE + 20] = ts[TS_PACKET_SIZE + 20]! ^ 0x01;
    expect(demux(ts).errors.map((e) => e.code)).toEqual(['RTMP_ERR_TS_MALFORMED']);
  });

  it('fails with RTMP_ERR_TS_SYNC when a segment ends inside a packet', () => {
    const ts = muxTags(syntheticTags(2));
    expect(demux(ts.subarray(0, ts.length - 10)).errors.map((e) => e.code)).toEqual(['RTMP_ERR_TS_SYNC']);
  });

  it('delivers nothing before a PMT and ignores PIDs it does not follow', () => {
    const ts = muxTags(syntheticTags(5));
    const packets: Buffer[] = [];
    for (let o = 0; o < ts.length; o += TS_PACKET_SIZE) {
      const pid = ((ts[o + 1]! & 0x1f) << 8) | ts[o + 2]!;
      if (pid !== 0 && pid !== 0x1000) packets.push(ts.subarray(o, o + TS_PACKET_SIZE));
    }
    const noTables = Buffer.concat(packets);
    const units: number[] = [];
    const d = new TsDemuxer({ onVideo: (u) => units.push(u.mark!.seq), onError: () => {} });
    d.push(noTables);
    d.flush();
    expect(units).toEqual([]);
    expect(d.videoCodec).toBeNull();
  });

  it.skipIf(!hasFfmpeg)(
    'finds every mark in HLS MPEG-TS segments that ffmpeg muxed from a marked real clip',
    async () => {
      const clip = await makeClip(work, 'clip', { seconds: 4, gopSeconds: 1 });
      const { flv, videoFrames } = markedClip(clip);
      const dir = join(work, 'hls-ts');
      rmSync(dir, { recursive: true, force: true });
      await run('mkdir', ['-p', dir]);
      writeFileSync(join(dir, 'in.flv'), flv);
      const r = await run('ffmpeg', [
        '-hide_banner',
        '-loglevel',
        'error',
        '-i',
        join(dir, 'in.flv'),
        '-c',
        'copy',
        '-f',
        'hls',
        '-hls_time',
        '1',
        '-hls_list_size',
        '0',
        join(dir, 'index.m3u8'),
      ]);
      expect(r.code, r.stderr).toBe(0);
      const playlist = parseMediaPlaylist(readFileSync(join(dir, 'index.m3u8'), 'utf8'));
      expect(playlist.endList).toBe(true);
      expect(playlist.segments.length).toBeGreaterThanOrEqual(3);
      const seqs: number[] = [];
      const keys: number[] = [];
      let audioFrames = 0;
      const d = new TsDemuxer({
        onVideo: (u) => {
          seqs.push(u.mark?.seq ?? -1);
          if (u.keyframe) keys.push(u.mark?.seq ?? -1);
        },
        onAudio: (_pts, n) => (audioFrames += n),
        onError: (e) => {
          throw e;
        },
      });
      for (const s of playlist.segments) {
        const seg = readFileSync(join(dir, s.uri));
        for (let o = 0; o < seg.length; o += 1500) d.push(seg.subarray(o, o + 1500));
        expect(d.flush()).toBe(true);
      }
      expect(seqs).toEqual(Array.from({ length: videoFrames }, (_, i) => i));
      expect(keys).toEqual([0, 25, 50, 75]);
      expect(audioFrames).toBeGreaterThan(150);
      expect(readdirSync(dir).filter((f) => f.endsWith('.ts')).length).toBe(playlist.segments.length);
    },
  );
});
