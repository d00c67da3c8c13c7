import { describe, expect, it } from 'vitest';
import type { VideoObservation } from '../../../src/client/player.js';
import { keepsProtocolHistograms, PlayerProbe, type ProbeContext } from '../../../src/load/shard/player-probe.js';
import type { HistogramKey } from '../../../src/metrics/histograms.js';

function context(protocolHistograms = true): ProbeContext & { recorded: [HistogramKey, number][] } {
  const recorded: [HistogramKey, number][] = [];
  return {
    startAtUs: 0,
    stallThresholdUs: 1_000_000,
    frameIntervalUs: 33_333,
    recorded,
    record: (m, us) => recorded.push([m, us]),
    measuring: () => true,
    publicationSeen: () => {},
    protocolHistograms,
  };
}

const frame = (arrivalUs: number, intendedUs: number, sentUs: number, seq: number): VideoObservation => ({
  arrivalUs,
  timestampMs: 0,
  keyframe: false,
  bytes: 100,
  mark: { intendedUs, sentUs, seq, epoch: 0 },
});

describe('a player probe', () => {
  it('measures a frame that left early (the pacing lookahead) from when it left, not from its intended time', () => {
    const ctx = context();
    const p = new PlayerProbe(ctx, 0, 'rtmp', false, 0, 0);
    // Intended at 10 ms, sent 0.8 ms early, arrived 0.3 ms after it was sent: before its intended time.
    p.onFrame(frame(9_500, 10_000, 9_200, 0));
    expect(ctx.recorded.find(([m]) => m === 'endToEnd')).toEqual(['endToEnd', 300]);
    // And into the protocol's own histogram.
    expect(ctx.recorded.find(([m]) => m === 'rtmp.endToEnd')).toEqual(['rtmp.endToEnd', 300]);
  });

  it('records no protocol histograms in a run that keeps none apart (RTMP viewers only)', () => {
    const ctx = context(false);
    const p = new PlayerProbe(ctx, 0, 'rtmp', false, 0, 0);
    p.onFrame(frame(9_500, 10_000, 9_200, 0));
    expect(ctx.recorded).toEqual([['endToEnd', 300]]);
  });

  it('keeps protocol histograms apart exactly when the viewers are not all RTMP', () => {
    expect(keepsProtocolHistograms(['rtmp'])).toBe(false);
    expect(keepsProtocolHistograms(['rtmp', 'rtmp'])).toBe(false);
    expect(keepsProtocolHistograms(['rtmp', 'hls'])).toBe(true);
    expect(keepsProtocolHistograms(['http-flv'])).toBe(true); // one protocol, but the summary reports it apart (byProtocol)
  });

  it("measures a frame that left late from its intended time, so the publisher's delay counts", () => {
    const ctx = context();
    const p = new PlayerProbe(ctx, 0, 'rtmp', false, 0, 0);
    p.onFrame(frame(20_500, 10_000, 20_000, 0));
    expect(ctx.recorded.find(([m]) => m === 'endToEnd')).toEqual(['endToEnd', 10_500]);
  });

  it('plays HTTP-FLV frames as mpegts.js does: from the first frame sent, at 1x, waiting for a late one', () => {
    const ctx = context();
    // The viewer joins at 600 ms.
    const p = new PlayerProbe(ctx, 0, 'http-flv', false, 0, 600_000);
    const at = (arrivalUs: number, timestampMs: number, sentUs: number): VideoObservation => ({
      ...frame(arrivalUs, sentUs, sentUs, timestampMs / 40),
      timestampMs,
    });
    // The GOP cache, at once: its keyframe was sent 500 ms before the join (not live: no latency recorded).
    p.onFrame(at(601_000, 0, 100_000));
    p.onFrame(at(601_010, 40, 140_000));
    // A live frame on time: shown as far behind live as the keyframe was (and 1 ms of delivery).
    p.onFrame(at(701_000, 600, 700_000));
    // A frame 300 ms past its time: the player waits for it and shows it on arrival.
    p.onFrame(at(1_541_000, 640, 740_000));
    // The next came with it, in time for its turn: shown as far behind as the late one.
    p.onFrame(at(1_541_040, 680, 780_000));
    const playout = ctx.recorded.filter(([m]) => m === 'httpFlv.playout').map(([, us]) => us);
    expect(playout).toEqual([501_000, 801_000, 801_000]);
    // At arrival, the same frames: as the simulated viewer measured them before it kept a playout clock.
    const arrival = ctx.recorded.filter(([m]) => m === 'httpFlv.endToEnd').map(([, us]) => us);
    expect(arrival).toEqual([1_000, 801_000, 761_040]);
  });

  it('keeps the first and last sequence numbers and the last latency for frame accounting', () => {
    const p = new PlayerProbe(context(), 3, 'rtmp', true, 0, 0);
    p.onFrame(frame(1000, 900, 900, 7));
    p.onFrame(frame(2000, 1800, 1800, 8));
    expect(p.endRecord(5000, false)).toMatchObject({
      stream: 3,
      slow: true,
      firstSeq: 7,
      lastSeq: 8,
      lastLatencyMs: 0.2,
      leftMs: 5,
    });
  });
});
