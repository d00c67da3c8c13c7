import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Mp4SegmentReader, readMp4Segment, type Mp4Sample } from '../../src/media/fmp4-reader.js';
import { parseMediaPlaylist } from '../../src/media/m3u8.js';
import { parseMp4Init, type Mp4Init } from '../../src/media/mp4-init.js';
import type { RtmpError } from '../../src/protocol/errors.js';
import { makeClip, markedClip, syntheticTags, MARK_BASE_US } from '../helpers/media-files.js';
import { box, initSegment, mediaSegment } from '../helpers/mp4-build.js';
import { hasTool, run } from '../helpers/tools.js';

const hasFfmpeg = hasTool('ffmpeg');
const work = mkdtempSync(join(tmpdir(), 'rtmpbench-fmp4-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A synthetic AVC stream as fMP4: init (avcC from the sequence header) and the frames' NAL units. */
function syntheticFmp4(frames: number) {
  const tags = syntheticTags(frames);
  const video = tags.filter((t) => t.typeId === 9);
  const init = initSegment(video[0]!.payload.subarray(5));
  const samples = video.slice(1).map((t, i) => ({
    data: t.payload.subarray(5),
    flags: t.payload[0] === 0x17 ? 0x02000000 : 0x01010000,
    cto: i === 1 ? -3000 : 0,
  }));
  const audio = tags
    .filter((t) => t.typeId === 8)
    .slice(1)
    .map((t) => ({ data: t.payload.subarray(2), duration: 1024, flags: 0x02000000 }));
  const segment = mediaSegment(1, [
    { id: 1, baseTime: 2 ** 33 + 900_000, samples },
    { id: 2, baseTime: 441_000, samples: audio },
  ]);
  return { init, segment, frames, audioFrames: audio.length };
}

type Seen = {
  track: number;
  offset: number;
  decodeTime: number;
  cto: number;
  duration: number;
  size: number;
  key: boolean;
  seq: number | null;
};

function read(segment: Buffer, init: Mp4Init | null, cuts: number[] = [], keepBytes?: number) {
  const samples: Seen[] = [];
  const errors: RtmpError[] = [];
  const reader = new Mp4SegmentReader(
    {
      onSample: (s: Mp4Sample) =>
        samples.push({
          track: s.track.trackId,
          offset: s.offset,
          decodeTime: s.decodeTime,
          cto: s.compositionOffset,
          duration: s.duration,
          size: s.size,
          key: s.keyframe,
          seq: s.mark?.seq ?? null,
        }),
      onError: (e) => errors.push(e),
    },
    init,
    keepBytes === undefined ? {} : { keepBytes },
  );
  let at = 0;
  for (const cut of [...cuts, segment.length]) {
    reader.push(segment.subarray(at, cut));
    at = cut;
  }
  reader.end();
  return { samples, errors: errors.map((e) => e.code), reader };
}

describe('parseMp4Init', () => {
  it('reads track ids, handlers, timescales, sample entries, the AVC configuration and trex defaults', () => {
    const { init } = syntheticFmp4(1);
    const parsed = parseMp4Init(init);
    expect(
      parsed.tracks.map((t) => [
        t.trackId,
        t.handler,
        t.timescale,
        t.sampleEntry,
        t.videoConfig?.codec ?? null,
        t.videoConfig?.nalLengthSize ?? null,
      ]),
    ).toEqual([
      [1, 'vide', 90_000, 'avc1', 'avc', 4],
      [2, 'soun', 44_100, 'mp4a', null, null],
    ]);
    expect(parsed.tracks[0]!.videoConfig!.parameterSets.map((p) => p[0]! & 0x1f)).toEqual([7, 8]);
    expect(parsed.tracks[1]!.defaultSampleDuration).toBe(1024);
  });

  it('fails with RTMP_ERR_MP4_UNSUPPORTED without a moov and RTMP_ERR_MP4_MALFORMED on a box that overruns its parent', () => {
    expect(() => parseMp4Init(box('ftyp', Buffer.alloc(8)))).toThrow(
      expect.objectContaining({ code: 'RTMP_ERR_MP4_UNSUPPORTED' }),
    );
    const { init } = syntheticFmp4(1);
    const bad = Buffer.from(init);
    bad.writeUInt32BE(0xffff, bad.indexOf('trak', 0, 'latin1') - 4);
    expect(() => parseMp4Init(bad)).toThrow(expect.objectContaining({ code: 'RTMP_ERR_MP4_MALFORMED' }));
  });
});

describe('Mp4SegmentReader', () => {
  it('reads samples with 64-bit decode times, signed composition offsets, sync flags and marks', () => {
    const f = syntheticFmp4(30);
    const { samples, errors } = read(f.segment, parseMp4Init(f.init));
    expect(errors).toEqual([]);
    const video = samples.filter((s) => s.track === 1);
    expect(video.map((s) => s.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(video.map((s) => s.decodeTime)).toEqual(Array.from({ length: 30 }, (_, i) => 2 ** 33 + 900_000 + i * 3000));
    expect(video[1]!.cto).toBe(-3000);
    expect(video.filter((s) => s.key).map((s) => s.seq)).toEqual([0, 25]);
    expect(samples.filter((s) => s.track === 2)).toHaveLength(f.audioFrames);
    const tags = syntheticTags(30).filter((t) => t.typeId === 9);
    expect(f.segment.subarray(video[3]!.offset, video[3]!.offset + video[3]!.size)).toEqual(
      tags[4]!.payload.subarray(5),
    );
  });

  it('gives the same samples when the segment is split at every byte', () => {
    const f = syntheticFmp4(2);
    const init = parseMp4Init(f.init);
    const whole = read(f.segment, init);
    expect(whole.samples.filter((s) => s.seq !== null)).toHaveLength(2);
    for (let cut = 1; cut < f.segment.length; cut++)
      expect(read(f.segment, init, [cut]), `cut at ${cut}`).toMatchObject({ samples: whole.samples, errors: [] });
  });

  it('gives the same samples for random splits and small kept prefixes', () => {
    const f = syntheticFmp4(30);
    const init = parseMp4Init(f.init);
    const whole = read(f.segment, init, [], 128).samples;
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: f.segment.length - 1 }), { maxLength: 40 }), (cuts) => {
        expect(
          read(
            f.segment,
            init,
            cuts.sort((a, b) => a - b),
            128,
          ).samples,
        ).toEqual(whole);
      }),
      { numRuns: 100 },
    );
  });

  it('reads the tracks from a moov in the stream (a single-file fragmented MP4)', () => {
    const f = syntheticFmp4(5);
    const { samples, errors, reader } = read(Buffer.concat([f.init, f.segment]), null);
    expect(errors).toEqual([]);
    expect(reader.tracks!.tracks).toHaveLength(2);
    expect(samples.filter((s) => s.seq !== null).map((s) => s.seq)).toEqual([0, 1, 2, 3, 4]);
  });

  it('fails with RTMP_ERR_MP4_UNSUPPORTED on a media segment before any init segment', () => {
    expect(read(syntheticFmp4(2).segment, null).errors).toEqual(['RTMP_ERR_MP4_UNSUPPORTED']);
  });

  it('fails with RTMP_ERR_MP4_MALFORMED when the segment ends inside a box', () => {
    const f = syntheticFmp4(2);
    expect(read(f.segment.subarray(0, f.segment.length - 3), parseMp4Init(f.init)).errors).toEqual([
      'RTMP_ERR_MP4_MALFORMED',
    ]);
  });

  it('fails with RTMP_ERR_MEDIA_LIMIT on a moof above the limit before reading it', () => {
    const f = syntheticFmp4(30);
    const errors: string[] = [];
    const reader = new Mp4SegmentReader(
      { onSample: () => {}, onError: (e) => errors.push(e.code) },
      parseMp4Init(f.init),
      { maxBoxBytes: 256 },
    );
    reader.push(f.segment.subarray(0, 40));
    expect(errors).toEqual(['RTMP_ERR_MEDIA_LIMIT']);
  });

  it('reads a whole segment in memory with readMp4Segment', () => {
    const f = syntheticFmp4(3);
    const { samples } = readMp4Segment(f.segment, parseMp4Init(f.init));
    expect(samples.filter((s) => s.mark !== null).map((s) => s.mark!.intendedUs)).toEqual(
      [0, 40_000, 80_000].map((d) => MARK_BASE_US + d),
    );
  });

  it.skipIf(!hasFfmpeg)('finds every mark in HLS fMP4 segments that ffmpeg muxed from a marked real clip', async () => {
    const clip = await makeClip(work, 'clip', { seconds: 4, gopSeconds: 1 });
    const { flv, videoFrames } = markedClip(clip);
    const dir = join(work, 'hls-fmp4');
    mkdirSync(dir, { recursive: true });
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
      '-hls_segment_type',
      'fmp4',
      join(dir, 'index.m3u8'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const playlist = parseMediaPlaylist(readFileSync(join(dir, 'index.m3u8'), 'utf8'));
    const map = playlist.segments[0]!.map;
    expect(map).not.toBeNull();
    const init = parseMp4Init(readFileSync(join(dir, map!.uri)));
    const video = init.tracks.find((t) => t.handler === 'vide')!;
    expect(video.videoConfig?.codec).toBe('avc');
    const seqs: number[] = [];
    const keys: number[] = [];
    let audio = 0;
    let lastDecode = -1;
    const reader = new Mp4SegmentReader(
      {
        onSample: (s) => {
          if (s.track !== video) return void audio++;
          expect(s.decodeTime).toBeGreaterThan(lastDecode);
          lastDecode = s.decodeTime;
          seqs.push(s.mark?.seq ?? -1);
          if (s.keyframe) keys.push(s.mark?.seq ?? -1);
        },
        onError: (e) => {
          throw e;
        },
      },
      init,
    );
    for (const s of playlist.segments) {
      const seg = readFileSync(join(dir, s.uri));
      for (let o = 0; o < seg.length; o += 1400) reader.push(seg.subarray(o, o + 1400));
      expect(reader.end()).toBe(true);
    }
    expect(seqs).toEqual(Array.from({ length: videoFrames }, (_, i) => i));
    expect(keys).toEqual([0, 25, 50, 75]);
    expect(audio).toBeGreaterThan(150);
  });
});
