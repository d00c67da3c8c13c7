import type { RunSummary } from '../results/summary.js';

/** The server profile's parts of the reports (`--profile-server`): its top functions, and a comparison's difference. */

/** Longest function name shown in a table (JavaScript frames carry their file path). */
const NAME_MAX = 90;

function shortFrame(name: string): string {
  return name.length > NAME_MAX ? `${name.slice(0, NAME_MAX - 1)}…` : name;
}

/** One line that says what the profile is and where its files are; null without one. */
export function profileTitle(s: RunSummary): string | null {
  const p = s.serverProfile;
  if (p === undefined) return null;
  return (
    `server CPU profile: ${p.samples.toLocaleString('en-US')} samples (perf ${p.event} ${p.frequencyHz} Hz, ` +
    `pid ${p.pids.join(',')}); top functions by self samples; files ${p.files.folded}, ${p.files.speedscope}`
  );
}

/** The top functions table (header first), or null when the run has no server profile. */
export function profileRows(s: RunSummary): (string | number)[][] | null {
  const p = s.serverProfile;
  if (p === undefined) return null;
  return [
    ['function', 'self %', 'total %', 'self samples'],
    ...p.top.map((f) => [shortFrame(f.name), f.selfPercent.toFixed(1), f.totalPercent.toFixed(1), f.selfSamples]),
  ];
}
