import * as hdr from 'hdr-histogram-js';
import { decodeHistogram, type Histogram } from './histograms.js';

export interface IntervalHistogram {
  /** Seconds since the run started. */
  startSec: number;
  endSec: number;
  histogram: Histogram;
}

/** An interval histogram kept encoded (compressed base64): a long run keeps one per second per metric. */
export interface EncodedInterval {
  startSec: number;
  endSec: number;
  encoded: string;
}

/**
 * An HdrHistogram log (.hlog, the format of HdrHistogram's HistogramLogWriter): one line per
 * interval with its compressed histogram, values in µs, max reported in ms. Any HdrHistogram
 * tool (HistogramLogAnalyzer, the JS log analyzer) reads it.
 */
export function formatHlog(
  intervals: readonly (IntervalHistogram | EncodedInterval)[],
  startTimeMs: number,
  comment: string,
): string {
  let out = '';
  const writer = new hdr.HistogramLogWriter((s: string) => {
    out += s;
  });
  writer.outputComment(comment);
  writer.outputLogFormatVersion();
  writer.outputStartTime(startTimeMs);
  writer.outputLegend();
  // Encoded intervals are decoded one at a time, so only one is in memory at once.
  for (const i of intervals)
    writer.outputIntervalHistogram(
      'encoded' in i ? decodeHistogram(i.encoded) : i.histogram,
      i.startSec,
      i.endSec,
      1000,
    );
  return out;
}

/** Reads the interval histograms of an .hlog file back. */
export function parseHlog(text: string): IntervalHistogram[] {
  const reader = new hdr.HistogramLogReader(text);
  const out: IntervalHistogram[] = [];
  for (;;) {
    const h = reader.nextIntervalHistogram();
    if (h === null) break;
    out.push({
      startSec: h.startTimeStampMsec / 1000 - reader.startTimeSec,
      endSec: h.endTimeStampMsec / 1000 - reader.startTimeSec,
      histogram: h,
    });
  }
  return out;
}
