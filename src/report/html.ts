import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ChartSpec } from './charts.js';

/**
 * A self-contained HTML report: the tables rendered here, the charts drawn in the page by
 * uPlot (a small, well-kept charting library) inlined with its stylesheet, so the page opens
 * offline from a CI artifact or an e-mail. The page records what it drew on <body>
 * (data-charts-drawn, data-errors) so tests can check it in a headless browser.
 */

export interface HtmlSection {
  title: string;
  /** Trusted HTML built with `escapeHtml` / `htmlTable`. */
  html: string;
}

export interface HtmlReport {
  title: string;
  subtitle: string;
  sections: HtmlSection[];
  charts: ChartSpec[];
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A table from rows of cells (the first row is the header); cells are escaped. */
export function htmlTable(
  rows: (string | number)[][],
  opts: { numericFrom?: number; classes?: (row: number, col: number) => string } = {},
): string {
  const from = opts.numericFrom ?? 1;
  const cell = (v: string | number, r: number, c: number, tag: string) => {
    const cls = [c >= from ? 'num' : '', opts.classes?.(r, c) ?? ''].filter(Boolean).join(' ');
    return `<${tag}${cls ? ` class="${cls}"` : ''}>${escapeHtml(typeof v === 'number' ? v.toLocaleString('en-US') : v)}</${tag}>`;
  };
  const [head, ...body] = rows;
  return `<table><thead><tr>${head!.map((v, c) => cell(v, 0, c, 'th')).join('')}</tr></thead><tbody>${body
    .map((r, i) => `<tr>${r.map((v, c) => cell(v, i + 1, c, 'td')).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

let uplotAssets: { js: string; css: string } | null = null;

function assets(): { js: string; css: string } {
  if (uplotAssets === null) {
    const require = createRequire(import.meta.url);
    const dist = (f: string) => readFileSync(require.resolve(`uplot/dist/${f}`), 'utf8');
    uplotAssets = { js: dist('uPlot.iife.min.js'), css: dist('uPlot.min.css') };
  }
  return uplotAssets;
}

const STYLE = `
:root { --fg: #1d2330; --muted: #5b6475; --line: #dde1e8; --bg: #ffffff; --panel: #f6f7f9; --pass: #17803d; --fail: #c62828; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 20px 28px 12px; border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 4px; font-size: 20px; }
h2 { font-size: 16px; margin: 26px 0 10px; }
.sub { color: var(--muted); }
main { padding: 0 28px 40px; max-width: 1400px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { background: var(--panel); font-weight: 600; }
td.num, th.num { text-align: right; }
.pass { color: var(--pass); font-weight: 600; }
.fail { color: var(--fail); font-weight: 600; }
.best { background: #e8f5e9; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(620px, 1fr)); gap: 18px; }
.chart { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: var(--bg); }
.chart h3 { margin: 0 0 2px; font-size: 14px; }
.chart p { margin: 0 0 6px; color: var(--muted); font-size: 12px; }
.scroll { overflow-x: auto; }
ul { margin: 4px 0 12px; padding-left: 20px; }
code { background: var(--panel); padding: 1px 4px; border-radius: 3px; }
`;

/**
 * Draws chart specs with uPlot (`window.rtmpbenchDraw(charts)`, again with new data as often as
 * wanted: the live dashboard redraws every second); records the outcome on <body>. A page with
 * a #rtmpbench-charts element is drawn from it at once. Runs in the page.
 */
const RENDER = `
(function () {
  var body = document.body;
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message)); body.dataset.errors = String(errors.length); });
  body.dataset.errors = '0';
  var palette = ['#1f6fd1', '#d1495b', '#2e9e5b', '#e08e0b', '#7b52ab', '#0f9ba8', '#8c564b', '#c2368e', '#5d6d7e', '#9aa019'];
  function pct(x) {
    var p = 100 * (1 - 1 / x);
    if (p <= 0) return '0%';
    var d = p >= 99.99 ? 3 : p >= 99.9 ? 2 : p >= 99 ? 1 : 0;
    return p.toFixed(d).replace(/(\\.\\d*?)0+$/, '$1').replace(/\\.$/, '') + '%';
  }
  function num(v) {
    if (v == null) return '-';
    var a = Math.abs(v);
    return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(2);
  }
  // Decades on a log axis, with 2 and 5 between them when the range is narrow.
  function logSplits(u, i, min, max) {
    if (!(min > 0) || !(max > 0)) return [];
    var lo = Math.floor(Math.log10(min)), hi = Math.ceil(Math.log10(max));
    var steps = hi - lo <= 2 ? [1, 2, 5] : [1];
    var out = [];
    for (var e = lo; e <= hi; e++) {
      steps.forEach(function (m) {
        var v = m * Math.pow(10, e);
        if (v >= min * 0.999 && v <= max * 1.001) out.push(+v.toPrecision(6));
      });
    }
    return out;
  }
  function longestLabel(c) { return (c.x.categories || []).reduce(function (n, s) { return Math.max(n, s.length); }, 0); }
  var plots = {};
  function draw(charts) {
    var drawn = 0;
    charts.forEach(function (c) {
      try {
        var el = document.getElementById('chart-' + c.id);
        if (plots[c.id]) { plots[c.id].destroy(); delete plots[c.id]; }
        var fmt = c.x.format;
        var xAxis = { label: c.x.label, stroke: '#5b6475', grid: { stroke: '#eceef2' } };
        if (fmt === 'percentile') {
          xAxis.splits = function (u, i, min, max) {
            var out = [1];
            for (var v = 10; v <= max * 1.0001; v *= 10) out.push(v);
            return out.filter(function (v) { return v >= min && v <= max * 1.0001; });
          };
          xAxis.values = function (u, splits) { return splits.map(pct); };
        } else if (fmt === 'category') {
          xAxis.values = function (u, splits) {
            return splits.map(function (i) { return Number.isInteger(i) && c.x.categories[i] != null ? c.x.categories[i] : ''; });
          };
          xAxis.rotate = 30;
          // Room for the longest rotated label.
          var longest = c.x.categories.reduce(function (n, s) { return Math.max(n, s.length); }, 0);
          xAxis.size = Math.min(240, 30 + longest * 4);
        }
        var xValue = function (u, v) {
          return v == null ? '-' : fmt === 'percentile' ? pct(v) : fmt === 'category' ? c.x.categories[v] : num(v);
        };
        var series = [{ label: c.x.label, value: xValue }];
        c.series.forEach(function (s, i) {
          var color = palette[i % palette.length];
          var o = { label: s.label, stroke: color, width: 2, value: function (u, v) { return num(v); }, spanGaps: false };
          if (s.bars) { o.fill = color + 'bb'; o.paths = uPlot.paths.bars({ size: [0.6, 80] }); o.points = { show: false }; }
          if (s.points) { o.paths = function () { return null; }; o.points = { show: true, size: 8, stroke: color, fill: color }; }
          series.push(o);
        });
        var yAxis = { label: c.y.label, stroke: '#5b6475', grid: { stroke: '#eceef2' }, size: 60 };
        if (c.y.log) {
          yAxis.splits = logSplits;
          yAxis.values = function (u, splits) { return splits.map(function (v) { return v == null ? '' : num(v); }); };
        }
        var opts = {
          width: Math.max(560, el.clientWidth - 4),
          height: fmt === 'category' ? 300 + Math.min(200, longestLabel(c) * 4) : 280,
          series: series,
          scales: {
            x: c.x.log
              ? { distr: 3, time: false }
              : fmt === 'category'
                ? { time: false, range: function (u, min, max) { return [min - 0.6, max + 0.6]; } }
                : { time: false },
            y: c.y.log ? { distr: 3 } : { range: function (u, min, max) { return [Math.min(0, min), max > 0 ? max * 1.08 : 1]; } },
          },
          axes: [xAxis, yAxis],
          legend: { live: true },
          // Rotated category labels reach left of the first bar.
          padding: fmt === 'category' ? [12, 12, 0, Math.min(200, longestLabel(c) * 4.5)] : [12, 12, 0, 0],
          cursor: { points: { show: true } },
        };
        var data = [c.x.values].concat(c.series.map(function (s) { return s.values; }));
        plots[c.id] = new uPlot(opts, data, el);
        drawn++;
      } catch (e) {
        errors.push(String(e && e.message || e));
        body.dataset.errors = String(errors.length);
        if (window.console) console.error('chart ' + c.id + ': ' + e);
      }
    });
    body.dataset.chartsDrawn = String(drawn);
    body.dataset.chartsPlanned = String(charts.length);
    // After uPlot has painted: how many non-background pixels each canvas has (0 = empty chart).
    requestAnimationFrame(function () {
      setTimeout(function () {
        var painted = 0;
        // Pixels in the colours of the chart's series: the data itself, not axes or grid.
        var rgb = palette.map(function (h) {
          return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
        });
        document.querySelectorAll('.chart canvas').forEach(function (cv) {
          try {
            var box = cv.closest('.chart');
            var spec = charts.filter(function (c) { return 'chart-' + c.id === cv.closest('[id]').id; })[0];
            var colors = rgb.slice(0, spec ? Math.min(spec.series.length, palette.length) : 1);
            var d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
            var n = 0;
            for (var i = 0; i < d.length; i += 4) {
              if (d[i + 3] < 128) continue;
              for (var k = 0; k < colors.length; k++) {
                var c = colors[k];
                if (Math.abs(d[i] - c[0]) < 40 && Math.abs(d[i + 1] - c[1]) < 40 && Math.abs(d[i + 2] - c[2]) < 40) { n++; break; }
              }
            }
            box.dataset.seriesPixels = String(n);
            if (n > 50) painted++;
          } catch (e) { errors.push(String(e.message)); body.dataset.errors = String(errors.length); }
        });
        body.dataset.chartsPainted = String(painted);
      }, 0);
    });
  }
  window.rtmpbenchDraw = draw;
  var initial = document.getElementById('rtmpbench-charts');
  if (initial) draw(JSON.parse(initial.textContent));
})();
`;

/** What every rtmpbench page carries: uPlot and its stylesheet, the page style, and the chart-drawing script. */
export function pageAssets(): { uplotJs: string; uplotCss: string; style: string; chartScript: string } {
  const { js, css } = assets();
  return { uplotJs: js, uplotCss: css, style: STYLE, chartScript: RENDER };
}

/** The markup around one chart (its heading and note); the chart script draws into #chart-ID. */
function chartBoxHtml(c: Pick<ChartSpec, 'id' | 'title' | 'note'>): string {
  const id = escapeHtml(c.id);
  const note = c.note ? `<p>${escapeHtml(c.note)}</p>` : '';
  return `<div class="chart" data-chart="${id}"><h3>${escapeHtml(c.title)}</h3>${note}<div id="chart-${id}"></div></div>`;
}

/** JSON that is safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function renderHtml(r: HtmlReport): string {
  const { js, css } = assets();
  const sections = r.sections.map((s) => `<h2>${escapeHtml(s.title)}</h2>\n${s.html}`).join('\n');
  const charts = r.charts.map(chartBoxHtml).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(r.title)}</title>
<style>${css}</style>
<style>${STYLE}</style>
</head>
<body>
<header><h1>${escapeHtml(r.title)}</h1><div class="sub">${escapeHtml(r.subtitle)}</div></header>
<main>
${sections}
${r.charts.length > 0 ? `<h2>Charts</h2>\n<div class="charts">\n${charts}\n</div>` : ''}
</main>
<script>${js}</script>
<script type="application/json" id="rtmpbench-charts">${scriptJson(r.charts)}</script>
<script>${RENDER}</script>
</body>
</html>
`;
}
