/**
 * Sampled call stacks, as `perf script` prints them, folded into one line per unique stack
 * (`root;caller;callee count`, the collapsed format flame-graph tools read), and what is read
 * from them: the functions with the most samples (self and total), the difference between two
 * profiles, and a speedscope file (https://www.speedscope.app/file-format-schema.json).
 */

/** Unique stacks (frames root first, joined by `;`) and their sample counts. */
export type FoldedStacks = Map<string, number>;

/** A frame's name as perf prints it, without the offset into the function (`+0x1a`). */
function frameName(line: string): string {
  // "    7f4c1400611a JS:*hot [eval]:1:13+0x5a (/tmp/perf-4375.map)"
  const body = line.trim().replace(/^[0-9a-f]+\s+/, '');
  const dsoAt = body.lastIndexOf(' (');
  const sym = (dsoAt >= 0 ? body.slice(0, dsoAt) : body).replace(/\+0x[0-9a-f]+$/, '');
  const dso = dsoAt >= 0 ? body.slice(dsoAt + 2, -1) : '';
  // A frame perf cannot name (a stripped binary's static function) keeps the binary it lies in.
  const name =
    sym === '[unknown]' && dso !== '' ? `[unknown] ${dso.slice(dso.lastIndexOf('/') + 1)}` : jsFrameName(sym);
  // `;` separates frames in the folded format; a frame's name must not contain it.
  return name.replaceAll(';', ':');
}

/**
 * A JavaScript frame as Node's --perf-basic-prof names it (`JS:*fn file:///abs/dist/src/x.js:3:1`,
 * `*` optimised, `~` interpreted), without the tier (one function, one frame) and with its file
 * from the package's `src/` or `node_modules/` on.
 */
function jsFrameName(sym: string): string {
  if (!sym.startsWith('JS:')) return sym;
  return `JS:${sym.slice(3).replace(/^[*~^+-]/, '')}`
    .replace(/file:\/\/\S*?\/(?:dist\/)?(src\/|node_modules\/)/, '$1')
    .replace(/file:\/\//, '');
}

/**
 * Folds `perf script` output as it streams: a sample is a header line (command, pid, time,
 * event) followed by its frames, innermost first, one per line, and a blank line. The command
 * is the stack's root, so the threads of a server (its workers, its event loop) stand apart.
 */
export class StackFolder {
  readonly stacks: FoldedStacks = new Map();
  private partial = '';
  private frames: string[] = [];
  private comm: string | null = null;

  push(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  finish(): FoldedStacks {
    if (this.partial !== '') this.line(this.partial);
    this.partial = '';
    this.line('');
    return this.stacks;
  }

  private line(line: string): void {
    if (line.trim() === '') {
      if (this.comm !== null) {
        const key = [this.comm, ...this.frames.reverse()].join(';');
        this.stacks.set(key, (this.stacks.get(key) ?? 0) + 1);
      }
      this.comm = null;
      this.frames = [];
    } else if (line.startsWith(' ') || line.startsWith('\t')) {
      if (this.comm !== null) this.frames.push(frameName(line));
    } else {
      // "node  4375  4950.651781:    2004008 cpu-clock: " (the command may hold spaces; the pid follows it)
      const m = /^(.*?)\s+\d+(?:\/\d+)?\s+\d+\.\d+:/.exec(line);
      this.comm = (m?.[1] ?? line.split(/\s+/)[0] ?? '?').trim().replaceAll(';', ':');
    }
  }
}

export function foldedText(stacks: FoldedStacks): string {
  const lines = [...stacks.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

export function parseFolded(text: string): FoldedStacks {
  const stacks: FoldedStacks = new Map();
  for (const line of text.split('\n')) {
    const at = line.lastIndexOf(' ');
    if (at <= 0) continue;
    const n = Number(line.slice(at + 1));
    if (!Number.isFinite(n) || n <= 0) continue;
    const key = line.slice(0, at);
    stacks.set(key, (stacks.get(key) ?? 0) + n);
  }
  return stacks;
}

export function sampleCount(stacks: FoldedStacks): number {
  let n = 0;
  for (const c of stacks.values()) n += c;
  return n;
}

/** A function's share of the samples: on top of the stack (self), anywhere in it (total). */
export interface TopFunction {
  name: string;
  selfSamples: number;
  totalSamples: number;
  selfPercent: number;
  totalPercent: number;
}

const pct = (n: number, of: number) => (of > 0 ? Math.round((n / of) * 1000) / 10 : 0);

/** Every function's self and total samples (a recursive function counts once per stack in total). */
function functionCounts(stacks: FoldedStacks): Map<string, { self: number; total: number }> {
  const counts = new Map<string, { self: number; total: number }>();
  const entry = (name: string) => {
    const known = counts.get(name);
    if (known !== undefined) return known;
    const e = { self: 0, total: 0 };
    counts.set(name, e);
    return e;
  };
  for (const [key, n] of stacks) {
    // The root is the command, not a function.
    const frames = key.split(';').slice(1);
    const leaf = frames.at(-1);
    if (leaf === undefined) continue;
    entry(leaf).self += n;
    for (const f of new Set(frames)) entry(f).total += n;
  }
  return counts;
}

/** The `top` functions with the most self samples. */
export function topFunctions(stacks: FoldedStacks, top = 20): TopFunction[] {
  const all = sampleCount(stacks);
  return [...functionCounts(stacks).entries()]
    .sort((a, b) => b[1].self - a[1].self || b[1].total - a[1].total)
    .slice(0, top)
    .map(([name, c]) => ({
      name,
      selfSamples: c.self,
      totalSamples: c.total,
      selfPercent: pct(c.self, all),
      totalPercent: pct(c.total, all),
    }));
}

/** A function's self share in a baseline and a candidate, in % of each profile's samples. */
export interface FunctionDifference {
  name: string;
  baselinePercent: number;
  candidatePercent: number;
  /** candidate − baseline, percentage points: where the candidate's extra samples go. */
  differencePoints: number;
}

/** The `top` functions whose self share differs most between two profiles (largest growth first). */
export function profileDifference(baseline: FoldedStacks, candidate: FoldedStacks, top = 20): FunctionDifference[] {
  const b = functionCounts(baseline);
  const c = functionCounts(candidate);
  const nb = sampleCount(baseline);
  const nc = sampleCount(candidate);
  const names = new Set([...b.keys(), ...c.keys()]);
  return [...names]
    .map((name) => {
      const baselinePercent = pct(b.get(name)?.self ?? 0, nb);
      const candidatePercent = pct(c.get(name)?.self ?? 0, nc);
      return {
        name,
        baselinePercent,
        candidatePercent,
        differencePoints: Math.round((candidatePercent - baselinePercent) * 10) / 10,
      };
    })
    .filter((d) => d.differencePoints !== 0)
    .sort((x, y) => Math.abs(y.differencePoints) - Math.abs(x.differencePoints) || x.name.localeCompare(y.name))
    .slice(0, top);
}

/** A speedscope file holding one "sampled" profile: each unique stack once, weighted by its samples. */
export function speedscopeFile(stacks: FoldedStacks, name: string): object {
  const index = new Map<string, number>();
  const frames: { name: string }[] = [];
  const samples: number[][] = [];
  const weights: number[] = [];
  for (const [key, n] of stacks) {
    samples.push(
      key.split(';').map((f) => {
        let i = index.get(f);
        if (i === undefined) {
          i = frames.length;
          index.set(f, i);
          frames.push({ name: f });
        }
        return i;
      }),
    );
    weights.push(n);
  }
  const total = weights.reduce((a, b) => a + b, 0);
  return {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    name,
    exporter: 'rtmpbench',
    activeProfileIndex: 0,
    shared: { frames },
    profiles: [{ type: 'sampled', name, unit: 'none', startValue: 0, endValue: total, samples, weights }],
  };
}
