import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVE_SETTINGS } from '../../src/cli/serve.js';
import { formatDefault, valueName } from '../../src/input/schema-fields.js';
import { describedScenarioFlags } from '../../src/load/scenario-input.js';
import { PACKAGE_ROOT } from '../../src/version.js';

/**
 * The README's flag tables, generated from the schemas the flags come from. A test keeps the
 * README equal to them; `UPDATE_README=1 npx vitest run test/readme.test.ts` rewrites them.
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

export function serveFlagsTable(): string {
  const rows = SERVE_SETTINGS.map((s) => {
    const d = formatDefault(s.field) ?? '';
    const choices = s.field.kind === 'enum' ? ` (${s.field.values.join(', ')})` : '';
    return `| \`${s.flag} <${valueName(s.field)}>\` | ${cell(d)} | ${cell(`${s.field.description ?? ''}${choices}`)} |`;
  });
  return ['| flag | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

export const README = join(PACKAGE_ROOT, 'README.md');

/** The text between `<!-- NAME:start -->` and `<!-- NAME:end -->`. */
export function section(text: string, name: string): string | null {
  const m = new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n?<!-- ${name}:end -->`).exec(text);
  return m ? m[1]! : null;
}

export function writeSection(name: string, body: string): void {
  const text = readFileSync(README, 'utf8');
  writeFileSync(README, text.replace(new RegExp(`(<!-- ${name}:start -->\\n)[\\s\\S]*?\\n?(<!-- ${name}:end -->)`), (_, a: string, b: string) => `${a}${body}\n${b}`));
}

export function errorCodesTable(codes: Record<string, string>): string {
  return ['| code | meaning |', '|---|---|', ...Object.entries(codes).map(([code, text]) => `| \`${code}\` | ${cell(text)} |`)].join('\n');
}

export function closeReasonsList(kinds: readonly string[]): string {
  return kinds.map((k) => `\`${k}\``).join(', ');
}
