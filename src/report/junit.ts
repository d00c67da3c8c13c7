import type { LoadedComparison } from '../results/folder.js';
import type { RunSummary } from '../results/summary.js';
import { round3 } from '../metrics/round.js';

/**
 * JUnit XML for CI systems: one test case per threshold of each run, and per gate rule and
 * variant of a comparison, in the layout GitHub (test reporters), GitLab (`artifacts:reports:junit`)
 * and Jenkins (the JUnit plugin) all read:
 *
 *   testsuites[name, tests, failures, errors, time]
 *     > testsuite[name, tests, failures, errors, skipped, time, timestamp]
 *       > testcase[classname, name, time] > failure[message, type] (or error[message, type] for a run that failed)
 *
 * A failure's message says the rule, the measured value and why; its text repeats it. Times are
 * seconds. Formats only: every verdict comes from the results.
 */

interface Case {
  classname: string;
  name: string;
  timeSec: number;
  failure?: { message: string; type: string };
  error?: { message: string; type: string };
}

interface Suite {
  name: string;
  timestamp: string;
  cases: Case[];
}

// Characters XML 1.0 does not allow at all (C0 controls other than tab, newline, return; lone surrogates;
// U+FFFE/U+FFFF).
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters to find and escape
const INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/g;

function escapeXml(s: string): string {
  return s
    .replace(INVALID, '\uFFFD')
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const secs = (t: number) => round3(t).toFixed(3);

function caseXml(c: Case): string {
  const open = `    <testcase classname="${escapeXml(c.classname)}" name="${escapeXml(c.name)}" time="${secs(c.timeSec)}"`;
  const inner = c.failure ?? c.error;
  if (inner === undefined) return `${open}/>`;
  const tag = c.failure !== undefined ? 'failure' : 'error';
  return (
    `${open}>\n      <${tag} message="${escapeXml(inner.message)}" ` +
    `type="${escapeXml(inner.type)}">${escapeXml(inner.message)}</${tag}>\n    </testcase>`
  );
}

function junitXml(name: string, suites: readonly Suite[]): string {
  const count = (s: readonly Case[], k: 'failure' | 'error') => s.filter((c) => c[k] !== undefined).length;
  const time = (s: readonly Case[]) => s.reduce((t, c) => t + c.timeSec, 0);
  const all = suites.flatMap((s) => s.cases);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escapeXml(name)}" tests="${all.length}" ` +
      `failures="${count(all, 'failure')}" errors="${count(all, 'error')}" ` +
      `time="${secs(time(all))}">`,
  ];
  for (const s of suites) {
    lines.push(
      `  <testsuite name="${escapeXml(s.name)}" tests="${s.cases.length}" ` +
        `failures="${count(s.cases, 'failure')}" errors="${count(s.cases, 'error')}" skipped="0" ` +
        `time="${secs(time(s.cases))}" ` +
        `timestamp="${escapeXml(s.timestamp.replace(/\.\d+Z$/, ''))}">`,
    );
    for (const c of s.cases) lines.push(caseXml(c));
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>', '');
  return lines.join('\n');
}

/** Test cases for a run's thresholds (those only reported, in a capacity search, never fail). */
function thresholdCases(s: RunSummary, classname: string, prefix = ''): Case[] {
  return s.thresholds.map((t, i) => ({
    classname,
    name: `${prefix}${t.expression}`,
    // The run's length goes to its first case, so a suite's time is the time its runs took.
    timeSec: i === 0 ? s.durationMs / 1000 : 0,
    ...(!t.passed && t.enforced !== false ? { failure: { message: t.message, type: 'threshold' } } : {}),
  }));
}

/** JUnit XML of one run: a test case per threshold. */
export function runJunit(s: RunSummary): string {
  return junitXml(`rtmpbench run ${s.name}`, [
    {
      name: `thresholds: ${s.name}`,
      timestamp: s.startedAt,
      cases: thresholdCases(s, `rtmpbench.thresholds.${s.name}`),
    },
  ]);
}

/**
 * JUnit XML of a comparison: a test case per gate rule and variant, and per threshold of every run (a
 * run that failed is an error).
 */
export function comparisonJunit(c: LoadedComparison): string {
  const f = c.file;
  const suites: Suite[] = [];
  if ((f.gates ?? []).length > 0) {
    suites.push({
      name: `gates: against ${f.baseline}`,
      timestamp: f.startedAt,
      cases: f.gates!.map((g) => ({
        classname: `rtmpbench.gates.${g.variant}`,
        name: g.rule,
        timeSec: 0,
        ...(!g.passed ? { failure: { message: g.message, type: 'gate' } } : {}),
      })),
    });
  }
  for (const v of f.variants) {
    const cases: Case[] = [];
    const loaded = new Map((c.runs.get(v.name) ?? []).map((r) => [r.round, r.run]));
    for (const r of f.runs.filter((x) => x.variant === v.name)) {
      const prefix = `round ${r.round + 1}: `;
      const run = loaded.get(r.round);
      if (r.dir === null || run === undefined) {
        cases.push({
          classname: `rtmpbench.runs.${v.name}`,
          name: `${prefix}run`,
          timeSec: 0,
          error: { message: `the run failed: ${r.error ?? 'no results'}`, type: 'run' },
        });
        continue;
      }
      cases.push(...thresholdCases(run.summary, `rtmpbench.thresholds.${v.name}`, prefix));
    }
    if (cases.length > 0) suites.push({ name: `thresholds: ${v.name}`, timestamp: f.startedAt, cases });
  }
  return junitXml(`rtmpbench compare ${f.name}`, suites);
}
