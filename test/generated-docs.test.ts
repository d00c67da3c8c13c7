import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/protocol/errors.js';
import { CLOSE_KINDS } from '../src/server/close-reason.js';
import {
  closeReasonsList,
  errorCodesTable,
  GENERATED_SECTIONS,
  resilienceMatrix,
  runFlagsTable,
  section,
  sectionPage,
  type SectionName,
  serveFlagsTable,
  updateRequested,
  writeSection,
} from './helpers/generated-docs.js';
import { PACKAGE_ROOT } from '../src/version.js';

/**
 * The docs' lists of flags, error codes and close reasons are generated from their one
 * definition; these tests keep each page equal to them. After changing a definition, rewrite
 * them with `UPDATE_DOCS=1 npx vitest run test/generated-docs.test.ts` (UPDATE_README=1 works too).
 */
const generated: [SectionName, () => string][] = [
  ['run-flags', runFlagsTable],
  ['serve-flags', serveFlagsTable],
  ['error-codes', () => errorCodesTable(ERROR_CODES)],
  ['close-reasons', () => closeReasonsList(CLOSE_KINDS)],
  ['resilience-matrix', resilienceMatrix],
];

describe('the docs', () => {
  for (const [name, make] of generated) {
    it(`list ${name.replace('-', ' ')} in ${GENERATED_SECTIONS[name]} as their definition says`, () => {
      if (updateRequested()) writeSection(name, make());
      const text = readFileSync(sectionPage(name), 'utf8');
      expect(section(text, name), `${GENERATED_SECTIONS[name]} section ${name} (UPDATE_DOCS=1 rewrites it)`).toBe(
        make(),
      );
    });
  }

  it('generate every marked section, each on its own page only', () => {
    expect(generated.map(([n]) => n).sort()).toEqual(Object.keys(GENERATED_SECTIONS).sort());
    const pages = [
      'README.md',
      ...readdirSync(join(PACKAGE_ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    const found: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(PACKAGE_ROOT, page), 'utf8');
      for (const m of text.matchAll(/<!-- ([\w-]+):start -->/g)) found.push(`${m[1]} in ${page}`);
    }
    const expected = Object.entries(GENERATED_SECTIONS).map(([name, page]) => `${name} in ${page}`);
    expect(found.sort()).toEqual(expected.sort());
  });

  it('document every error code with its meaning on the results page', () => {
    const text = readFileSync(sectionPage('error-codes'), 'utf8');
    for (const [code, meaning] of Object.entries(ERROR_CODES)) expect(text).toContain(`| \`${code}\` | ${meaning} |`);
  });

  it('accept UPDATE_DOCS and the older UPDATE_README to rewrite the sections', () => {
    expect(updateRequested({ UPDATE_DOCS: '1' })).toBe(true);
    expect(updateRequested({ UPDATE_README: '1' })).toBe(true);
    expect(updateRequested({})).toBe(false);
  });
});
