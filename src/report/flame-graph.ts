import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FoldedStacks } from '../metrics/stack-samples.js';
import { escapeHtml } from './html.js';

/**
 * Flame graphs in the HTML reports, drawn by d3-flame-graph (a maintained d3 flame-graph library:
 * zoom on click, search, a tooltip per frame), inlined with the d3 modules it needs so that the
 * report opens offline, as uPlot is. The root is at the bottom, each frame as wide as its share
 * of the samples, callees above their callers; JavaScript frames green, native and kernel frames
 * warm, frames a stripped binary does not name grey.
 */

const WIDTH_PX = 1200;
/** Frames with less than this share of the samples are left out of the page (they stay in the files). */
const MIN_SHARE = 0.0005;

/**
 * d3-flame-graph's data: a frame, its samples (including its callees'), its callees; in a
 * differential graph, `delta`: its samples less the baseline's at the same stack, the baseline
 * scaled to the same total (so shares are compared, not amounts of CPU).
 */
interface FlameNode {
  name: string;
  value: number;
  delta?: number;
  children: FlameNode[];
}

/** Samples at each stack prefix (`a`, `a;b`, `a;b;c`...), for the differential graph. */
function prefixSamples(stacks: FoldedStacks): { byPrefix: Map<string, number>; total: number } {
  const byPrefix = new Map<string, number>();
  let total = 0;
  for (const [key, n] of stacks) {
    total += n;
    let at = key.indexOf(';');
    while (at >= 0) {
      const prefix = key.slice(0, at);
      byPrefix.set(prefix, (byPrefix.get(prefix) ?? 0) + n);
      at = key.indexOf(';', at + 1);
    }
    byPrefix.set(key, (byPrefix.get(key) ?? 0) + n);
  }
  return { byPrefix, total };
}

/**
 * Folded stacks as a tree of frames; frames below `MIN_SHARE` of the samples are pruned. With a
 * baseline, each frame carries its delta against it.
 */
function flameTree(stacks: FoldedStacks, baseline?: FoldedStacks): FlameNode {
  type Build = { name: string; path: string; value: number; children: Map<string, Build> };
  const root: Build = { name: 'all', path: '', value: 0, children: new Map() };
  for (const [key, n] of stacks) {
    root.value += n;
    let node = root;
    for (const name of key.split(';')) {
      let child = node.children.get(name);
      if (child === undefined) {
        child = { name, path: node.path === '' ? name : `${node.path};${name}`, value: 0, children: new Map() };
        node.children.set(name, child);
      }
      child.value += n;
      node = child;
    }
  }
  const min = root.value * MIN_SHARE;
  const base = baseline !== undefined ? prefixSamples(baseline) : null;
  const scale = base !== null && base.total > 0 ? root.value / base.total : 0;
  const out = (b: Build): FlameNode => ({
    name: b.name,
    value: b.value,
    ...(base !== null
      ? { delta: Math.round(b.value - (b.path === '' ? base.total : (base.byPrefix.get(b.path) ?? 0)) * scale) }
      : {}),
    children: [...b.children.values()].filter((c) => c.value >= min).map(out),
  });
  return out(root);
}

let assets: string | null = null;

/**
 * d3-flame-graph and every d3 module it imports, as their UMD builds in dependency order (each
 * resolved from the module that imports it, as Node would; one copy of each module), one script.
 */
function flameGraphScript(): string {
  if (assets !== null) return assets;
  const loaded = new Set<string>();
  const parts: string[] = [];
  const packageDir = (file: string) => {
    let d = dirname(file);
    while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d);
    return d;
  };
  const visit = (name: string, from: string) => {
    if (loaded.has(name)) return;
    loaded.add(name);
    const file = createRequire(from).resolve(name);
    const dir = packageDir(file);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      unpkg?: string;
      main?: string;
    };
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep, file);
    // d3's modules name their minified UMD build in `unpkg`; d3-flame-graph's `main` is its UMD build.
    parts.push(readFileSync(join(dir, pkg.unpkg ?? pkg.main ?? ''), 'utf8'));
  };
  visit('d3-flame-graph', import.meta.url);
  assets = parts.join('\n;\n');
  return assets;
}

/** Colours by kind of frame (d3-flame-graph's `setColorMapper`), in the page. */
const DRAW = `
function rtmpbenchFlameGraph(id, differential) {
  var el = document.getElementById(id);
  var data = JSON.parse(document.getElementById(id + '-data').textContent);
  var chart = flamegraph.default()
    .width(Math.min(${WIDTH_PX}, Math.max(600, el.clientWidth || ${WIDTH_PX})))
    .cellHeight(18)
    .minFrameSize(2)
    .transitionDuration(0)
    .sort(true)
    .setColorMapper(differential ? flamegraph.colorMapper.differentialColorMapper : function (d, original) {
      var n = d.data.name;
      if (n.indexOf('JS:') === 0) return '#5fbf6a';
      if (n.indexOf('[unknown]') === 0) return '#b8b8b8';
      return original;
    });
  d3.select(el).datum(data).call(chart);
}`;

/**
 * A flame graph of folded stacks: its element, its data, and the call that draws it once the
 * script is loaded. With a baseline, a differential one: the candidate's frames, red where it
 * spends a larger share of its samples than the baseline at the same stack, blue where a
 * smaller one (stacks only the baseline has are not drawn: the table beside it lists them).
 */
export function flameGraphHtml(stacks: FoldedStacks, id: string, title: string, baseline?: FoldedStacks): string {
  const tree = flameTree(stacks, baseline);
  if (tree.value === 0) return '<p class="sub">The profile holds no samples.</p>';
  // JSON in a script element: `<` escaped so that a frame's name cannot close it.
  const json = JSON.stringify(tree).replace(/</g, '\\u003c');
  return (
    `<div class="flame-graph" id="${escapeHtml(id)}" role="img" aria-label="${escapeHtml(title)}"></div>` +
    `<script type="application/json" id="${escapeHtml(id)}-data">${json}</script>` +
    `<script>rtmpbenchFlameGraph(${JSON.stringify(id)}, ${baseline !== undefined});</script>`
  );
}

/** The scripts a page with flame graphs carries once, before the first graph. */
export function flameGraphAssets(): string {
  return `<script>${flameGraphScript()}</script><script>${DRAW}</script>`;
}
