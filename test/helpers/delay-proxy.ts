import net from 'node:net';

/**
 * A TCP proxy on loopback that forwards client-to-server bytes at once and holds
 * server-to-client bytes back by `delayMs` (order kept), like a long network path to viewers.
 * With `upstreamDelayMs`, client-to-server bytes are held back too (a delay per direction).
 */
export class DelayProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(
    private readonly targetPort: number,
    private readonly delayMs: number,
    private readonly upstreamDelayMs = 0,
  ) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, '127.0.0.1');
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      this.sockets.add(client).add(upstream);
      client.on('data', (d) => {
        if (this.upstreamDelayMs === 0) upstream.write(d);
        else setTimeout(() => !upstream.destroyed && upstream.write(d), this.upstreamDelayMs);
      });
      upstream.on('data', (d) => {
        setTimeout(() => {
          if (!client.destroyed) client.write(d);
        }, this.delayMs);
      });
      const end = () => {
        setTimeout(() => {
          client.destroy();
          upstream.destroy();
        }, this.delayMs);
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}
