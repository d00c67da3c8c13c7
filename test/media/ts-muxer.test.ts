import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crc32Mpeg, TS_PACKET_SIZE } from '../../src/media/mpegts.js';
import { readMp4Segment } from '../../src/media/fmp4-reader.js';
import { TsMuxer } from '../../src/media/ts-muxer.js';
import type { FlvTag } from '../../src/media/flv-file.js';
import { hex } from '../helpers/bytes.js';
import { makeClip, markedClip, syntheticTags, MARK_BASE_US } from '../helpers/media-files.js';
import { hasTool, run } from '../helpers/tools.js';
import { demux, muxTags } from '../helpers/ts.js';

const hasFfmpeg = hasTool('ffmpeg') && hasTool('ffprobe', 'apt-get install ffmpeg');
const work = mkdtempSync(join(tmpdir(), 'rtmpbench-ts-muxer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Continuity counters per PID, in packet order. */
function continuity(ts: Buffer): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (let o = 0; o < ts.length; o += TS_PACKET_SIZE) {
    const pid = ((ts[o + 1]! & 0x1f) << 8) | ts[o + 2]!;
    const list = out.get(pid) ?? [];
    list.push(ts[o + 3]! & 0x0f);
    out.set(pid, list);
  }
  return out;
}

async function probe(file: string, stream: 'v' | 'a'): Promise<number> {
  const r = await run('ffprobe', [
    '-v',
    'error',
    '-count_frames',
    '-select_streams',
    stream,
    '-show_entries',
    'stream=nb_read_frames',
    '-of',
    'json',
    file,
  ]);
  return Number((JSON.parse(r.stdout) as { streams: { nb_read_frames: string }[] }).streams[0]?.nb_read_frames);
}

async function decodeErrors(file: string): Promise<string> {
  const r = await run('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-']);
  return r.code === 0 ? r.stderr : `exit ${r.code}: ${r.stderr}`;
}

describe('MPEG-TS basics', () => {
  it('computes CRC-32/MPEG-2 (check value of "123456789" is 0x0376E6E7)', () => {
    const b = Buffer.from('123456789');
    expect(crc32Mpeg(b, 0, b.length)).toBe(0x0376e6e7);
  });
});

describe('TsMuxer', () => {
  it('writes the PAT ffmpeg writes for program 1 on PMT PID 0x1000, then a PMT naming H.264 and AAC', () => {
    const muxer = new TsMuxer();
    const tags = syntheticTags(1);
    muxer.videoMessage(0, tags[0]!.payload);
    muxer.audioMessage(0, tags[1]!.payload);
    const t = muxer.tables();
    expect(t.length).toBe(2 * TS_PACKET_SIZE);
    expect(t.subarray(0, 21)).toEqual(hex('47 40 00 10 00 00 b0 0d 00 01 c1 00 00 00 01 f0 00 2a b1 04 b2'));
    expect(t.subarray(21, TS_PACKET_SIZE).every((b) => b === 0xff)).toBe(true);
    const pmt = t.subarray(TS_PACKET_SIZE);
    expect(pmt.subarray(0, 5)).toEqual(hex('47 50 00 10 00'));
    const sectionLength = ((pmt[6]! & 0x0f) << 8) | pmt[7]!;
    expect(crc32Mpeg(pmt, 5, 5 + 3 + sectionLength)).toBe(0);
    // PCR PID 0x100; streams: 0x1b on 0x100, 0x0f on 0x101.
    expect(pmt.subarray(13, 27)).toEqual(hex('e1 00 f0 00 1b e1 00 f0 00 0f e1 01 f0 00'));
  });

  it('writes whole 188-byte packets with continuous counters per PID', () => {
    const ts = muxTags(syntheticTags(60));
    expect(ts.length % TS_PACKET_SIZE).toBe(0);
    for (let o = 0; o < ts.length; o += TS_PACKET_SIZE) expect(ts[o]).toBe(0x47);
    for (const [pid, ccs] of continuity(ts)) {
      for (const [i, cc] of ccs.entries()) expect(cc, `PID ${pid} packet ${i}`).toBe(i & 0x0f);
    }
  });

  it('round-trips synthetic AVC: every mark, PTS from the timestamp, keyframes, and audio frames', () => {
    const tags = syntheticTags(60);
    const { units, audio, errors } = demux(muxTags(tags));
    expect(errors).toEqual([]);
    expect(units.map((u) => u.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(units.map((u) => u.pts)).toEqual(Array.from({ length: 60 }, (_, i) => i * 40 * 90));
    expect(units.map((u) => u.dts)).toEqual(units.map((u) => u.pts));
    expect(units.filter((u) => u.keyframe).map((u) => u.seq)).toEqual([0, 25, 50]);
    expect(units[3]!.intendedUs).toBe(MARK_BASE_US + 120_000);
    const audioTags = tags.filter((t) => t.typeId === 8).length - 1;
    expect(audio.reduce((n, a) => n + a.frames, 0)).toBe(audioTags);
  });

  it('puts an access unit delimiter first, and SPS and PPS before keyframes only, ahead of the mark', () => {
    const { units } = demux(muxTags(syntheticTags(3)));
    const key = units[0]!.prefix;
    expect(key.subarray(0, 6)).toEqual(hex('00 00 00 01 09 f0'));
    expect(key[10]! & 0x1f).toBe(7); // SPS
    const ppsAt = key.indexOf(hex('00 00 00 01 68'), 6);
    expect(ppsAt).toBeGreaterThan(10);
    expect(units[1]!.prefix.subarray(0, 11)).toEqual(hex('00 00 00 01 09 f0 00 00 00 01 06'));
  });

  it('round-trips synthetic HEVC sent as Enhanced RTMP (hvc1): VPS/SPS/PPS on keyframes and every mark', () => {
    const { units, errors } = demux(muxTags(syntheticTags(30, { codec: 'hevc' })));
    expect(errors).toEqual([]);
    expect(units.map((u) => u.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(units.filter((u) => u.keyframe).map((u) => u.seq)).toEqual([0, 25]);
    const key = units[0]!.prefix;
    expect(key.subarray(0, 7)).toEqual(hex('00 00 00 01 46 01 50'));
    expect((key[11]! >>> 1) & 0x3f).toBe(32); // VPS
  });

  it('writes PTS and DTS apart when a frame has a composition time', () => {
    const muxer = new TsMuxer();
    const [vsh] = syntheticTags(1);
    muxer.videoMessage(0, vsh!.payload);
    const frame = Buffer.from(syntheticTags(2)[3]!.payload);
    frame.writeUIntBE(80, 2, 3); // composition time 80 ms
    const ts = Buffer.concat([Buffer.from(muxer.tables()), Buffer.from(muxer.videoMessage(1000, frame))]);
    const { units } = demux(ts);
    expect(units.map((u) => [u.dts, u.pts])).toEqual([[90_000, 97_200]]);
  });

  it('fails with RTMP_ERR_NAL_MALFORMED when a NAL length runs past the frame', () => {
    const muxer = new TsMuxer();
    const tags = syntheticTags(1);
    muxer.videoMessage(0, tags[0]!.payload);
    const bad = Buffer.from(tags.find((t) => t.typeId === 9 && t.payload[1] === 1)!.payload);
    bad.writeUInt32BE(0x7fffffff, 5);
    expect(() => muxer.videoMessage(0, bad)).toThrow(expect.objectContaining({ code: 'RTMP_ERR_NAL_MALFORMED' }));
  });

  it('fails with RTMP_ERR_CODEC_CONFIG on a truncated sequence header, and skips frames before any', () => {
    const muxer = new TsMuxer();
    const tags = syntheticTags(1);
    expect(muxer.videoMessage(0, tags[2]!.payload).length).toBe(0);
    expect(muxer.stats().skipped).toBe(1);
    expect(() => muxer.videoMessage(0, tags[0]!.payload.subarray(0, 9))).toThrow(
      expect.objectContaining({ code: 'RTMP_ERR_CODEC_CONFIG' }),
    );
  });

  it.skipIf(!hasFfmpeg)(
    'muxes a marked real H.264/AAC clip that ffmpeg decodes without errors, every frame, marks intact',
    async () => {
      const clip = await makeClip(work, 'clip', { seconds: 4, gopSeconds: 1 });
      const { tags, videoFrames } = markedClip(clip);
      const ts = muxTags(tags);
      const file = join(work, 'clip.ts');
      writeFileSync(file, ts);
      expect(await decodeErrors(file)).toBe('');
      expect(await probe(file, 'v')).toBe(videoFrames);
      expect(await probe(file, 'a')).toBe(tags.filter((t) => t.typeId === 8).length - 1);
      const r = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'json', file]);
      expect(
        (JSON.parse(r.stdout) as { streams: { codec_name: string }[] }).streams.map((s) => s.codec_name).sort(),
      ).toEqual(['aac', 'h264']);
      expect(demux(ts).units.map((u) => u.seq)).toEqual(Array.from({ length: videoFrames }, (_, i) => i));
    },
  );

  it.skipIf(!hasFfmpeg)(
    'muxes H.264 with B-frames (composition times) that ffmpeg decodes without errors',
    async () => {
      const file = join(work, 'bframes.flv');
      const mk = await run('ffmpeg', [
        '-hide_banner',
        '-loglevel',
        'error',
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=320x240:rate=25',
        '-t',
        '3',
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-bf',
        '3',
        '-g',
        '25',
        '-pix_fmt',
        'yuv420p',
        '-f',
        'flv',
        '-y',
        file,
      ]);
      expect(mk.code, mk.stderr).toBe(0);
      const { tags, videoFrames } = markedClip(file);
      expect(tags.some((t) => t.typeId === 9 && t.payload[1] === 1 && t.payload.readUIntBE(2, 3) > 0)).toBe(true);
      const out = join(work, 'bframes.ts');
      writeFileSync(out, muxTags(tags));
      expect(await decodeErrors(out)).toBe('');
      expect(await probe(out, 'v')).toBe(videoFrames);
    },
  );

  it.skipIf(!hasFfmpeg)('muxes HEVC (libx265, as Enhanced RTMP tags) that ffmpeg decodes without errors', async () => {
    const mp4 = join(work, 'hevc.mp4');
    const mk = await run('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=320x240:rate=25',
      '-t',
      '2',
      '-c:v',
      'libx265',
      '-preset',
      'ultrafast',
      '-x265-params',
      'bframes=0:keyint=25:min-keyint=25:log-level=error',
      '-tag:v',
      'hvc1',
      '-movflags',
      'frag_keyframe+empty_moov+default_base_moof',
      '-f',
      'mp4',
      '-y',
      mp4,
    ]);
    expect(mk.code, mk.stderr).toBe(0);
    const file = readFileSync(mp4);
    const { samples, init } = readMp4Segment(file, null);
    const track = init!.tracks.find((t) => t.handler === 'vide')!;
    expect(track.videoConfig?.codec).toBe('hevc');
    // E-RTMP tags: SequenceStart with the hvcC record, then CodedFrames.
    const hvcC = hevcRecordOf(file);
    const tags: FlvTag[] = [{ typeId: 9, timestamp: 0, payload: Buffer.concat([hex('90 68 76 63 31'), hvcC]) }];
    for (const s of samples) {
      const head = Buffer.from([0x80 | ((s.keyframe ? 1 : 2) << 4) | 1, 0x68, 0x76, 0x63, 0x31, 0, 0, 0]);
      tags.push({
        typeId: 9,
        timestamp: Math.round((s.decodeTime * 1000) / track.timescale),
        payload: Buffer.concat([head, file.subarray(s.offset, s.offset + s.size)]),
      });
    }
    const out = join(work, 'hevc.ts');
    writeFileSync(out, muxTags(tags));
    expect(await decodeErrors(out)).toBe('');
    expect(await probe(out, 'v')).toBe(samples.length);
    expect(samples.length).toBe(50);
  });
});

/** The body of the first hvcC box in an MP4 file. */
function hevcRecordOf(file: Buffer): Buffer {
  const at = file.indexOf('hvcC', 0, 'latin1');
  const size = file.readUInt32BE(at - 4);
  return file.subarray(at + 4, at - 4 + size);
}
