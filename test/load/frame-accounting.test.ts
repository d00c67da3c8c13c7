import { describe, expect, it } from 'vitest';
import { FrameAccounting } from '../../src/load/frame-accounting.js';
import type { SendLogChunk, ViewerRecord } from '../../src/load/worker-protocol.js';

/** A publisher sending frames 0..n-1 every 33 ms from t=0, a keyframe every 60. */
function sends(stream: number, n: number, everyMs = 33, gop = 60): SendLogChunk[] {
  const out: SendLogChunk[] = [];
  for (let first = 0; first < n; first += 30) {
    const count = Math.min(30, n - first);
    const seqs = Array.from({ length: count }, (_, i) => first + i);
    out.push({
      stream,
      epoch: 0,
      firstSeq: first,
      sentMs: seqs.map((s) => s * everyMs),
      keyframes: seqs.filter((s) => s % gop === 0),
    });
  }
  return out;
}

const viewer = (r: Partial<ViewerRecord>): ViewerRecord => ({
  stream: 0,
  epoch: 0,
  protocol: 'rtmp',
  slow: false,
  firstSeq: -1,
  lastSeq: -1,
  playSentMs: 0,
  leftMs: 0,
  lastLatencyMs: 0,
  lastFrameMs: -1,
  atEnd: false,
  dueUntilLastFrame: false,
  followed: false,
  ...r,
});

describe('frame accounting', () => {
  it('expects of a viewer that stayed to the end every frame from its first until the publisher stopped', () => {
    const a = new FrameAccounting(new Set([0]));
    a.addSends(sends(0, 300));
    a.addViewers([viewer({ firstSeq: 60, lastSeq: 299, atEnd: true, leftMs: 10_500 })]);
    expect(a.finish()).toMatchObject({ expected: 240, lost: 0 });
    expect(a.source).toBe('send-logs');
  });

  it('expects of a viewer that left while frames were coming no more than it got (the rest were in flight)', () => {
    const a = new FrameAccounting(new Set([0]));
    a.addSends(sends(0, 300));
    // Its last frame (seq 145, sent at 4.785 s) came 115 ms before it left: 146..151 were on their way.
    a.addViewers([viewer({ firstSeq: 0, lastSeq: 145, lastFrameMs: 4885, leftMs: 5000, lastLatencyMs: 100 })]);
    expect(a.finish()).toMatchObject({ expected: 146 });
  });

  it('expects of a viewer that had stalled when it left what was sent until its last latency before it left', () => {
    const a = new FrameAccounting(new Set([0]));
    a.addSends(sends(0, 300));
    // Nothing for 1.6 s (over the 1 s stall threshold) before it left at 5 s, at 100 ms latency:
    // frames sent up to 4.9 s (seq 148) were due, and 101..148 never came.
    a.addViewers([viewer({ firstSeq: 0, lastSeq: 100, lastFrameMs: 3400, leftMs: 5000, lastLatencyMs: 100 })]);
    expect(a.finish()).toMatchObject({ expected: 149 });
    // With a longer stall threshold the same viewer had not stalled.
    const b = new FrameAccounting(new Set([0]), 2000);
    b.addSends(sends(0, 300));
    b.addViewers([viewer({ firstSeq: 0, lastSeq: 100, lastFrameMs: 3400, leftMs: 5000, lastLatencyMs: 100 })]);
    expect(b.finish()).toMatchObject({ expected: 101 });
  });

  it('counts as lost, from the first keyframe after its play started, what a viewer without video should have had', () => {
    const a = new FrameAccounting(new Set([0]));
    a.addSends(sends(0, 300));
    // Play at 1 s: the next keyframe is seq 60 (1.98 s); left at 5 s (seq 151 the last sent by then).
    a.addViewers([viewer({ playSentMs: 1000, leftMs: 5000 }), viewer({ slow: true, playSentMs: 1000, leftMs: 5000 })]);
    expect(a.finish()).toMatchObject({ expected: 92, lost: 92, slowExpected: 92, slowLost: 92 });
  });

  it('waits for the send log to cover the time a viewer left', () => {
    const a = new FrameAccounting(new Set([0]));
    const chunks = sends(0, 300);
    a.addSends(chunks.slice(0, 2)); // up to seq 59, about 1.95 s
    a.addViewers([viewer({ firstSeq: 0, lastSeq: 40, lastFrameMs: 1330, leftMs: 3000, lastLatencyMs: 10 })]); // stalled: due until 2.99 s
    expect(a.added.expected).toBe(0);
    a.addSends(chunks.slice(2, 4)); // up to about 3.9 s
    expect(a.added.expected).toBe(91);
  });

  it('says expected frames are unknown when a viewer watched a stream the run did not publish', () => {
    const a = new FrameAccounting(new Set([0]));
    a.addViewers([viewer({ stream: 1, firstSeq: 0, lastSeq: 10, atEnd: true })]);
    a.finish();
    expect(a.source).toBe('none');
  });
});
