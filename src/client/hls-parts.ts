import type { ByteRange, InitSection, MediaPlaylist, MediaSegment, PartialSegment } from '../media/m3u8.js';

/**
 * Where an LL-HLS player stands in a playlist of segments and their parts, and what it fetches
 * next, as hls.js does in low-latency mode: parts near the live edge (whole segments where the
 * playlist lists no parts for them), one after the other; the next blocking reload asks for the
 * part after the last one listed (`_HLS_msn`, `_HLS_part`).
 *
 * A position is a segment's media sequence number and a part index in it; a segment listed
 * without parts is one unit at part 0.
 */

/** One thing to download: a part, or a whole segment. */
export interface HlsUnit {
  msn: number;
  /** Index of the part in its segment; -1 for a whole segment. */
  part: number;
  uri: string;
  durationS: number;
  /** It starts with a keyframe: a part marked INDEPENDENT, or a whole segment. */
  independent: boolean;
  discontinuity: boolean;
  byteRange: ByteRange | null;
  map: InitSection | null;
  /** Fetched from the preload hint, before a playlist listed it. */
  hinted: boolean;
}

export interface PartPosition {
  msn: number;
  part: number;
}

/** The number of the segment whose parts come after the last complete segment. */
function pendingMsn(p: MediaPlaylist): number {
  const last = p.segments[p.segments.length - 1];
  return last !== undefined ? last.msn + 1 : p.mediaSequence;
}

/** The delivery directive of the next blocking reload: the part after the last one listed (as hls.js asks). */
export function nextDirective(p: MediaPlaylist): PartPosition {
  return { msn: pendingMsn(p), part: p.pendingParts.length };
}

/** `url` with the delivery directive as its query's last parameters. */
export function withDirective(url: string, d: PartPosition): string {
  const u = new URL(url);
  u.searchParams.set('_HLS_msn', String(d.msn));
  u.searchParams.set('_HLS_part', String(d.part));
  return u.toString();
}

/**
 * Where a low-latency player starts: the unit holding the point `holdBackS` before the end of
 * what is listed (parts included), moved back to the nearest unit that starts with a keyframe;
 * `seekS` is how far into the media from there the point lies (hls.js loads from the keyframe
 * and starts playing at the point).
 */
export function startPosition(p: MediaPlaylist, holdBackS: number): PartPosition & { seekS: number } {
  const units = listedUnits(p);
  if (units.length === 0) return { msn: pendingMsn(p), part: 0, seekS: 0 };
  let total = 0;
  for (const u of units) total += u.durationS;
  const target = Math.max(0, total - holdBackS);
  let at = 0;
  let i = 0;
  for (; i < units.length - 1; i++) {
    if (at + units[i]!.durationS > target) break;
    at += units[i]!.durationS;
  }
  while (i > 0 && !units[i]!.independent) {
    i--;
    at -= units[i]!.durationS;
  }
  const u = units[i]!;
  return { msn: u.msn, part: Math.max(0, u.part), seekS: Math.max(0, target - at) };
}

/**
 * The unit at `pos` (or the first after it that is listed), with the position it was found at;
 * `skipped` counts segments that left the playlist before the player got to them. The preload
 * hint is the unit when `hints` and the position is the part the hint names. Null when nothing
 * at or after `pos` is listed yet.
 */
export function unitAt(
  p: MediaPlaylist,
  pos: PartPosition,
  hints: boolean,
): { unit: HlsUnit; pos: PartPosition; skipped: number } | null {
  const segments = p.segments;
  const first = segments[0]?.msn ?? pendingMsn(p);
  let msn = pos.msn;
  let part = pos.part;
  let skipped = 0;
  if (msn < first) {
    skipped = first - msn;
    msn = first;
    part = 0;
  }
  for (;;) {
    const seg = segments[msn - first];
    if (seg === undefined) break;
    if (seg.parts.length === 0 && part === 0) return { unit: segmentUnit(seg), pos: { msn, part }, skipped };
    const x = seg.parts[part];
    if (x !== undefined)
      return {
        unit: partUnit(msn, part, x, part === 0 && seg.discontinuity, seg.map),
        pos: { msn, part },
        skipped,
      };
    // Past this segment's last part (or into a segment listed whole): on to the next segment.
    msn++;
    part = 0;
  }
  if (msn !== pendingMsn(p)) return null;
  const map = segments[segments.length - 1]?.map ?? null;
  const x = p.pendingParts[part];
  if (x !== undefined) return { unit: partUnit(msn, part, x, false, map), pos: { msn, part }, skipped };
  const hint = hints && part === p.pendingParts.length ? p.preloadHints.find((h) => h.type === 'PART') : undefined;
  if (hint === undefined || hint.byteRangeStart !== null) return null;
  const unit: HlsUnit = {
    msn,
    part,
    uri: hint.uri,
    durationS: p.partTargetS ?? 0,
    independent: false,
    discontinuity: false,
    byteRange: null,
    map,
    hinted: true,
  };
  return { unit, pos: { msn, part }, skipped };
}

/** A segment fetched whole. */
export function segmentUnit(seg: MediaSegment): HlsUnit {
  return {
    msn: seg.msn,
    part: -1,
    uri: seg.uri,
    durationS: seg.durationS,
    independent: true,
    discontinuity: seg.discontinuity,
    byteRange: seg.byteRange,
    map: seg.map,
    hinted: false,
  };
}

/** A listed part of segment `msn`. */
function partUnit(msn: number, part: number, x: PartialSegment, discontinuity: boolean, map: HlsUnit['map']): HlsUnit {
  return {
    msn,
    part,
    uri: x.uri,
    durationS: x.durationS,
    independent: x.independent,
    discontinuity,
    byteRange: x.byteRange,
    map,
    hinted: false,
  };
}

/** The position after a unit: its segment's next part, or the next segment after a whole one. */
export function positionAfter(u: HlsUnit): PartPosition {
  return u.part < 0 ? { msn: u.msn + 1, part: 0 } : { msn: u.msn, part: u.part + 1 };
}

/** The units a playlist lists, in order (for the start position). */
function listedUnits(p: MediaPlaylist): { msn: number; part: number; durationS: number; independent: boolean }[] {
  const out: { msn: number; part: number; durationS: number; independent: boolean }[] = [];
  for (const s of p.segments) {
    if (s.parts.length === 0) out.push({ msn: s.msn, part: -1, durationS: s.durationS, independent: true });
    else
      for (let i = 0; i < s.parts.length; i++)
        out.push({ msn: s.msn, part: i, durationS: s.parts[i]!.durationS, independent: s.parts[i]!.independent });
  }
  const m = pendingMsn(p);
  for (let i = 0; i < p.pendingParts.length; i++)
    out.push({ msn: m, part: i, durationS: p.pendingParts[i]!.durationS, independent: p.pendingParts[i]!.independent });
  return out;
}
