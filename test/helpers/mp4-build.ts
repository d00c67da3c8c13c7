/** Builds small ISO BMFF files by hand, for golden tests of the fMP4 reader. */

export function box(type: string, ...body: Buffer[]): Buffer {
  const content = Buffer.concat(body);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + content.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, content]);
}

function fullBox(type: string, version: number, flags: number, ...body: Buffer[]): Buffer {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE(((version << 24) | flags) >>> 0, 0);
  return box(type, vf, ...body);
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  for (const [i, v] of values.entries()) b.writeUInt32BE(v >>> 0, 4 * i);
  return b;
}

function i32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v, 0);
  return b;
}

/** An init segment with one AVC video track (id 1) and one AAC track (id 2). */
export function initSegment(avcC: Buffer, opts: { videoTimescale?: number; audioTimescale?: number } = {}): Buffer {
  const trak = (id: number, handler: string, timescale: number, entry: Buffer) =>
    box(
      'trak',
      fullBox('tkhd', 0, 3, u32(0, 0, id, 0, 0), Buffer.alloc(60)),
      box(
        'mdia',
        fullBox('mdhd', 0, 0, u32(0, 0, timescale, 0), Buffer.alloc(4)),
        fullBox('hdlr', 0, 0, u32(0), Buffer.from(handler, 'latin1'), Buffer.alloc(13)),
        box('minf', box('stbl', fullBox('stsd', 0, 0, u32(1), entry))),
      ),
    );
  const avc1 = box('avc1', Buffer.alloc(78), box('avcC', avcC));
  const mp4a = box('mp4a', Buffer.alloc(28));
  return Buffer.concat([
    box('ftyp', Buffer.from('iso6', 'latin1'), u32(0)),
    box(
      'moov',
      fullBox('mvhd', 0, 0, Buffer.alloc(96)),
      trak(1, 'vide', opts.videoTimescale ?? 90_000, avc1),
      trak(2, 'soun', opts.audioTimescale ?? 44_100, mp4a),
      box(
        'mvex',
        fullBox('trex', 0, 0, u32(1, 1, 3000, 0, 0x01010000)),
        fullBox('trex', 0, 0, u32(2, 1, 1024, 0, 0x02000000)),
      ),
    ),
  ]);
}

export interface BuiltSample {
  data: Buffer;
  duration?: number;
  cto?: number;
  flags?: number;
}

/**
 * A media segment: one moof with a traf per track (default-base-is-moof), then one mdat with
 * the tracks' samples in the same order.
 */
export function mediaSegment(seq: number, tracks: { id: number; baseTime: number; samples: BuiltSample[] }[]): Buffer {
  const build = (dataOffsets: number[]) =>
    box(
      'moof',
      fullBox('mfhd', 0, 0, u32(seq)),
      ...tracks.map((t, i) =>
        box(
          'traf',
          fullBox('tfhd', 0, 0x020000, u32(t.id)),
          fullBox('tfdt', 1, 0, u32(Math.floor(t.baseTime / 2 ** 32), t.baseTime % 2 ** 32)),
          fullBox(
            'trun',
            1,
            0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800,
            u32(t.samples.length),
            i32(dataOffsets[i] ?? 0),
            ...t.samples.map((s) =>
              Buffer.concat([u32(s.duration ?? 3000, s.data.length, s.flags ?? 0x01010000), i32(s.cto ?? 0)]),
            ),
          ),
        ),
      ),
    );
  const sizeOfMoof = build(tracks.map(() => 0)).length;
  const offsets: number[] = [];
  let at = sizeOfMoof + 8;
  for (const t of tracks) {
    offsets.push(at);
    for (const s of t.samples) at += s.data.length;
  }
  const moof = build(offsets);
  return Buffer.concat([
    box('styp', Buffer.from('msdh', 'latin1'), u32(0)),
    moof,
    box('mdat', ...tracks.flatMap((t) => t.samples.map((s) => s.data))),
  ]);
}
