import type { Command } from 'commander';
import { describedScenarioFlags, type FlagValues } from '../load/scenario-input.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Flags of every command that runs a scenario, beyond the scenario's own. */
export interface OutputFlags {
  out?: string;
  json?: boolean;
  progress?: boolean;
}

export type RunFlags = FlagValues & OutputFlags;

/** The flags that change a scenario, derived from the scenario schema. */
export function addScenarioFlags(cmd: Command): Command {
  for (const f of describedScenarioFlags()) {
    const spec = f.value === null ? `--${f.name}` : `--${f.name} <${f.value}>`;
    if (f.repeat !== undefined) cmd.option(spec, f.helpText, collect);
    else cmd.option(spec, f.helpText);
  }
  return cmd;
}

/** The scenario's flags and where the results go (shared by run, compare and profile). */
export function addScenarioOptions(cmd: Command): Command {
  return addScenarioFlags(cmd)
    .option('--out <dir>', 'root folder for results (default: results)')
    .option('--json', 'print the result as JSON on stdout')
    .option('--no-progress', 'no progress line on stderr');
}
