import { describe, expect, it } from 'vitest';
import { costFigures } from '../../src/results/server-cost.js';

const counts = {
  userCpuSeconds: 3,
  kernelCpuSeconds: 1,
  voluntaryCtxSwitches: 10,
  involuntaryCtxSwitches: 2,
  writeCalls: 2000,
  writeBytes: 4_000_000,
  readCalls: 50,
  readBytes: 9000,
};

describe("a server's cost figures", () => {
  it('divides its counts by the messages, bytes and seconds viewers received', () => {
    const f = costFigures(counts, { messages: 4000, bytes: 4_000_000, seconds: 100 });
    expect(f).toMatchObject({
      kernelShare: 0.25,
      writeCoverage: 1,
      writeCallsPerMessage: 0.5,
      bytesPerWriteCall: 2000,
      cpuUsPerMessage: 1000,
      cpuUsPerViewerSecond: 40_000,
    });
  });

  it('leaves out ratios whose base is zero', () => {
    const f = costFigures({ ...counts, userCpuSeconds: 0, kernelCpuSeconds: 0 }, { messages: 0, bytes: 0, seconds: 0 });
    expect(Object.keys(f).sort()).toEqual(
      [
        'userCpuSeconds',
        'kernelCpuSeconds',
        'voluntaryCtxSwitches',
        'involuntaryCtxSwitches',
        'writeCalls',
        'writeBytes',
        'readCalls',
        'readBytes',
      ].sort(),
    );
  });

  it('leaves out write calls per message when the counted writes did not carry what viewers received (a server that sends with send)', () => {
    const f = costFigures(
      { ...counts, writeCalls: 100, writeBytes: 12_000 },
      { messages: 4000, bytes: 4_000_000, seconds: 100 },
    );
    expect(f.writeCoverage).toBe(0.003);
    expect(f.writeCallsPerMessage).toBeUndefined();
    expect(f.bytesPerWriteCall).toBeUndefined();
    expect(f.cpuUsPerMessage).toBe(1000);
  });
});
