import { round3 } from '../metrics/round.js';
import type { FiguresOf, SERVER_COST } from './figures.js';

/** The counts of a server's cost over a run (SERVER_COST's counts; the ratios are made from them). */
export type CostCountFigures = Pick<
  FiguresOf<typeof SERVER_COST>,
  | 'userCpuSeconds'
  | 'kernelCpuSeconds'
  | 'voluntaryCtxSwitches'
  | 'involuntaryCtxSwitches'
  | 'writeCalls'
  | 'writeBytes'
  | 'readCalls'
  | 'readBytes'
>;

/**
 * A server's cost figures: its counts, and the ratios made from them, here only, whether the
 * counts came from one run or from the shares of a merged run (where the ratios are made again
 * from the merged counts). `messages` are the video and audio frames viewers received; a ratio
 * whose base is zero is left out.
 */
export function costFigures(
  c: CostCountFigures,
  messages: number,
  viewerSeconds: number,
): FiguresOf<typeof SERVER_COST> {
  const cpuSeconds = c.userCpuSeconds + c.kernelCpuSeconds;
  return {
    userCpuSeconds: round3(c.userCpuSeconds),
    kernelCpuSeconds: round3(c.kernelCpuSeconds),
    voluntaryCtxSwitches: c.voluntaryCtxSwitches,
    involuntaryCtxSwitches: c.involuntaryCtxSwitches,
    writeCalls: c.writeCalls,
    writeBytes: c.writeBytes,
    readCalls: c.readCalls,
    readBytes: c.readBytes,
    ...(cpuSeconds > 0 ? { kernelShare: round3(c.kernelCpuSeconds / cpuSeconds) } : {}),
    ...(messages > 0
      ? {
          writeCallsPerMessage: round3(c.writeCalls / messages),
          cpuUsPerMessage: round3((cpuSeconds * 1e6) / messages),
        }
      : {}),
    ...(c.writeCalls > 0 ? { bytesPerWriteCall: round3(c.writeBytes / c.writeCalls) } : {}),
    ...(viewerSeconds > 0 ? { cpuUsPerViewerSecond: round3((cpuSeconds * 1e6) / viewerSeconds) } : {}),
  };
}
