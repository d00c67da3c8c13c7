import { describe, expect, it } from 'vitest';
import { judgeRule } from '../../src/lab/gate.js';
import { betterDirection, parseGateRule, type GateRule } from '../../src/results/gates.js';

const rule = (text: string): GateRule => {
  const r = parseGateRule(text);
  if (typeof r === 'string') throw new Error(r);
  return r;
};

describe('gate rules', () => {
  it("reads relative and absolute margins over the thresholds' metric grammar", () => {
    expect(rule('latency.endToEnd.p99 +10%')).toMatchObject({
      path: ['latency', 'endToEnd', 'p99'],
      relative: true,
      margin: 10,
      unit: '',
      better: 'lower',
    });
    expect(rule('firstFrame.p95 +50ms')).toMatchObject({
      path: ['latency', 'firstFrame', 'p95'],
      relative: false,
      margin: 50,
      unit: 'ms',
    });
    expect(rule('server.cpuPer1000PlayerMinutes +5%')).toMatchObject({
      path: ['server', 'cpuPer1000PlayerMinutes'],
      better: 'lower',
    });
    expect(rule('throughput.mbpsReceived +2%')).toMatchObject({ better: 'higher' });
    expect(rule('capacity +0%')).toMatchObject({ path: ['capacity', 'highestPassingPlayers'], better: 'higher' });
    expect(rule('frames.lost +0')).toMatchObject({ relative: false, margin: 0, unit: '' });
    expect(rule('sessions.players.failed 2')).toMatchObject({ margin: 2, better: 'lower' });
    expect(rule('hls.latency.endToEnd.p95 +20%')).toMatchObject({
      path: ['hls', 'latency', 'endToEnd', 'p95'],
      better: 'lower',
    });
    expect(rule('httpFlv.throughput.mbpsReceived +5%')).toMatchObject({ better: 'higher' });
  });

  it('says what is wrong with a rule', () => {
    expect(parseGateRule('latency.endToEnd.p99 < 10ms')).toMatch(/is not METRIC \+N% or METRIC \+N UNIT/);
    expect(parseGateRule('latency.endToEnd.p99 +10 parsecs')).toMatch(/unknown unit "parsecs"/);
    expect(parseGateRule('latency.nope.p99 +10%')).toMatch(/latency metrics are/);
    expect(parseGateRule('server.cpu +5%')).toMatch(/server\.\{cpuSeconds,maxRssBytes,cpuPer1000PlayerMinutes\}/);
    expect(parseGateRule('frames.lost +5ms')).toMatch(/frame counts take no unit/);
  });

  it('knows which way is worse for each kind of figure', () => {
    expect(betterDirection(['latency', 'endToEnd', 'p99'])).toBe('lower');
    expect(betterDirection(['sessions', 'players', 'connected'])).toBe('higher');
    expect(betterDirection(['sessions', 'players', 'failed'])).toBe('lower');
    expect(betterDirection(['generator', 'eventLoop', 'utilization'])).toBe('lower');
    expect(betterDirection(['frames', 'stalls'])).toBe('lower');
  });
});

describe('judging a rule over paired rounds', () => {
  it('fails a variant that is consistently worse beyond the margin, naming the rule, the ratio and its interval', () => {
    const g = judgeRule(rule('latency.endToEnd.p99 +10%'), 'slowed', 'base', [40, 44, 42], [4, 4.2, 4.1]);
    expect(g.passed).toBe(false);
    expect(g.estimate!).toBeGreaterThan(9);
    expect(g.low!).toBeGreaterThan(1);
    expect(g.message).toMatch(
      /^latency\.endToEnd\.p99 \+10%: slowed \d+\.\d\d× base \(\+\d+\.\d%\) \[\d+\.\d\d–\d+\.\d\d\]: worse beyond the margin \+10%/,
    );
  });

  it('passes a variant within the margin, and one whose change is not significant', () => {
    expect(judgeRule(rule('latency.endToEnd.p99 +10%'), 'v', 'base', [10.4, 10.5, 10.3], [10, 10, 10]).passed).toBe(
      true,
    ); // significant, +4%
    const noisy = judgeRule(rule('latency.endToEnd.p99 +10%'), 'v', 'base', [20, 5, 30], [10, 10, 10]);
    expect(noisy.passed).toBe(true);
    expect(noisy.message).toContain('no significant worsening');
  });

  it('takes a drop as the worse side for figures that are better higher', () => {
    expect(judgeRule(rule('throughput.mbpsReceived +5%'), 'v', 'base', [80, 81, 79], [100, 101, 99]).passed).toBe(
      false,
    );
    expect(judgeRule(rule('throughput.mbpsReceived +5%'), 'v', 'base', [120, 121, 119], [100, 101, 99]).passed).toBe(
      true,
    );
  });

  it('judges an absolute margin on the per-round differences', () => {
    const worse = judgeRule(rule('latency.firstFrame.p95 +50ms'), 'v', 'base', [300, 310, 305], [100, 104, 99]);
    expect(worse.passed).toBe(false);
    expect(worse.message).toMatch(/\+\d+ ms against base \[\+\d+…\+\d+\]/);
    expect(judgeRule(rule('latency.firstFrame.p95 +50ms'), 'v', 'base', [130, 134, 129], [100, 104, 99]).passed).toBe(
      true,
    );
    expect(judgeRule(rule('frames.lost +0'), 'v', 'base', [3, 3, 3], [0, 0, 0]).passed).toBe(false);
  });

  it('fails what it cannot judge: a figure the runs lack, one paired round, a ratio against zero', () => {
    expect(judgeRule(rule('server.cpuSeconds +5%'), 'v', 'base', [null, null], [1, 1]).message).toContain(
      'not measured',
    );
    expect(judgeRule(rule('latency.endToEnd.p99 +10%'), 'v', 'base', [5, null], [4, 4]).message).toContain(
      'at least two are needed',
    );
    const zero = judgeRule(rule('frames.lost +10%'), 'v', 'base', [4, 5], [0, 0]);
    expect(zero.passed).toBe(false);
    expect(zero.message).toContain('give an absolute margin');
    expect(judgeRule(rule('frames.lost +10%'), 'v', 'base', [0, 0], [0, 0]).passed).toBe(true); // no change
  });
});
