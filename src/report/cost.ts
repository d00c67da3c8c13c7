import type { RunSummary } from '../results/summary.js';

/**
 * Where the server's CPU went, as the kernel counted it (summary server.cost), in a few lines:
 * CPU by mode, context switches, write calls and their size, cost per delivered message and per
 * viewer-second. Empty when the run knew no server process.
 */
export function costLines(s: RunSummary): string[] {
  const c = s.server?.cost;
  if (c === undefined) return [];
  const sys = s.server?.syscalls;
  const n = (v: number) => v.toLocaleString('en-US');
  const fixed = (v: number | undefined, digits: number) => (v === undefined ? '-' : v.toFixed(digits));
  const share = c.kernelShare === undefined ? '' : ` (kernel ${(c.kernelShare * 100).toFixed(0)}%)`;
  return [
    `CPU: ${c.userCpuSeconds.toFixed(2)} s user + ${c.kernelCpuSeconds.toFixed(2)} s kernel${share}; ` +
      `${fixed(c.cpuUsPerMessage, 1)} µs per delivered message, ${fixed(c.cpuUsPerViewerSecond, 0)} µs per viewer-second`,
    `context switches: ${n(c.voluntaryCtxSwitches)} voluntary, ${n(c.involuntaryCtxSwitches)} involuntary`,
    sys !== undefined
      ? `system calls (perf tracepoints): ${n(sys.total)}, ${fixed(c.syscallsPerMessage, 2)} per delivered message: ` +
        `${n(sys.writes)} writes, ${n(sys.sends)} sends, ${n(sys.reads)} reads, ${n(sys.recvs)} receives, ` +
        `${n(sys.epollWaits)} epoll waits, ${n(sys.others)} others; write and send calls ` +
        `${fixed(c.writeCallsPerMessage, 3)} per delivered message, ${fixed(c.bytesPerWriteCall, 0)} bytes per call`
      : c.writeCallsPerMessage !== undefined
        ? `write calls: ${n(c.writeCalls)} (${fixed(c.writeCallsPerMessage, 3)} per delivered message, ` +
          `${fixed(c.bytesPerWriteCall, 0)} bytes per call); read calls: ${n(c.readCalls)}`
        : `write calls: ${n(c.writeCalls)} carrying ${((c.writeCoverage ?? 0) * 100).toFixed(0)}% of the bytes ` +
          'viewers received: this server sends with send/sendmsg, which /proc/PID/io does not count, so ' +
          'write calls per message are not known (--server-syscalls counts its sends)',
    (sys !== undefined
      ? 'system calls counted by kind at their tracepoints (writes and sends on any descriptor)'
      : 'write and read calls are those of the file layer (write, writev, read, readv... on any descriptor)') +
      "; on loopback the viewers' TCP receive work runs in the sender's context, so the server's kernel " +
      'time includes part of it',
  ];
}
