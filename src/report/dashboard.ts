import type http from 'node:http';
import { loadRun } from '../results/folder.js';
import { thresholdWord } from '../results/summary.js';
import { chartsOf, type ChartSpec } from './charts.js';
import { describeScenario, fmtMs } from './facts.js';
import { pageAssets } from './html.js';
import { LiveHttpServer } from './live-http.js';
import type { LiveEvent, LiveRun } from './live-run.js';
import { runHtml } from './write.js';

/**
 * `--dashboard PORT`: a live page of the run (`/`), fed over server-sent events (`/events`)
 * once per second: sessions, throughput, latency percentiles over time, the latency spectrum
 * and first-frame distribution so far, and the thresholds as they stand. The charts are the HTML
 * report's (the same chart specs, the same drawing script, uPlot inlined: it works offline).
 * When the run ends the page receives its final report and offers to save it. The server never
 * keeps the run from ending.
 */

export interface DashboardState {
  title: string;
  subtitle: string;
  /** Seconds reported so far. */
  seconds: number;
  phase: 'waiting' | 'running' | 'finished';
  status: { label: string; value: string }[];
  thresholds: { word: string; passed: boolean; text: string }[];
  charts: ChartSpec[];
}

interface EndMessage {
  state: DashboardState;
  resultsDir: string;
  verdict: string;
  /** The run's HTML report, for the page to save. */
  reportHtml: string;
}

/** What the page shows now, from the run as it stands. */
function dashboardState(live: LiveRun): DashboardState {
  const start = live.start;
  const last = live.last;
  const p = last?.point ?? null;
  const planned = (start?.scenario.durationMs ?? 0) / 1000;
  const e2e = p?.endToEndP99Ms ?? null;
  const ff = live.histograms.get('firstFrame');
  const status = [
    { label: 'elapsed', value: `${Math.min(live.elapsedSec, planned).toFixed(0)} / ${planned.toFixed(0)} s` },
    { label: 'players up', value: `${p?.playersUp ?? 0} / ${start?.playersPlanned ?? 0}` },
    { label: 'publishers up', value: String(p?.publishersUp ?? 0) },
    { label: 'received', value: `${(p?.mbpsReceived ?? 0).toFixed(1)} Mbps` },
    { label: 'end-to-end p99 (last second)', value: e2e === null ? '-' : `${fmtMs(e2e)} ms` },
    {
      label: 'first frame p95 (so far)',
      value: ff === undefined || ff.totalCount === 0 ? '-' : `${fmtMs(ff.getValueAtPercentile(95) / 1000)} ms`,
    },
    { label: 'errors', value: String(p?.errors ?? 0) },
    {
      label: 'generator busy',
      value: p?.generatorEventLoopUtilization == null ? '-' : `${(p.generatorEventLoopUtilization * 100).toFixed(0)}%`,
    },
  ];
  return {
    title:
      start === null
        ? 'rtmpbench: waiting for the run'
        : `rtmpbench run "${start.scenario.name}" against ${start.target}`,
    subtitle: start === null ? '' : `${describeScenario(start.scenario)}; started ${start.startedAt}`,
    seconds: live.points.length,
    phase: live.ended !== null ? 'finished' : start === null ? 'waiting' : 'running',
    status,
    thresholds: live.thresholds().map((t) => ({ word: thresholdWord(t), passed: t.passed, text: t.message })),
    charts: chartsOf(live.histograms, live.points),
  };
}

const PAGE_STYLE = `
.status { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 130px; background: var(--panel); }
.card .v { font-size: 18px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .l { color: var(--muted); font-size: 12px; }
.finished { border: 1px solid var(--pass); border-radius: 6px; padding: 10px 14px; margin: 14px 0; background: #f1f8f3; }
.live::before { content: "●"; color: var(--fail); margin-right: 6px; }
`;

/** Applies each state the server sends; the charts go through the report's drawing script. */
const LIVE_SCRIPT = `
(function () {
  var body = document.body;
  body.dataset.seconds = '0';
  body.dataset.phase = 'waiting';
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function box(c) {
    var b = el('div', 'chart');
    b.dataset.chart = c.id;
    b.appendChild(el('h3', null, c.title));
    if (c.note) b.appendChild(el('p', null, c.note));
    var d = el('div');
    d.id = 'chart-' + c.id;
    b.appendChild(d);
    return b;
  }
  function apply(s) {
    document.getElementById('title').textContent = s.title;
    document.getElementById('subtitle').textContent = s.subtitle;
    document.title = s.title;
    var status = document.getElementById('status');
    status.replaceChildren.apply(status, s.status.map(function (x) {
      var c = el('div', 'card');
      c.appendChild(el('div', 'v', x.value));
      c.appendChild(el('div', 'l', x.label));
      return c;
    }));
    var th = document.getElementById('thresholds');
    th.replaceChildren.apply(th, s.thresholds.length === 0 ? [el('li', 'sub', 'No thresholds.')] : s.thresholds.map(function (t) {
      var li = el('li');
      li.appendChild(el('span', t.passed ? 'pass' : 'fail', t.word));
      li.appendChild(document.createTextNode(' ' + t.text));
      return li;
    }));
    var charts = document.getElementById('charts');
    s.charts.forEach(function (c) { if (!document.getElementById('chart-' + c.id)) charts.appendChild(box(c)); });
    window.rtmpbenchDraw(s.charts);
    body.dataset.seconds = String(s.seconds);
    body.dataset.phase = s.phase;
  }
  var events = new EventSource('events');
  events.addEventListener('state', function (e) { apply(JSON.parse(e.data)); });
  events.addEventListener('end', function (e) {
    var d = JSON.parse(e.data);
    events.close();
    apply(d.state);
    var f = document.getElementById('finished');
    f.hidden = false;
    document.getElementById('verdict').textContent = d.verdict + ' Results: ' + d.resultsDir;
    var a = document.getElementById('save');
    a.href = URL.createObjectURL(new Blob([d.reportHtml], { type: 'text/html' }));
    document.getElementById('live').className = '';
  });
})();
`;

/** The page: empty until the first state arrives over /events. */
function dashboardPage(): string {
  const { uplotJs, uplotCss, style, chartScript } = pageAssets();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rtmpbench live</title>
<style>${uplotCss}</style>
<style>${style}${PAGE_STYLE}</style>
</head>
<body>
<header>
<h1><span id="live" class="live"></span><span id="title">rtmpbench: waiting for the run</span></h1>
<div class="sub" id="subtitle"></div>
</header>
<main>
<div id="finished" class="finished" hidden>
<strong>The run has ended.</strong> <span id="verdict"></span> <a id="save" download="report.html">Save the report</a>
</div>
<div id="status" class="status"></div>
<h2>Thresholds</h2>
<ul id="thresholds"><li class="sub">No thresholds.</li></ul>
<h2>Charts</h2>
<div id="charts" class="charts"></div>
</main>
<script>${uplotJs}</script>
<script>${chartScript}</script>
<script>${LIVE_SCRIPT}</script>
</body>
</html>
`;
}

export class Dashboard {
  private readonly http: LiveHttpServer;
  private readonly clients = new Set<http.ServerResponse>();
  private readonly unsubscribe: () => void;
  private state: DashboardState | null = null;
  private end: EndMessage | null = null;

  constructor(private readonly live: LiveRun) {
    const page = dashboardPage();
    this.http = new LiveHttpServer({
      '/': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page);
      },
      '/events': (req, res) => this.subscribe(req, res),
      '/favicon.ico': (_req, res) => void res.writeHead(204).end(),
    });
    this.unsubscribe = live.subscribe((e) => this.onLive(e));
  }

  listen(port: number, host?: string): Promise<number> {
    return this.http.listen(port, host);
  }

  /** Ends every event stream (after what was sent has been written) and stops listening. */
  async close(): Promise<void> {
    this.unsubscribe();
    await Promise.all(
      [...this.clients].map(
        (res) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 1000);
            res.end(() => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    this.clients.clear();
    await this.http.close();
  }

  private subscribe(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    // A page opened mid-run (or after the end) gets what there is at once.
    if (this.end !== null) {
      this.send(res, 'end', this.end);
    } else if (this.live.start !== null) {
      this.state ??= dashboardState(this.live);
      this.send(res, 'state', this.state);
    }
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
  }

  private onLive(e: LiveEvent): void {
    if (e.kind === 'end') {
      this.end = {
        state: dashboardState(this.live),
        resultsDir: e.resultsDir,
        verdict: verdict(e.summary.thresholds),
        reportHtml: runHtml(loadRun(e.resultsDir)),
      };
      for (const res of this.clients) this.send(res, 'end', this.end);
      return;
    }
    this.state = dashboardState(this.live);
    for (const res of this.clients) this.send(res, 'state', this.state);
  }

  private send(res: http.ServerResponse, event: string, data: unknown): void {
    if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }
}

function verdict(thresholds: readonly { passed: boolean; enforced?: boolean }[]): string {
  if (thresholds.length === 0) return 'No thresholds.';
  const failed = thresholds.filter((t) => !t.passed && t.enforced !== false).length;
  return failed === 0 ? 'Every threshold held.' : `${failed} threshold(s) FAILED.`;
}
