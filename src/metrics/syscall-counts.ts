/**
 * A server's system calls by kind, from perf's syscall tracepoints counted over a run
 * (`perf stat -e syscalls:sys_enter_NAME,... -p PIDS`): each call of a traced process passes
 * its tracepoint, and perf counts it in the kernel without copying anything out. The kinds are
 * the calls a server's send and receive path makes; `others` is every other call (the
 * `raw_syscalls:sys_enter` total less the kinds).
 */

export const SYSCALL_KINDS = {
  /** The write family, on any descriptor (what /proc/PID/io's syscw counts). */
  writes: ['write', 'writev', 'pwrite64', 'pwritev', 'pwritev2', 'sendfile64'],
  /** Socket sends (not in /proc/PID/io). */
  sends: ['sendto', 'sendmsg', 'sendmmsg'],
  reads: ['read', 'readv', 'pread64', 'preadv', 'preadv2'],
  recvs: ['recvfrom', 'recvmsg', 'recvmmsg'],
  epollWaits: ['epoll_wait', 'epoll_pwait', 'epoll_pwait2'],
} as const;

export type SyscallKind = keyof typeof SYSCALL_KINDS;

export type SyscallCounts = Record<SyscallKind | 'others' | 'total', number>;

const TOTAL_EVENT = 'raw_syscalls:sys_enter';

/**
 * The tracepoints to count, of those this kernel has (`has(name)`: is there a
 * syscalls:sys_enter_NAME tracepoint); the total first.
 */
export function syscallEvents(has: (name: string) => boolean): string[] {
  const names = Object.values(SYSCALL_KINDS).flat();
  return [TOTAL_EVENT, ...names.filter(has).map((n) => `syscalls:sys_enter_${n}`)];
}

/**
 * Counts by kind from `perf stat -x,` output (one `count,unit,event,...` line per event;
 * `<not counted>` or `<not supported>` lines count 0). Null when the total is missing: perf
 * counted nothing.
 */
export function parseSyscallCounts(csv: string): SyscallCounts | null {
  const byEvent = new Map<string, number>();
  for (const line of csv.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(',');
    const event = f[2];
    if (event === undefined) continue;
    const n = Number(f[0]);
    byEvent.set(event, (byEvent.get(event) ?? 0) + (Number.isFinite(n) ? n : 0));
  }
  const total = byEvent.get(TOTAL_EVENT);
  if (total === undefined) return null;
  const out = { total, others: total } as SyscallCounts;
  for (const [kind, names] of Object.entries(SYSCALL_KINDS) as [SyscallKind, readonly string[]][]) {
    out[kind] = names.reduce((a, n) => a + (byEvent.get(`syscalls:sys_enter_${n}`) ?? 0), 0);
    out.others -= out[kind];
  }
  // Counted at slightly different moments by separate counters: never below zero.
  out.others = Math.max(0, out.others);
  return out;
}
