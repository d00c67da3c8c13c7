import { describe, expect, it } from 'vitest';
import {
  findMarkAnnexB,
  findMarkLengthPrefixed,
  isCodedSliceNal,
  markNalSize,
  writeMark,
  type MarkCodec,
  type TimingMark,
} from '../../src/media/timing-mark.js';
import { hex } from '../helpers/bytes.js';

function markNal(codec: MarkCodec, intendedUs: number, seq: number): Buffer {
  const b = Buffer.alloc(markNalSize(codec));
  writeMark(b, 0, codec, intendedUs, seq);
  return b; // 4-byte length prefix, then the NAL unit
}

const out = (): TimingMark => ({ intendedUs: 0, sentUs: 0, seq: 0, epoch: 0 });

describe('findMarkAnnexB', () => {
  it.each(['avc', 'hevc'] as const)(
    'finds a %s mark after an AUD and parameter sets, behind 3- and 4-byte start codes',
    (codec) => {
      const mark = markNal(codec, 123_456_789, 42).subarray(4);
      const aud = codec === 'avc' ? hex('09 f0') : hex('46 01 50');
      const sps = codec === 'avc' ? hex('67 42 c0 1f 00 00 03 00 80') : hex('42 01 01 01 60');
      const slice = codec === 'avc' ? hex('65 88 84 00') : hex('26 01 af');
      const au = Buffer.concat([
        hex('00 00 00 01'),
        aud,
        hex('00 00 01'),
        sps,
        hex('00 00 00 01'),
        mark,
        hex('00 00 01'),
        slice,
      ]);
      const m = out();
      expect(findMarkAnnexB(au, 0, au.length, codec, m)).toBe(true);
      expect(m).toEqual({ intendedUs: 123_456_789, sentUs: 123_456_789, seq: 42, epoch: 0 });
    },
  );

  it('stops at the first coded slice: a mark after it is not the frame mark', () => {
    const au = Buffer.concat([hex('00 00 00 01 65 88 84'), hex('00 00 00 01'), markNal('avc', 1, 1).subarray(4)]);
    expect(findMarkAnnexB(au, 0, au.length, 'avc', out())).toBe(false);
  });

  it('does not read a mark cut short by the end of the kept bytes', () => {
    const au = Buffer.concat([hex('00 00 00 01'), markNal('avc', 5, 6).subarray(4)]);
    expect(findMarkAnnexB(au, 0, au.length - 2, 'avc', out())).toBe(false);
    expect(findMarkAnnexB(au, 0, au.length, 'avc', out())).toBe(true);
  });

  it('ignores SEI of other UUIDs (an encoder’s own user data)', () => {
    const other = Buffer.from(markNal('avc', 1, 1).subarray(4));
    other[3] = other[3]! ^ 0x01; // first UUID byte
    const au = Buffer.concat([hex('00 00 00 01'), other, hex('00 00 00 01 41 9a')]);
    expect(findMarkAnnexB(au, 0, au.length, 'avc', out())).toBe(false);
  });
});

describe('findMarkLengthPrefixed', () => {
  it.each([
    ['avc', 4],
    ['hevc', 4],
    ['avc', 2],
  ] as const)('finds a %s mark among %i-byte length-prefixed NAL units', (codec, lengthSize) => {
    const nal = markNal(codec, 9_999, 7).subarray(4);
    const prefix = (n: Buffer) => {
      const l = Buffer.alloc(lengthSize);
      l.writeUIntBE(n.length, 0, lengthSize);
      return Buffer.concat([l, n]);
    };
    const sei = codec === 'avc' ? hex('06 05 02 aa bb 80') : hex('4e 01 05 02 aa bb 80');
    const sample = Buffer.concat([
      prefix(sei),
      prefix(nal),
      prefix(codec === 'avc' ? hex('41 9a 00') : hex('02 01 d0')),
    ]);
    const m = out();
    expect(findMarkLengthPrefixed(sample, 0, sample.length, lengthSize, codec, m)).toBe(true);
    expect(m.seq).toBe(7);
  });

  it('walks past a unit that runs beyond the kept bytes without reading past them', () => {
    const sample = Buffer.concat([hex('00 00 10 00 06 05'), Buffer.alloc(10, 0x80)]);
    expect(findMarkLengthPrefixed(sample, 0, sample.length, 4, 'avc', out())).toBe(false);
  });
});

describe('isCodedSliceNal', () => {
  it('knows AVC slices 1-5 and HEVC VCL types 0-31', () => {
    expect([1, 5, 6, 7, 9].map((t) => isCodedSliceNal(t | 0x60, 'avc'))).toEqual([true, true, false, false, false]);
    expect([1, 19, 21, 32, 35, 39].map((t) => isCodedSliceNal(t << 1, 'hevc'))).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});

describe('epochs', () => {
  it("carries the publication's epoch beside the frame number, each read back apart", async () => {
    const { writeMark, readMark, markNalSize, newTimingMark, MAX_EPOCH } = await import(
      '../../src/media/timing-mark.js'
    );
    const buf = Buffer.alloc(markNalSize('avc'));
    for (const [seq, epoch] of [
      [0, 0],
      [42, 1],
      [16_777_215, 7],
      [5, MAX_EPOCH],
    ] as const) {
      writeMark(buf, 0, 'avc', 1_000_000, seq, epoch);
      const m = newTimingMark();
      expect(readMark(buf, 0, 'avc', m)).toBe(true);
      expect([m.seq, m.epoch]).toEqual([seq, epoch]);
    }
  });
});
