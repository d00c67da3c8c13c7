import { describe, expect, it } from 'vitest';
import {
  parseAttributes,
  parseMediaPlaylist,
  parsePlaylist,
  resolveUri,
  type MediaPlaylist,
} from '../../src/media/m3u8.js';

const LIVE = `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:41
#EXT-X-DISCONTINUITY-SEQUENCE:3
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:00:00.000Z
#EXTINF:2.000,
seg41.ts
#EXT-X-UNKNOWN-VENDOR-TAG:whatever=1
#EXTINF:1.960,live
seg42.ts
#EXT-X-DISCONTINUITY
#EXTINF:2.040,
seg43.ts
`;

describe('parsePlaylist (media)', () => {
  it('reads target duration, sequence numbers, durations, titles, discontinuities and date-times carried forward', () => {
    const p = parsePlaylist(LIVE) as MediaPlaylist;
    expect(p.kind).toBe('media');
    expect([p.version, p.targetDurationS, p.mediaSequence, p.discontinuitySequence, p.endList]).toEqual([
      3,
      2,
      41,
      3,
      false,
    ]);
    expect(
      p.segments.map((s) => [s.uri, s.msn, s.durationS, s.title, s.discontinuity, s.discontinuitySequence]),
    ).toEqual([
      ['seg41.ts', 41, 2, '', false, 3],
      ['seg42.ts', 42, 1.96, 'live', false, 3],
      ['seg43.ts', 43, 2.04, '', true, 4],
    ]);
    const t0 = Date.parse('2024-05-01T10:00:00.000Z');
    expect(p.segments.map((s) => s.programDateTimeMs)).toEqual([t0, t0 + 2000, t0 + 3960]);
  });

  it('reads ENDLIST, PLAYLIST-TYPE, MAP (with byte range) and CRLF line ends', () => {
    const p = parseMediaPlaylist(
      '#EXTM3U\r\n#EXT-X-TARGETDURATION:4\r\n#EXT-X-PLAYLIST-TYPE:VOD\r\n#EXT-X-MAP:URI="init.mp4",BYTERANGE="720@0"\r\n#EXTINF:4,\r\n#EXT-X-BYTERANGE:1000@720\r\nmain.mp4\r\n#EXTINF:4,\r\n#EXT-X-BYTERANGE:900\r\nmain.mp4\r\n#EXT-X-ENDLIST\r\n',
    );
    expect(p.endList).toBe(true);
    expect(p.playlistType).toBe('VOD');
    expect(p.segments[1]!.map).toEqual({ uri: 'init.mp4', byteRange: { length: 720, offset: 0 } });
    expect(p.segments.map((s) => s.byteRange)).toEqual([
      { length: 1000, offset: 720 },
      { length: 900, offset: -1 },
    ]);
  });

  it('reads the LL-HLS tags: PART-INF, PART (attached to their segment), PRELOAD-HINT and SERVER-CONTROL', () => {
    const p = parseMediaPlaylist(`#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:6
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0,CAN-SKIP-UNTIL=24.0
#EXT-X-PART-INF:PART-TARGET=0.33334
#EXT-X-MEDIA-SEQUENCE:266
#EXTINF:4.00008,
fileSequence266.mp4
#EXT-X-PART:DURATION=0.33334,URI="filePart267.0.mp4",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.33334,URI="filePart267.1.mp4"
#EXTINF:0.66668,
fileSequence267.mp4
#EXT-X-PART:DURATION=0.33334,URI="filePart268.0.mp4",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart268.1.mp4"
`);
    expect(p.serverControl).toEqual({ canBlockReload: true, canSkipUntilS: 24, holdBackS: null, partHoldBackS: 1 });
    expect(p.partTargetS).toBe(0.33334);
    expect(p.segments[1]!.parts.map((x) => [x.uri, x.independent])).toEqual([
      ['filePart267.0.mp4', true],
      ['filePart267.1.mp4', false],
    ]);
    expect(p.pendingParts.map((x) => x.uri)).toEqual(['filePart268.0.mp4']);
    expect(p.preloadHints).toEqual([
      { type: 'PART', uri: 'filePart268.1.mp4', byteRangeStart: null, byteRangeLength: null },
    ]);
  });

  it('numbers segments after an EXT-X-SKIP delta update', () => {
    const p = parseMediaPlaylist(
      '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n#EXT-X-SKIP:SKIPPED-SEGMENTS=5\n#EXTINF:2,\na.ts\n',
    );
    expect(p.segments[0]!.msn).toBe(15);
  });

  it.each([
    ['#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts', 'line 1: the first line is "#EXT-X-TARGETDURATION:2", not #EXTM3U'],
    ['#EXTM3U\n#EXTINF:2,\na.ts', 'without EXT-X-TARGETDURATION'],
    ['#EXTM3U\n#EXT-X-TARGETDURATION:two\n', 'line 2: EXT-X-TARGETDURATION: "two" is not a non-negative integer'],
    ['#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts', 'line 3: segment "a.ts" without #EXTINF before it'],
    ['#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:abc,\na.ts', 'line 3: EXTINF duration: "abc" is not a number'],
    ['#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n', '#EXTINF without a segment URI after it'],
    [
      '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-MEDIA-SEQUENCE:4',
      'line 5: EXT-X-MEDIA-SEQUENCE after the first segment',
    ],
    ['#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:BYTERANGE="1@0"', 'line 3: EXT-X-MAP without URI'],
    ['#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART:DURATION=1,URI="a', 'line 3: unterminated quoted value of URI'],
    [
      '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:yesterday',
      'line 3: EXT-X-PROGRAM-DATE-TIME "yesterday" is not a date',
    ],
  ])('rejects %j with a clear RTMP_ERR_PLAYLIST_MALFORMED error', (text, message) => {
    expect(() => parsePlaylist(text)).toThrow(
      expect.objectContaining({ code: 'RTMP_ERR_PLAYLIST_MALFORMED', message: expect.stringContaining(message) }),
    );
  });

  it('rejects a playlist above the size limit before splitting it', () => {
    expect(() => parsePlaylist(`#EXTM3U\n${'#'.repeat(100)}`, { maxChars: 50 })).toThrow(/limit is 50/);
  });
});

describe('parsePlaylist (master)', () => {
  it('reads variants with bandwidth, codecs, resolution and frame rate, skipping other tags', () => {
    const p = parsePlaylist(`#EXTM3U
#EXT-X-VERSION:4
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="audio.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000,CODECS="avc1.42e01e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=29.970
low/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2560000
http://cdn.example/high/index.m3u8
`);
    expect(p.kind).toBe('master');
    if (p.kind !== 'master') return;
    expect(p.independentSegments).toBe(true);
    expect(p.variants).toEqual([
      {
        uri: 'low/index.m3u8',
        bandwidth: 1_280_000,
        averageBandwidth: 1_000_000,
        codecs: 'avc1.42e01e,mp4a.40.2',
        resolution: { width: 640, height: 360 },
        frameRate: 29.97,
      },
      {
        uri: 'http://cdn.example/high/index.m3u8',
        bandwidth: 2_560_000,
        averageBandwidth: null,
        codecs: null,
        resolution: null,
        frameRate: null,
      },
    ]);
  });

  it('rejects a variant without BANDWIDTH or without a URI, and a master where a media playlist is needed', () => {
    expect(() => parsePlaylist('#EXTM3U\n#EXT-X-STREAM-INF:CODECS="avc1"\na.m3u8')).toThrow(
      /line 2: EXT-X-STREAM-INF without BANDWIDTH/,
    );
    expect(() => parsePlaylist('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n')).toThrow(
      /line 2: EXT-X-STREAM-INF without a URI/,
    );
    expect(() => parseMediaPlaylist('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8')).toThrow(
      /master playlist where a media playlist/,
    );
  });
});

describe('m3u8 helpers', () => {
  it('parses attribute lists with quoted commas', () => {
    expect([...parseAttributes('A=1,B="x,y",C=0x1F', 1)]).toEqual([
      ['A', '1'],
      ['B', 'x,y'],
      ['C', '0x1F'],
    ]);
  });

  it('resolves relative URIs against the playlist URL', () => {
    expect(resolveUri('seg1.ts', 'http://127.0.0.1:8080/live/s/index.m3u8')).toBe(
      'http://127.0.0.1:8080/live/s/seg1.ts',
    );
    expect(resolveUri('/hls/a.ts', 'http://h:1/live/s/index.m3u8?x=1')).toBe('http://h:1/hls/a.ts');
  });
});
