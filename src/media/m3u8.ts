import { ProtocolError } from '../protocol/errors.js';

/**
 * HLS playlists (RFC 8216, with the Low-Latency HLS tags of its second edition): master
 * playlists (variants) and media playlists (segments with their sequence numbers, durations,
 * discontinuities, program date-times, init sections and partial segments). Unknown tags are
 * skipped, as clients must; bad input throws a ProtocolError naming the line.
 */

export interface ByteRange {
  length: number;
  /** Offset, or -1 when it follows the previous range of the same resource. */
  offset: number;
}

export interface Variant {
  uri: string;
  bandwidth: number;
  averageBandwidth: number | null;
  codecs: string | null;
  resolution: { width: number; height: number } | null;
  frameRate: number | null;
}

export interface MasterPlaylist {
  kind: 'master';
  version: number;
  variants: Variant[];
  independentSegments: boolean;
}

export interface InitSection {
  uri: string;
  byteRange: ByteRange | null;
}

export interface PartialSegment {
  uri: string;
  durationS: number;
  independent: boolean;
  byteRange: ByteRange | null;
  gap: boolean;
}

export interface MediaSegment {
  uri: string;
  durationS: number;
  title: string;
  /** Media sequence number. */
  msn: number;
  discontinuity: boolean;
  /** Discontinuity sequence number this segment belongs to. */
  discontinuitySequence: number;
  /** EXT-X-PROGRAM-DATE-TIME of this segment (explicit or carried forward), ms since the epoch, or null. */
  programDateTimeMs: number | null;
  map: InitSection | null;
  byteRange: ByteRange | null;
  gap: boolean;
  /** Partial segments of this segment (LL-HLS), in order. */
  parts: PartialSegment[];
}

export interface ServerControl {
  canBlockReload: boolean;
  canSkipUntilS: number | null;
  holdBackS: number | null;
  partHoldBackS: number | null;
}

export interface PreloadHint {
  type: 'PART' | 'MAP';
  uri: string;
  byteRangeStart: number | null;
  byteRangeLength: number | null;
}

export interface MediaPlaylist {
  kind: 'media';
  version: number;
  targetDurationS: number;
  mediaSequence: number;
  discontinuitySequence: number;
  endList: boolean;
  playlistType: 'EVENT' | 'VOD' | null;
  independentSegments: boolean;
  segments: MediaSegment[];
  /** Parts listed after the last complete segment: the segment being produced (LL-HLS). */
  pendingParts: PartialSegment[];
  partTargetS: number | null;
  serverControl: ServerControl | null;
  preloadHints: PreloadHint[];
  /** Segments left out by a delta update (EXT-X-SKIP). */
  skippedSegments: number;
}

export type Playlist = MasterPlaylist | MediaPlaylist;

export interface PlaylistLimits {
  /** Largest playlist text accepted, in characters. */
  maxChars?: number;
  /** Most segments accepted. */
  maxSegments?: number;
}

const DEFAULT_MAX_CHARS = 4 * 1024 * 1024;
const DEFAULT_MAX_SEGMENTS = 100_000;

function fail(line: number, message: string): never {
  throw new ProtocolError('RTMP_ERR_PLAYLIST_MALFORMED', `line ${line}: ${message}`, { line });
}

/** Parses an attribute list: KEY=VALUE pairs, values quoted strings or bare tokens. */
export function parseAttributes(text: string, line: number): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) fail(line, `attribute without a value: "${text.slice(i)}"`);
    const key = text.slice(i, eq).trim();
    if (!/^[A-Z0-9-]+$/.test(key)) fail(line, `bad attribute name "${key}"`);
    let value: string;
    if (text[eq + 1] === '"') {
      const close = text.indexOf('"', eq + 2);
      if (close < 0) fail(line, `unterminated quoted value of ${key}`);
      value = text.slice(eq + 2, close);
      i = close + 1;
      if (i < text.length && text[i] !== ',') fail(line, `unexpected "${text[i]}" after ${key}`);
    } else {
      const comma = text.indexOf(',', eq + 1);
      const end = comma < 0 ? text.length : comma;
      value = text.slice(eq + 1, end).trim();
      i = end;
    }
    out.set(key, value);
    if (text[i] === ',') i++;
  }
  return out;
}

function decimal(value: string | undefined, line: number, what: string): number {
  if (value === undefined || !/^-?\d+(\.\d+)?$/.test(value.trim()))
    fail(line, `${what}: "${value ?? ''}" is not a number`);
  return Number(value);
}

function integer(value: string | undefined, line: number, what: string): number {
  if (value === undefined || !/^\d+$/.test(value.trim()))
    fail(line, `${what}: "${value ?? ''}" is not a non-negative integer`);
  return Number(value);
}

function byteRange(value: string, line: number): ByteRange {
  const m = /^(\d+)(?:@(\d+))?$/.exec(value.trim());
  if (m === null) fail(line, `byte range "${value}" (expected LENGTH[@OFFSET])`);
  return { length: Number(m[1]), offset: m[2] === undefined ? -1 : Number(m[2]) };
}

function requireAttr(attrs: Map<string, string>, key: string, line: number, tag: string): string {
  const v = attrs.get(key);
  if (v === undefined) fail(line, `${tag} without ${key}`);
  return v;
}

/** Parses a playlist of either kind. */
export function parsePlaylist(text: string, limits: PlaylistLimits = {}): Playlist {
  const maxChars = limits.maxChars ?? DEFAULT_MAX_CHARS;
  if (text.length > maxChars) fail(1, `playlist of ${text.length} characters; the limit is ${maxChars}`);
  const lines = text.split(/\r?\n/);
  const first = (lines[0] ?? '').replace(/^\uFEFF/, '').trim();
  if (first !== '#EXTM3U') fail(1, `the first line is "${first.slice(0, 40)}", not #EXTM3U`);
  const isMaster = lines.some((l) => l.startsWith('#EXT-X-STREAM-INF:'));
  return isMaster ? parseMaster(lines) : parseMedia(lines, limits.maxSegments ?? DEFAULT_MAX_SEGMENTS);
}

export function parseMediaPlaylist(text: string, limits: PlaylistLimits = {}): MediaPlaylist {
  const p = parsePlaylist(text, limits);
  if (p.kind !== 'media') fail(1, 'a master playlist where a media playlist was expected');
  return p;
}

function parseMaster(lines: string[]): MasterPlaylist {
  const out: MasterPlaylist = { kind: 'master', version: 1, variants: [], independentSegments: false };
  let pending: { attrs: Map<string, string>; line: number } | null = null;
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]!.trim();
    const ln = n + 1;
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (line.startsWith('#EXT-X-STREAM-INF:')) {
        pending = { attrs: parseAttributes(line.slice(18), ln), line: ln };
      } else if (line.startsWith('#EXT-X-VERSION:')) {
        out.version = integer(line.slice(15), ln, 'EXT-X-VERSION');
      } else if (line === '#EXT-X-INDEPENDENT-SEGMENTS') {
        out.independentSegments = true;
      }
      continue;
    }
    if (pending === null) continue; // a URI not announced by EXT-X-STREAM-INF
    const a = pending.attrs;
    const res = a.get('RESOLUTION');
    let resolution: Variant['resolution'] = null;
    if (res !== undefined) {
      const m = /^(\d+)x(\d+)$/.exec(res);
      if (m === null) fail(pending.line, `RESOLUTION "${res}" (expected WIDTHxHEIGHT)`);
      resolution = { width: Number(m[1]), height: Number(m[2]) };
    }
    out.variants.push({
      uri: line,
      bandwidth: integer(requireAttr(a, 'BANDWIDTH', pending.line, 'EXT-X-STREAM-INF'), pending.line, 'BANDWIDTH'),
      averageBandwidth: a.has('AVERAGE-BANDWIDTH')
        ? integer(a.get('AVERAGE-BANDWIDTH'), pending.line, 'AVERAGE-BANDWIDTH')
        : null,
      codecs: a.get('CODECS') ?? null,
      resolution,
      frameRate: a.has('FRAME-RATE') ? decimal(a.get('FRAME-RATE'), pending.line, 'FRAME-RATE') : null,
    });
    pending = null;
  }
  if (pending !== null) fail(pending.line, 'EXT-X-STREAM-INF without a URI after it');
  if (out.variants.length === 0) fail(1, 'a master playlist without variants');
  return out;
}

function parseMedia(lines: string[], maxSegments: number): MediaPlaylist {
  const out: MediaPlaylist = {
    kind: 'media',
    version: 1,
    targetDurationS: -1,
    mediaSequence: 0,
    discontinuitySequence: 0,
    endList: false,
    playlistType: null,
    independentSegments: false,
    segments: [],
    pendingParts: [],
    partTargetS: null,
    serverControl: null,
    preloadHints: [],
    skippedSegments: 0,
  };
  let sawSegment = false;
  // State carried to the next segment URI.
  let duration = -1;
  let title = '';
  let discontinuity = false;
  let gap = false;
  let range: ByteRange | null = null;
  let pdtMs: number | null = null;
  let map: InitSection | null = null;
  let parts: PartialSegment[] = [];
  let discontinuitySequence = -1;
  let msn = -1;
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]!.trim();
    const ln = n + 1;
    if (line === '') continue;
    if (!line.startsWith('#')) {
      if (duration < 0) fail(ln, `segment "${line}" without #EXTINF before it`);
      if (msn < 0) {
        msn = out.mediaSequence + out.skippedSegments;
        discontinuitySequence = out.discontinuitySequence;
      }
      if (discontinuity) discontinuitySequence++;
      if (out.segments.length >= maxSegments) fail(ln, `more than ${maxSegments} segments`);
      out.segments.push({
        uri: line,
        durationS: duration,
        title,
        msn,
        discontinuity,
        discontinuitySequence,
        programDateTimeMs: pdtMs,
        map,
        byteRange: range,
        gap,
        parts,
      });
      msn++;
      if (pdtMs !== null) pdtMs += duration * 1000;
      duration = -1;
      title = '';
      discontinuity = false;
      gap = false;
      range = null;
      parts = [];
      sawSegment = true;
      continue;
    }
    const colon = line.indexOf(':');
    const tag = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1);
    switch (tag) {
      case '#EXTINF': {
        const comma = value.indexOf(',');
        duration = decimal(comma < 0 ? value : value.slice(0, comma), ln, 'EXTINF duration');
        title = comma < 0 ? '' : value.slice(comma + 1);
        break;
      }
      case '#EXT-X-TARGETDURATION':
        out.targetDurationS = integer(value, ln, 'EXT-X-TARGETDURATION');
        break;
      case '#EXT-X-MEDIA-SEQUENCE':
        if (sawSegment) fail(ln, 'EXT-X-MEDIA-SEQUENCE after the first segment');
        out.mediaSequence = integer(value, ln, 'EXT-X-MEDIA-SEQUENCE');
        break;
      case '#EXT-X-DISCONTINUITY-SEQUENCE':
        if (sawSegment) fail(ln, 'EXT-X-DISCONTINUITY-SEQUENCE after the first segment');
        out.discontinuitySequence = integer(value, ln, 'EXT-X-DISCONTINUITY-SEQUENCE');
        break;
      case '#EXT-X-DISCONTINUITY':
        discontinuity = true;
        break;
      case '#EXT-X-GAP':
        gap = true;
        break;
      case '#EXT-X-BYTERANGE':
        range = byteRange(value, ln);
        break;
      case '#EXT-X-PROGRAM-DATE-TIME': {
        const t = Date.parse(value);
        if (Number.isNaN(t)) fail(ln, `EXT-X-PROGRAM-DATE-TIME "${value}" is not a date`);
        pdtMs = t;
        break;
      }
      case '#EXT-X-MAP': {
        const a = parseAttributes(value, ln);
        const r = a.get('BYTERANGE');
        map = { uri: requireAttr(a, 'URI', ln, 'EXT-X-MAP'), byteRange: r === undefined ? null : byteRange(r, ln) };
        break;
      }
      case '#EXT-X-ENDLIST':
        out.endList = true;
        break;
      case '#EXT-X-PLAYLIST-TYPE':
        if (value !== 'EVENT' && value !== 'VOD') fail(ln, `EXT-X-PLAYLIST-TYPE "${value}"`);
        out.playlistType = value;
        break;
      case '#EXT-X-VERSION':
        out.version = integer(value, ln, 'EXT-X-VERSION');
        break;
      case '#EXT-X-INDEPENDENT-SEGMENTS':
        out.independentSegments = true;
        break;
      case '#EXT-X-PART-INF': {
        const a = parseAttributes(value, ln);
        out.partTargetS = decimal(requireAttr(a, 'PART-TARGET', ln, 'EXT-X-PART-INF'), ln, 'PART-TARGET');
        break;
      }
      case '#EXT-X-PART': {
        const a = parseAttributes(value, ln);
        const r = a.get('BYTERANGE');
        parts.push({
          uri: requireAttr(a, 'URI', ln, 'EXT-X-PART'),
          durationS: decimal(requireAttr(a, 'DURATION', ln, 'EXT-X-PART'), ln, 'PART DURATION'),
          independent: a.get('INDEPENDENT') === 'YES',
          byteRange: r === undefined ? null : byteRange(r, ln),
          gap: a.get('GAP') === 'YES',
        });
        break;
      }
      case '#EXT-X-PRELOAD-HINT': {
        const a = parseAttributes(value, ln);
        const type = requireAttr(a, 'TYPE', ln, 'EXT-X-PRELOAD-HINT');
        if (type !== 'PART' && type !== 'MAP') fail(ln, `EXT-X-PRELOAD-HINT TYPE "${type}"`);
        out.preloadHints.push({
          type,
          uri: requireAttr(a, 'URI', ln, 'EXT-X-PRELOAD-HINT'),
          byteRangeStart: a.has('BYTERANGE-START') ? integer(a.get('BYTERANGE-START'), ln, 'BYTERANGE-START') : null,
          byteRangeLength: a.has('BYTERANGE-LENGTH')
            ? integer(a.get('BYTERANGE-LENGTH'), ln, 'BYTERANGE-LENGTH')
            : null,
        });
        break;
      }
      case '#EXT-X-SERVER-CONTROL': {
        const a = parseAttributes(value, ln);
        const num = (k: string) => (a.has(k) ? decimal(a.get(k), ln, k) : null);
        out.serverControl = {
          canBlockReload: a.get('CAN-BLOCK-RELOAD') === 'YES',
          canSkipUntilS: num('CAN-SKIP-UNTIL'),
          holdBackS: num('HOLD-BACK'),
          partHoldBackS: num('PART-HOLD-BACK'),
        };
        break;
      }
      case '#EXT-X-SKIP': {
        if (sawSegment) fail(ln, 'EXT-X-SKIP after the first segment');
        const a = parseAttributes(value, ln);
        out.skippedSegments = integer(requireAttr(a, 'SKIPPED-SEGMENTS', ln, 'EXT-X-SKIP'), ln, 'SKIPPED-SEGMENTS');
        break;
      }
      default:
        break; // comments and tags this client does not use
    }
  }
  if (out.targetDurationS < 0) fail(lines.length, 'a media playlist without EXT-X-TARGETDURATION');
  if (duration >= 0) fail(lines.length, '#EXTINF without a segment URI after it');
  out.pendingParts = parts;
  return out;
}

/** Resolves a playlist URI against the playlist's own URL. */
export function resolveUri(uri: string, base: string): string {
  return new URL(uri, base).toString();
}
