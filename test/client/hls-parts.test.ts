import { describe, expect, it } from 'vitest';
import { positionAfter, nextDirective, startPosition, unitAt, withDirective } from '../../src/client/hls-parts.js';
import { parsePlaylist, type MediaPlaylist } from '../../src/media/m3u8.js';

/** Segments 10 and 11 whole (11 with its parts listed), 12 under way with two parts, the third hinted. */
const TEXT = `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600
#EXT-X-PART-INF:PART-TARGET=0.200
#EXT-X-MEDIA-SEQUENCE:10
#EXTINF:1.000,
a-10.ts
#EXT-X-PART:DURATION=0.200,URI="a-11.0.ts",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.200,URI="a-11.1.ts"
#EXT-X-PART:DURATION=0.200,URI="a-11.2.ts"
#EXT-X-PART:DURATION=0.200,URI="a-11.3.ts"
#EXT-X-PART:DURATION=0.200,URI="a-11.4.ts"
#EXTINF:1.000,
a-11.ts
#EXT-X-PART:DURATION=0.200,URI="a-12.0.ts",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.200,URI="a-12.1.ts"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="a-12.2.ts"
`;
const p = parsePlaylist(TEXT) as MediaPlaylist;

describe('LL-HLS positions in a playlist', () => {
  it('asks the next blocking reload for the part after the last one listed', () => {
    expect(nextDirective(p)).toEqual({ msn: 12, part: 2 });
    expect(withDirective('http://h/live/s/index.m3u8?token=t', nextDirective(p))).toBe(
      'http://h/live/s/index.m3u8?token=t&_HLS_msn=12&_HLS_part=2',
    );
  });

  it('starts PART-HOLD-BACK behind the end, moved back to a part that starts with a keyframe', () => {
    // 0.6 s before the end falls in part 11.4; the nearest independent part before it is 11.0.
    // The point lies 0.8 s into it (2.4 s listed, 1.8 s from the start; 11.0 starts at 1.0 s).
    const s = startPosition(p, 0.6);
    expect({ msn: s.msn, part: s.part }).toEqual({ msn: 11, part: 0 });
    expect(s.seekS).toBeCloseTo(0.8, 6);
    // 0.3 s falls in 12.0 (2.1 s), itself independent: 0.1 s into it.
    const t = startPosition(p, 0.3);
    expect({ msn: t.msn, part: t.part }).toEqual({ msn: 12, part: 0 });
    expect(t.seekS).toBeCloseTo(0.1, 6);
  });

  it('walks parts in order, across segment ends, to the hint only when told to', () => {
    const seen: string[] = [];
    let pos = { msn: 11, part: 3 };
    for (;;) {
      const found = unitAt(p, pos, true);
      if (found === null) break;
      seen.push(`${found.unit.uri}${found.unit.hinted ? ' (hinted)' : ''}`);
      if (found.unit.hinted) break;
      pos = positionAfter(found.unit);
    }
    expect(seen).toEqual(['a-11.3.ts', 'a-11.4.ts', 'a-12.0.ts', 'a-12.1.ts', 'a-12.2.ts (hinted)']);
    expect(unitAt(p, { msn: 12, part: 2 }, false)).toBeNull();
  });

  it('fetches a segment listed without parts whole, and jumps over segments that left the playlist', () => {
    const found = unitAt(p, { msn: 7, part: 3 }, false)!;
    expect(found.skipped).toBe(3);
    expect(found.unit).toMatchObject({ msn: 10, part: -1, uri: 'a-10.ts', independent: true });
    expect(positionAfter(found.unit)).toEqual({ msn: 11, part: 0 });
  });
});
