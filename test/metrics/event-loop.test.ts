import { describe, expect, it } from 'vitest';
import { EventLoopMeter } from '../../src/metrics/event-loop.js';

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Keep the loop busy.
  }
};

describe('the event-loop meter', () => {
  it('reads a loop that is kept busy as busy, and its timers as late', async () => {
    const m = new EventLoopMeter();
    m.sample();
    for (let i = 0; i < 4; i++) {
      busy(60);
      await new Promise((r) => setImmediate(r));
    }
    const s = m.sample();
    expect(s.utilization).toBeGreaterThan(0.8);
    expect(s.delayMaxUs).toBeGreaterThan(30_000);
    m.stop();
  });

  it('reads an idle loop as mostly idle', async () => {
    const m = new EventLoopMeter();
    m.sample();
    await new Promise((r) => setTimeout(r, 300));
    expect(m.sample().utilization).toBeLessThan(0.5);
    expect(m.whole().utilization).toBeLessThan(0.5);
    m.stop();
  });
});
