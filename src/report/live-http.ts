import http from 'node:http';
import type net from 'node:net';

/**
 * A small HTTP server for a live output (metrics endpoint, dashboard): GET only, bound to
 * loopback unless told otherwise, and never what keeps the process alive (the server and its
 * connections are unref'd, and closing drops open connections).
 */
export class LiveHttpServer {
  private readonly server: http.Server;

  constructor(routes: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>) {
    this.server = http.createServer((req, res) => {
      req.socket.unref();
      const path = (req.url ?? '/').split('?')[0]!;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      const route = routes[path];
      if (route === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: try ${Object.keys(routes).join(', ')}\n`);
        return;
      }
      try {
        route(req, res);
      } catch (e) {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${(e as Error).message}\n`);
      }
    });
    this.server.unref();
  }

  /** Listens; resolves with the port (0 picks a free one). */
  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
