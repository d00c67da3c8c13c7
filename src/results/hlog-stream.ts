import { closeSync, openSync, writeSync } from 'node:fs';
import * as hdr from 'hdr-histogram-js';
import type { Histogram, HistogramKey } from '../metrics/histograms.js';
import { hlogPath } from './folder.js';

/**
 * The run's .hlog files written as the run goes: each second's interval histogram of each
 * metric is appended to its file as soon as the second is built, so a run of hours keeps none
 * of them in memory. A file is opened (with its header) at the metric's first interval.
 */
export class HlogStreams {
  private readonly files = new Map<HistogramKey, { fd: number; writer: hdr.HistogramLogWriter }>();

  constructor(
    private readonly dir: string,
    private readonly startTimeMs: number,
    private readonly runName: string,
  ) {}

  add(metric: HistogramKey, startSec: number, endSec: number, h: Histogram): void {
    let f = this.files.get(metric);
    if (f === undefined) {
      const fd = openSync(hlogPath(this.dir, metric), 'w');
      const writer = new hdr.HistogramLogWriter((s: string) => {
        writeSync(fd, s);
      });
      writer.outputComment(`rtmpbench ${this.runName}: ${metric} (values in µs)`);
      writer.outputLogFormatVersion();
      writer.outputStartTime(this.startTimeMs);
      writer.outputLegend();
      f = { fd, writer };
      this.files.set(metric, f);
    }
    f.writer.outputIntervalHistogram(h, startSec, endSec, 1000);
  }

  /** Every file complete; nothing more is added. */
  close(): void {
    for (const f of this.files.values()) closeSync(f.fd);
    this.files.clear();
  }
}
