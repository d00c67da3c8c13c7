import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * Checks the links of Markdown pages: every relative link names a file or folder of the
 * repository, every `#anchor` a heading of the page it points to, and nothing points at the
 * raw output of a committed baseline (only its summaries, comparisons and reports are kept).
 */

/** The lines of a page outside fenced code blocks, with their numbers (1-based). */
function proseLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | null = null;
  text.split('\n').forEach((l, i) => {
    const m = /^\s*(```+|~~~+)/.exec(l);
    if (m !== null) {
      if (fence === null) fence = m[1]![0]!;
      else if (m[1]![0] === fence) fence = null;
      return;
    }
    if (fence === null) out.push({ line: i + 1, text: l });
  });
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingSlug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a page's headings give, duplicates numbered as GitHub numbers them. */
export function headingAnchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const { text: l } of proseLines(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(l);
    if (m === null) continue;
    const base = headingSlug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

export interface Link {
  line: number;
  target: string;
}

/** Inline links and images `[text](target)` of a page, outside code blocks and code spans. */
export function pageLinks(text: string): Link[] {
  const links: Link[] = [];
  for (const { line, text: l } of proseLines(text)) {
    const prose = l.replace(/`[^`]*`/g, (s) => (/^`[^`]*`$/.test(s) && !/\]\(/.test(s) ? '``' : s));
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ line, target: m[1]! });
  }
  return links;
}

/** Paths under results/baselines/ that hold raw output, which is not committed. */
export function isRawBaselineOutput(path: string): boolean {
  if (!/(^|\/)results\/baselines\//.test(path)) return false;
  return /\.(hlog|html|cpuprofile|heapprofile)$|(^|\/)timeline\.(json|ndjson)$|(^|\/)(flame|doctor|bubbleprof|heapprofiler|profile)(\/|$)|\.clinic(\/|$)/.test(
    path,
  );
}

/** Every `results/baselines/...` path a page names, in links, code spans or text. */
function baselinePaths(text: string): { line: number; path: string }[] {
  const out: { line: number; path: string }[] = [];
  text.split('\n').forEach((l, i) => {
    for (const m of l.matchAll(/(?:\.\.\/)*(results\/baselines\/[^\s`)'"|,;:]*)/g)) {
      const path = m[1]!.replace(/[.]+$/, '');
      if (/[<>*{]|\bFOLDER\b/.test(path)) continue; // a pattern or a placeholder, not a path
      out.push({ line: i + 1, path });
    }
  });
  return out;
}

/**
 * What is wrong with the links of one page (`page` relative to `root`): an empty list when
 * every relative link resolves and every anchor exists.
 */
export function linkProblems(
  root: string,
  page: string,
  text: string = readFileSync(join(root, page), 'utf8'),
): string[] {
  const problems: string[] = [];
  const dir = dirname(join(root, page));
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = (file: string) => {
    let a = anchorsOf.get(file);
    if (a === undefined) {
      a = headingAnchors(file === join(root, page) ? text : readFileSync(file, 'utf8'));
      anchorsOf.set(file, a);
    }
    return a;
  };
  for (const { line, target } of pageLinks(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const hash = target.indexOf('#');
    const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
    const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
    const file = pathPart === '' ? join(root, page) : resolve(dir, pathPart);
    const where = `${page}:${line}: ${target}`;
    const inRepo = relative(root, file);
    if (inRepo.startsWith('..')) {
      problems.push(`${where}: points outside the repository`);
      continue;
    }
    if (pathPart !== '' && !existsSync(file)) {
      problems.push(`${where}: no such file or folder (${inRepo})`);
      continue;
    }
    if (anchor !== null) {
      if (!file.endsWith('.md')) problems.push(`${where}: an anchor into a file that is not Markdown`);
      else if (!anchors(file).has(anchor))
        problems.push(`${where}: no heading with the anchor #${anchor} in ${inRepo}`);
    }
  }
  // Baseline paths, linked or only named (links to them are among these too).
  for (const { line, path } of baselinePaths(text)) {
    const where = `${page}:${line}: ${path}`;
    if (isRawBaselineOutput(path)) problems.push(`${where}: raw output of a baseline, which is not kept`);
    else if (!existsSync(join(root, path))) problems.push(`${where}: no such file or folder`);
  }
  return problems;
}
