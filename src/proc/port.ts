import net from 'node:net';

/** Ports: a free one to listen on, and waiting until something accepts connections. */

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, () => resolve());
  });
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Tries one TCP connection: null when it was accepted, else why not. */
export function probePort(host: string, port: number, timeoutMs = 5000): Promise<string | null> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(null);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      resolve(e.message);
    });
  });
}

export interface WaitForPortOptions {
  host?: string;
  timeoutMs?: number;
  /** Checked before each try: a reason to give up now (the process that should listen exited). */
  abandon?: () => string | null;
  /** Pause between tries. */
  intervalMs?: number;
}

/**
 * Waits until something accepts connections on host:port. Rejects with a message that says
 * why (the deadline, or the reason `abandon` gave).
 */
export async function waitForPort(port: number, opts: WaitForPortOptions = {}): Promise<void> {
  const host = opts.host ?? '127.0.0.1';
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const gone = opts.abandon?.() ?? null;
    if (gone !== null) throw new Error(gone);
    if ((await probePort(host, port, Math.max(100, Math.min(2000, deadline - Date.now())))) === null) return;
    if (Date.now() > deadline)
      throw new Error(`nothing accepted connections on ${host}:${port} within ${Math.round(timeoutMs / 100) / 10} s`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}
