import type { FoldedStacks } from '../metrics/stack-samples.js';
import { escapeHtml } from './html.js';

/**
 * A flame graph drawn as static SVG from folded stacks: the root at the bottom, each frame as
 * wide as its share of the samples, callees above their callers, siblings in name order (as
 * Brendan Gregg's flame graphs). It needs no script, so it renders anywhere the report opens;
 * each frame's `<title>` gives its name, samples and share on hover.
 */

const WIDTH_PX = 1200;
const ROW_PX = 17;
/** Frames narrower than this are left out (they would be unreadable slivers; they stay in the files). */
const MIN_WIDTH_PX = 0.5;
/** About how wide one character of the 11 px label font is. */
const CHAR_PX = 6.6;

interface FrameNode {
  name: string;
  samples: number;
  children: Map<string, FrameNode>;
}

function frameTree(stacks: FoldedStacks): FrameNode {
  const root: FrameNode = { name: 'all', samples: 0, children: new Map() };
  for (const [key, n] of stacks) {
    root.samples += n;
    let node = root;
    for (const name of key.split(';')) {
      let child = node.children.get(name);
      if (child === undefined) {
        child = { name, samples: 0, children: new Map() };
        node.children.set(name, child);
      }
      child.samples += n;
      node = child;
    }
  }
  return root;
}

function depthOf(node: FrameNode, minSamples: number): number {
  let d = 0;
  for (const c of node.children.values()) if (c.samples >= minSamples) d = Math.max(d, depthOf(c, minSamples));
  return d + 1;
}

/** Warm colours for native and kernel code, green for JavaScript, grey for frames without a name. */
function colour(name: string, seed: number): string {
  const v = (seed * 37) % 55;
  if (name.startsWith('JS:')) return `rgb(${80 + v},${190 + (v % 40)},${90 + v})`;
  if (name.startsWith('[unknown]')) return `rgb(${170 + v},${170 + v},${170 + v})`;
  return `rgb(${220 + (v % 35)},${100 + v * 2},${40 + v})`;
}

export function flameGraphSvg(stacks: FoldedStacks, title: string): string {
  const root = frameTree(stacks);
  if (root.samples === 0) return '<p class="sub">The profile holds no samples.</p>';
  const pxPerSample = WIDTH_PX / root.samples;
  const minSamples = MIN_WIDTH_PX / pxPerSample;
  const depth = depthOf(root, minSamples);
  const height = (depth + 1) * ROW_PX;
  const parts: string[] = [];
  let seed = 0;
  const draw = (node: FrameNode, x: number, level: number) => {
    const w = node.samples * pxPerSample;
    const y = height - (level + 1) * ROW_PX;
    const share = ((node.samples / root.samples) * 100).toFixed(2);
    const chars = Math.floor((w - 6) / CHAR_PX);
    const label = chars < 3 ? '' : node.name.length <= chars ? node.name : `${node.name.slice(0, chars - 1)}…`;
    parts.push(
      `<g class="frame" data-name="${escapeHtml(node.name)}"><title>${escapeHtml(node.name)} ` +
        `(${node.samples.toLocaleString('en-US')} samples, ${share}%)</title>` +
        `<rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${ROW_PX - 1}" rx="2" ` +
        `fill="${colour(node.name, seed++)}"/>` +
        (label !== '' ? `<text x="${(x + 3).toFixed(2)}" y="${y + ROW_PX - 5}">${escapeHtml(label)}</text>` : '') +
        '</g>',
    );
    let cx = x;
    for (const c of [...node.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      if (c.samples >= minSamples) draw(c, cx, level + 1);
      cx += c.samples * pxPerSample;
    }
  };
  draw(root, 0, 0);
  return (
    `<svg class="flame-graph" xmlns="http://www.w3.org/2000/svg" width="${WIDTH_PX}" height="${height}" ` +
    `viewBox="0 0 ${WIDTH_PX} ${height}" role="img" aria-label="${escapeHtml(title)}" ` +
    `font-family="ui-monospace, Menlo, monospace" font-size="11">${parts.join('')}</svg>`
  );
}
