import { generatorFamilies } from './generator-metrics.js';
import { LiveHttpServer } from './live-http.js';
import type { LiveRun } from './live-run.js';
import { formatFamilies, PROM_CONTENT_TYPE } from './prom-text.js';

/** `--metrics-port`: the generator's Prometheus metrics at GET /metrics while a run goes on. */
export class MetricsEndpoint {
  private readonly http: LiveHttpServer;

  constructor(live: LiveRun) {
    this.http = new LiveHttpServer({
      '/metrics': (_req, res) => {
        res.writeHead(200, { 'content-type': PROM_CONTENT_TYPE }).end(formatFamilies(generatorFamilies(live)));
      },
    });
  }

  listen(port: number, host?: string): Promise<number> {
    return this.http.listen(port, host);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
