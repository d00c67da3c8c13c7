import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/protocol/errors.js';
import { CLOSE_KINDS } from '../src/server/close-reason.js';
import { closeReasonsList, errorCodesTable, README, runFlagsTable, section, serveFlagsTable, writeSection } from './helpers/readme.js';

/**
 * The README's lists of flags, error codes and close reasons are generated from their one
 * definition; these tests keep them equal. After changing a definition, rewrite them with
 * `UPDATE_README=1 npx vitest run test/readme.test.ts`.
 */
const generated: [string, () => string][] = [
  ['run-flags', runFlagsTable],
  ['serve-flags', serveFlagsTable],
  ['error-codes', () => errorCodesTable(ERROR_CODES)],
  ['close-reasons', () => closeReasonsList(CLOSE_KINDS)],
];

describe('the README', () => {
  for (const [name, make] of generated) {
    it(`lists ${name.replace('-', ' ')} as their definition says`, () => {
      if (process.env.UPDATE_README) writeSection(name, make());
      const text = readFileSync(README, 'utf8');
      expect(section(text, name), `README section ${name} (UPDATE_README=1 rewrites it)`).toBe(make());
    });
  }

  it('documents every error code with its meaning', () => {
    const text = readFileSync(README, 'utf8');
    for (const [code, meaning] of Object.entries(ERROR_CODES)) expect(text).toContain(`| \`${code}\` | ${meaning} |`);
  });
});
