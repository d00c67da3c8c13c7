/**
 * When a buffering HLS player (hls.js with its defaults) would show each frame: playback
 * starts as soon as the first segment is in, runs at 1x on the media clock, and stalls
 * (rebuffers) when a segment arrives after its first frame was due, resuming on arrival.
 * Defaults of hls.js that this follows: no catch-up (liveMaxLatencyDurationCount is Infinity,
 * maxLiveSyncPlaybackRate is 1), so a viewer that fell behind stays behind. Across a
 * discontinuity, or a jump over segments that left the playlist, the next segment plays
 * right after the last one (timestamps are not continuous there).
 *
 * A player that starts at a point inside the media (LL-HLS: hold-back behind the live edge, loaded
 * from the keyframe before it) starts its clock when the segment or part holding that point is in,
 * showing that point first; the units before it are loaded only to be decoded up to the point.
 */
export class PlayoutClock {
  /** Monotonic µs at which media time `anchorMediaMs` plays. */
  private anchorUs = -1;
  private anchorMediaMs = 0;
  /** When the segment after the last one would start, µs. */
  private nextStartUs = 0;
  /** Media the first segment holds before the point playback starts at, ms. */
  private seekMs = 0;
  /** Media time of the start point, until the unit holding it is in (-1: started, or no point). */
  private pendingStartMs = -1;
  rebuffers = 0;
  rebufferUs = 0;

  get started(): boolean {
    return this.anchorUs >= 0;
  }

  /**
   * Playback starts `ms` into the first unit's media rather than at its first frame, when the unit
   * holding that point is in (a player that loads from a keyframe before its start point and
   * seeks to the point, as hls.js does: it cannot show the point before it has the frame).
   */
  seekIntoFirst(ms: number): void {
    if (this.anchorUs < 0) this.seekMs = ms;
  }

  /**
   * A downloaded segment: its earliest presentation time (ms), duration, when its bytes were in
   * (µs), and whether its timestamps continue the previous segment's.
   */
  beginSegment(firstPtsMs: number, durationS: number, arrivalUs: number, continuous: boolean): void {
    if (this.anchorUs < 0) {
      this.anchorUs = arrivalUs;
      this.anchorMediaMs = firstPtsMs + this.seekMs;
      // A start point past this unit's end (never without one: a frame of no duration holds its own time).
      if (this.seekMs > 0 && firstPtsMs + durationS * 1000 <= this.anchorMediaMs)
        this.pendingStartMs = this.anchorMediaMs;
    } else if (this.pendingStartMs >= 0) {
      // Loaded to be decoded up to the start point; the unit holding it starts the clock there.
      if (!continuous || firstPtsMs + durationS * 1000 > this.pendingStartMs) {
        this.anchorUs = arrivalUs;
        this.anchorMediaMs = continuous ? this.pendingStartMs : firstPtsMs;
        this.pendingStartMs = -1;
      }
    } else if (!continuous) {
      this.anchorUs = Math.max(arrivalUs, this.nextStartUs);
      this.anchorMediaMs = firstPtsMs;
    } else {
      const due = this.at(firstPtsMs);
      if (arrivalUs > due) {
        // The player ran out of media: it waits for this segment, then plays on.
        this.rebuffers++;
        this.rebufferUs += arrivalUs - due;
        this.anchorUs = arrivalUs;
        this.anchorMediaMs = firstPtsMs;
      }
    }
    this.nextStartUs = this.at(firstPtsMs) + durationS * 1e6;
  }

  /** When the frame with presentation time `ptsMs` of the current segment shows. */
  at(ptsMs: number): number {
    return this.anchorUs + (ptsMs - this.anchorMediaMs) * 1000;
  }
}
