import { describe, expect, it } from 'vitest';
import {
  AudioFourCc,
  classifyAudio,
  classifyVideo,
  fourCcToString,
  listTracks,
  newAudioTagInfo,
  newVideoTagInfo,
  parseAudioTag,
  parseVideoTag,
  VideoFourCc,
} from '../../src/protocol/media-tags.js';
import { hex } from '../helpers/bytes.js';

const fc = (s: string) => Buffer.from(s, 'latin1').toString('hex');

describe('legacy video tags', () => {
  const cases: [string, string, Partial<ReturnType<typeof parseVideoTag>>][] = [
    [
      'AVC sequence header',
      '17 00 000000 01640028',
      { codec: 'avc', sequenceHeader: true, keyframe: false, packetType: 0, dataOffset: 5 },
    ],
    ['AVC keyframe', '17 01 000000 00000001 65', { codec: 'avc', keyframe: true, frameType: 1, dataOffset: 5 }],
    [
      'AVC inter frame with composition time',
      '27 01 000042 00000001 41',
      { codec: 'avc', keyframe: false, frameType: 2, compositionTimeMs: 0x42 },
    ],
    ['AVC negative composition time', '27 01 ffffff 00', { compositionTimeMs: -1 }],
    ['AVC end of sequence', '17 02 000000', { sequenceEnd: true, keyframe: false }],
    ['legacy HEVC (codec id 12) keyframe', '1c 01 000000 00', { codec: 'hevc', keyframe: true }],
    ['disposable H.263 frame', '32 aa', { codec: 'h263', disposable: true, keyframe: false }],
    ['VP6 keyframe', '14 00', { codec: 'vp6', keyframe: true }],
    ['video info/command frame', '57 01', { command: true, keyframe: false }],
  ];
  for (const [name, bytes, expected] of cases) {
    it(`classifies ${name}`, () => {
      expect(parseVideoTag(hex(bytes))).toMatchObject({ enhanced: false, ...expected });
    });
  }

  it('cannot classify an AVC tag shorter than its 5-byte header', () => {
    expect(classifyVideo(hex('17 01 00'), newVideoTagInfo())).toBe(false);
    expect(() => parseVideoTag(hex(''))).toThrow(expect.objectContaining({ code: 'RTMP_ERR_TAG_TRUNCATED' }));
  });
});

describe('Enhanced RTMP video tags', () => {
  const cases: [string, string, Partial<ReturnType<typeof parseVideoTag>>][] = [
    [
      'hvc1 SequenceStart',
      `90 ${fc('hvc1')} 01`,
      { codec: 'hevc', sequenceHeader: true, packetType: 0, dataOffset: 5 },
    ],
    [
      'hvc1 CodedFrames keyframe with composition time',
      `91 ${fc('hvc1')} 000010 00`,
      { codec: 'hevc', keyframe: true, compositionTimeMs: 16, dataOffset: 8 },
    ],
    [
      'hvc1 CodedFramesX inter frame',
      `a3 ${fc('hvc1')} 00`,
      { codec: 'hevc', keyframe: false, frameType: 2, packetType: 3, dataOffset: 5 },
    ],
    ['av01 SequenceStart', `90 ${fc('av01')} 81`, { codec: 'av1', sequenceHeader: true }],
    [
      'av01 CodedFrames keyframe (no composition time)',
      `91 ${fc('av01')} 12`,
      { codec: 'av1', keyframe: true, dataOffset: 5 },
    ],
    ['vp09 CodedFrames inter frame', `a1 ${fc('vp09')} 00`, { codec: 'vp9', keyframe: false }],
    ['avc1 CodedFrames keyframe', `91 ${fc('avc1')} 000000 00`, { codec: 'avc', keyframe: true, dataOffset: 8 }],
    ['SequenceEnd', `92 ${fc('hvc1')}`, { sequenceEnd: true, keyframe: false }],
    ['Metadata (frame type ignored)', `94 ${fc('hvc1')} 02`, { command: true, keyframe: false, packetType: 4 }],
    ['MPEG2TSSequenceStart', `95 ${fc('av01')} 00`, { sequenceHeader: true, packetType: 5 }],
    ['command frame', `d1 00`, { command: true, keyframe: false }],
  ];
  for (const [name, bytes, expected] of cases) {
    it(`classifies ${name}`, () => {
      expect(parseVideoTag(hex(bytes))).toMatchObject({ enhanced: true, ...expected });
    });
  }

  it('reports the FourCC as codecId', () => {
    expect(fourCcToString(parseVideoTag(hex(`91 ${fc('hvc1')} 000000`)).codecId)).toBe('hvc1');
    expect(parseVideoTag(hex(`91 ${fc('vvc1')} 000000`)).codecId).toBe(VideoFourCc.VVC);
  });

  it('skips ModEx data with an 8-bit size and reads the packet type after it', () => {
    // ModEx, size 3 (UI8 2 + 1), data, then modExType 0 (TimestampOffsetNano) / packet type 1.
    const info = parseVideoTag(hex(`97 02 0f4240 01 ${fc('hvc1')} 000000 aa`));
    expect(info).toMatchObject({ codec: 'hevc', packetType: 1, keyframe: true, dataOffset: 13 });
  });

  it('skips ModEx data with a 16-bit size', () => {
    const data = 'ee'.repeat(300);
    // UI8 255 -> 256 -> read UI16 (299) + 1 = 300 bytes.
    const info = parseVideoTag(hex(`a7 ff 012b ${data} 03 ${fc('av01')} 00`));
    expect(info).toMatchObject({ codec: 'av1', packetType: 3, keyframe: false, frameType: 2 });
  });

  it('classifies a OneTrack multitrack keyframe', () => {
    const info = parseVideoTag(hex(`96 01 ${fc('hvc1')} 00 000000 aa`));
    expect(info).toMatchObject({ multitrack: true, multitrackType: 0, codec: 'hevc', keyframe: true, dataOffset: 10 });
    expect(listTracks(hex(`96 01 ${fc('hvc1')} 00 000000 aa`), 'video')).toEqual([
      { trackId: 0, fourCc: VideoFourCc.HEVC, offset: 7, length: 4 },
    ]);
  });

  it('lists the tracks of a ManyTracks and a ManyTracksManyCodecs message', () => {
    const many = hex(`96 11 ${fc('av01')} 00 000002 aabb 01 000001 cc`);
    expect(parseVideoTag(many)).toMatchObject({ multitrack: true, multitrackType: 1, codec: 'av1', keyframe: true });
    expect(listTracks(many, 'video').map((t) => [t.trackId, fourCcToString(t.fourCc), t.length])).toEqual([
      [0, 'av01', 2],
      [1, 'av01', 1],
    ]);
    const mixed = hex(`96 23 ${fc('av01')} 00 000001 aa ${fc('vp09')} 01 000001 bb`);
    expect(parseVideoTag(mixed)).toMatchObject({ multitrackType: 2, codec: 'av1', packetType: 3 });
    expect(listTracks(mixed, 'video').map((t) => fourCcToString(t.fourCc))).toEqual(['av01', 'vp09']);
  });

  it('rejects multitrack nested in multitrack and unknown packet types', () => {
    expect(classifyVideo(hex(`96 06 ${fc('hvc1')} 00`), newVideoTagInfo())).toBe(false);
    expect(classifyVideo(hex(`98 ${fc('hvc1')} 00`), newVideoTagInfo())).toBe(false);
    expect(classifyVideo(hex(`91 686576`), newVideoTagInfo())).toBe(false);
    expect(classifyVideo(hex(`97 05 0102`), newVideoTagInfo())).toBe(false);
  });

  it('reuses the caller-owned result object without leaking fields between calls', () => {
    const info = newVideoTagInfo();
    classifyVideo(hex(`96 01 ${fc('hvc1')} 00 000000 aa`), info);
    classifyVideo(hex('27 01 000000 00'), info);
    expect(info).toMatchObject({
      enhanced: false,
      multitrack: false,
      multitrackType: -1,
      codec: 'avc',
      keyframe: false,
    });
  });
});

describe('audio tags', () => {
  it('classifies legacy AAC sequence header and raw frames', () => {
    expect(parseAudioTag(hex('af 00 1210'))).toMatchObject({
      codec: 'aac',
      sequenceHeader: true,
      packetType: 0,
      dataOffset: 2,
    });
    expect(parseAudioTag(hex('af 01 2100'))).toMatchObject({ codec: 'aac', sequenceHeader: false, packetType: 1 });
  });

  it('classifies legacy MP3, Speex and G.711', () => {
    expect(parseAudioTag(hex('2f ff'))).toMatchObject({ codec: 'mp3', soundFormat: 2 });
    expect(parseAudioTag(hex('b6 00'))).toMatchObject({ codec: 'speex' });
    expect(parseAudioTag(hex('72 00'))).toMatchObject({ codec: 'g711a' });
  });

  it('accepts the empty silence message', () => {
    expect(classifyAudio(Buffer.alloc(0), newAudioTagInfo())).toBe(true);
  });

  it('classifies ExAudio by FourCC', () => {
    expect(parseAudioTag(hex(`90 ${fc('mp4a')} 1210`))).toMatchObject({
      enhanced: true,
      codec: 'aac',
      sequenceHeader: true,
      dataOffset: 5,
    });
    expect(parseAudioTag(hex(`91 ${fc('Opus')} 00`))).toMatchObject({ codec: 'opus', packetType: 1 });
    expect(parseAudioTag(hex(`91 ${fc('fLaC')} 00`))).toMatchObject({ codec: 'flac' });
    expect(parseAudioTag(hex(`91 ${fc('ac-3')} 00`))).toMatchObject({ codec: 'ac3' });
    expect(parseAudioTag(hex(`91 ${fc('ec-3')} 00`))).toMatchObject({ codec: 'eac3' });
    expect(parseAudioTag(hex(`92 ${fc('Opus')}`))).toMatchObject({ sequenceEnd: true });
    expect(parseAudioTag(hex(`94 ${fc('Opus')} 01 02`))).toMatchObject({ packetType: 4 });
  });

  it('classifies ExAudio multitrack and ModEx', () => {
    expect(parseAudioTag(hex(`95 01 ${fc('Opus')} 00 aa`))).toMatchObject({
      multitrack: true,
      multitrackType: 0,
      codec: 'opus',
      fourCc: AudioFourCc.OPUS,
    });
    expect(parseAudioTag(hex(`97 02 0f4240 01 ${fc('mp4a')} aa`))).toMatchObject({
      codec: 'aac',
      packetType: 1,
      dataOffset: 10,
    });
    const many = hex(`95 11 ${fc('mp4a')} 00 000001 aa 01 000002 bbcc`);
    expect(listTracks(many, 'audio').map((t) => [t.trackId, t.length])).toEqual([
      [0, 1],
      [1, 2],
    ]);
  });

  it('cannot classify truncated ExAudio or AAC tags', () => {
    expect(classifyAudio(hex('af'), newAudioTagInfo())).toBe(false);
    expect(classifyAudio(hex('91 4f70'), newAudioTagInfo())).toBe(false);
    expect(classifyAudio(hex('93 4f707573'), newAudioTagInfo())).toBe(false);
  });
});
