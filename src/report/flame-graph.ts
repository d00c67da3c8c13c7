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

/** d3-flame-graph's data: a frame, its samples (including its callees'), its callees. */
interface FlameNode {
  name: string;
  value: number;
  children: FlameNode[];
}

/** Folded stacks as a tree of frames; frames below `MIN_SHARE` of the samples are pruned. */
function flameTree(stacks: FoldedStacks): FlameNode {
  type Build = { name: string; value: number; children: Map<string, Build> };
  const root: Build = { name: 'all', value: 0, children: new Map() };
  for (const [key, n] of stacks) {
    root.value += n;
    let node = root;
    for (const name of key.split(';')) {
      let child = node.children.get(name);
      if (child === undefined) {
        child = { name, value: 0, children: new Map() };
        node.children.set(name, child);
      }
      child.value += n;
      node = child;
    }
  }
  const min = root.value * MIN_SHARE;
  const out = (b: Build): FlameNode => ({
    name: b.name,
    value: b.value,
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
function rtmpbenchFlameGraph(id) {
  var el = document.getElementById(id);
  var data = JSON.parse(document.getElementById(id + '-data').textContent);
  var chart = flamegraph.default()
    .width(Math.min(${WIDTH_PX}, Math.max(600, el.clientWidth || ${WIDTH_PX})))
    .cellHeight(18)
    .minFrameSize(2)
    .transitionDuration(0)
    .sort(true)
    .setColorMapper(function (d, original) {
      var n = d.data.name;
      if (n.indexOf('JS:') === 0) return '#5fbf6a';
      if (n.indexOf('[unknown]') === 0) return '#b8b8b8';
      return original;
    });
  d3.select(el).datum(data).call(chart);
}`;

/** A flame graph of folded stacks: its element, its data, and the call that draws it once the script is loaded. */
export function flameGraphHtml(stacks: FoldedStacks, id: string, title: string): string {
  const tree = flameTree(stacks);
  if (tree.value === 0) return '<p class="sub">The profile holds no samples.</p>';
  // JSON in a script element: `<` escaped so that a frame's name cannot close it.
  const json = JSON.stringify(tree).replace(/</g, '\\u003c');
  return (
    `<div class="flame-graph" id="${escapeHtml(id)}" role="img" aria-label="${escapeHtml(title)}"></div>` +
    `<script type="application/json" id="${escapeHtml(id)}-data">${json}</script>` +
    `<script>rtmpbenchFlameGraph(${JSON.stringify(id)});</script>`
  );
}

/** The scripts a page with flame graphs carries once, before the first graph. */
export function flameGraphAssets(): string {
  return `<script>${flameGraphScript()}</script><script>${DRAW}</script>`;
}
