import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVE_SETTINGS } from '../../src/cli/serve.js';
import { formatDefault, valueName } from '../../src/input/schema-fields.js';
import { describedScenarioFlags } from '../../src/load/scenario-input.js';
import { probeMarkdown } from '../../src/report/probe.js';
import type { ProbeComparison } from '../../src/results/probe.js';
import { PACKAGE_ROOT } from '../../src/version.js';

/**
 * The docs' generated tables (flags, error codes, close reasons), made from the definitions
 * they come from. A test keeps each docs page equal to them;
 * `UPDATE_DOCS=1 npx vitest run test/generated-docs.test.ts` rewrites them (UPDATE_README=1 too).
 */

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function runFlagsTable(): string {
  const rows = describedScenarioFlags().map((f) => {
    const d = f.field.default === undefined || f.repeat !== undefined ? '' : (formatDefault(f.field) ?? '');
    const flag = f.value === null ? `--${f.name}` : `--${f.name} <${f.value}>`;
    return `| \`${cell(flag)}\` | ${cell(d)} | ${cell(f.helpText.replace(/ \(default [^)]*\)$/, ''))} |`;
  });
  return ['| flag | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** The committed resilience matrix (`npm run probe:resilience` makes it again). */
const RESILIENCE_MATRIX = 'results/baselines/resilience/probe.json';

/** The resilience matrix of docs/resilience.md, from the committed probe report. */
export function resilienceMatrix(): string {
  const c = JSON.parse(readFileSync(join(PACKAGE_ROOT, RESILIENCE_MATRIX), 'utf8')) as ProbeComparison;
  return probeMarkdown(c, { title: 'The matrix' }).trimEnd();
}

export function serveFlagsTable(): string {
  const rows = SERVE_SETTINGS.map((s) => {
    const d = formatDefault(s.field) ?? '';
    const choices = s.field.kind === 'enum' ? ` (${s.field.values.join(', ')})` : '';
    return `| \`${s.flag} <${valueName(s.field)}>\` | ${cell(d)} | ${cell(`${s.field.description ?? ''}${choices}`)} |`;
  });
  return ['| flag | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** The page of the docs that holds each generated section, between `<!-- NAME:start/end -->`. */
export const GENERATED_SECTIONS = {
  'run-flags': 'docs/run.md',
  'serve-flags': 'docs/server.md',
  'error-codes': 'docs/results.md',
  'close-reasons': 'docs/server.md',
  'resilience-matrix': 'docs/resilience.md',
} as const satisfies Record<string, string>;

export type SectionName = keyof typeof GENERATED_SECTIONS;

/** Absolute path of the page holding a section. */
export function sectionPage(name: SectionName): string {
  return join(PACKAGE_ROOT, GENERATED_SECTIONS[name]);
}

/** Whether the environment asks for the generated sections to be rewritten. */
export function updateRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.UPDATE_DOCS || env.UPDATE_README);
}

/** The text between `<!-- NAME:start -->` and `<!-- NAME:end -->`. */
export function section(text: string, name: string): string | null {
  const m = new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n?<!-- ${name}:end -->`).exec(text);
  return m ? m[1]! : null;
}

export function writeSection(name: SectionName, body: string): void {
  const page = sectionPage(name);
  const text = readFileSync(page, 'utf8');
  writeFileSync(
    page,
    text.replace(
      new RegExp(`(<!-- ${name}:start -->\\n)[\\s\\S]*?\\n?(<!-- ${name}:end -->)`),
      (_, a: string, b: string) => `${a}${body}\n${b}`,
    ),
  );
}

export function errorCodesTable(codes: Record<string, string>): string {
  return [
    '| code | meaning |',
    '|---|---|',
    ...Object.entries(codes).map(([code, text]) => `| \`${code}\` | ${cell(text)} |`),
  ].join('\n');
}

export function closeReasonsList(kinds: readonly string[]): string {
  return kinds.map((k) => `\`${k}\``).join(', ');
}
