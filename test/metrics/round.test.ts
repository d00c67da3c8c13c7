import { describe, expect, it } from 'vitest';
import { round2, round3 } from '../../src/metrics/round.js';

describe('rounding of figures', () => {
  it('keeps three decimals for round3 and two for round2, rounding half up', () => {
    expect(round3(1.23456)).toBe(1.235);
    expect(round3(0.0004)).toBe(0);
    expect(round3(2.0005)).toBe(2.001);
    expect(round2(1.23456)).toBe(1.23);
    expect(round2(0.125)).toBe(0.13);
    expect(round2(-1.234)).toBe(-1.23);
  });
});
