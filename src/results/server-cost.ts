import { round3 } from '../metrics/round.js';
import type { FiguresOf, SERVER_COST, SERVER_SYSCALLS } from './figures.js';

export type SyscallFigures = FiguresOf<typeof SERVER_SYSCALLS>;

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
 * Below this share of the viewers' bytes, the counted write calls are not how the server sends
 * (it uses send or sendmsg, which /proc/PID/io leaves out): per-message and per-call ratios of
 * them would describe its log writes, so they are left out.
 */
const MIN_WRITE_COVERAGE = 0.5;

/**
 * A server's cost figures: its counts, and the ratios made from them, here only, whether the
 * counts came from one run or from the shares of a merged run (where the ratios are made again
 * from the merged counts). `viewers` are what viewers received: messages (video and audio frames),
 * bytes and seconds of play. A ratio whose base is zero is left out.
 *
 * Write calls per message and bytes per call come from the system calls by kind when perf counted
 * them (`syscalls`, --server-syscalls): write and send calls, so a server that sends with send()
 * has them too; the kernel counts no bytes of sends per process, so the bytes viewers received
 * stand in for them. Without `syscalls`, from /proc/PID/io's write calls, when they carried at
 * least half the viewers' bytes.
 */
export function costFigures(
  c: CostCountFigures,
  viewers: { messages: number; bytes: number; seconds: number },
  syscalls?: SyscallFigures,
): FiguresOf<typeof SERVER_COST> {
  const { messages, seconds: viewerSeconds } = viewers;
  const cpuSeconds = c.userCpuSeconds + c.kernelCpuSeconds;
  const coverage = viewers.bytes > 0 ? c.writeBytes / viewers.bytes : null;
  const writesSend = coverage !== null && coverage >= MIN_WRITE_COVERAGE;
  const sent =
    syscalls !== undefined
      ? {
          calls: syscalls.writes + syscalls.sends,
          bytes: c.writeBytes + (syscalls.sends > 0 && !writesSend ? viewers.bytes : 0),
        }
      : writesSend
        ? { calls: c.writeCalls, bytes: c.writeBytes }
        : null;
  return {
    userCpuSeconds: round3(c.userCpuSeconds),
    kernelCpuSeconds: round3(c.kernelCpuSeconds),
    voluntaryCtxSwitches: c.voluntaryCtxSwitches,
    involuntaryCtxSwitches: c.involuntaryCtxSwitches,
    writeCalls: c.writeCalls,
    writeBytes: c.writeBytes,
    readCalls: c.readCalls,
    readBytes: c.readBytes,
    ...(coverage !== null ? { writeCoverage: round3(coverage) } : {}),
    ...(cpuSeconds > 0 ? { kernelShare: round3(c.kernelCpuSeconds / cpuSeconds) } : {}),
    ...(messages > 0 ? { cpuUsPerMessage: round3((cpuSeconds * 1e6) / messages) } : {}),
    ...(messages > 0 && sent !== null ? { writeCallsPerMessage: round3(sent.calls / messages) } : {}),
    ...(sent !== null && sent.calls > 0 ? { bytesPerWriteCall: round3(sent.bytes / sent.calls) } : {}),
    ...(messages > 0 && syscalls !== undefined ? { syscallsPerMessage: round3(syscalls.total / messages) } : {}),
    ...(viewerSeconds > 0 ? { cpuUsPerViewerSecond: round3((cpuSeconds * 1e6) / viewerSeconds) } : {}),
  };
}
