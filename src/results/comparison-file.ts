import type { GateResult } from './gates.js';
import type { Scenario } from './scenario.js';

/**
 * compare.json: what a comparison ran, in which order, and where each run's results are
 * (`runs/<variant>/<run>/`, each a results folder of its own). Schema version 1.
 */

export const COMPARISON_FILE = 'compare.json';

export interface Variant {
  /** Unique name: the matrix settings ("chunkSize=128,gopCache=true"), or the server's name. */
  name: string;
  server: string;
  /** Built-in server settings of this variant (over the scenario's own). */
  settings: Record<string, string | number | boolean>;
}

export interface ComparisonRun {
  variant: string;
  /** Round of the interleaved schedule (0-based); runs of one round are paired for ratios. */
  round: number;
  /** Results folder, relative to the comparison's folder. */
  dir: string | null;
  /** Why the run did not complete (no results then). */
  error?: string;
  thresholdsPassed?: boolean;
}

export interface ComparisonFile {
  schemaVersion: 1;
  kind: 'comparison';
  tool: { name: 'rtmpbench'; version: string };
  name: string;
  startedAt: string;
  scenario: Scenario;
  repeat: number;
  baseline: string;
  variants: Variant[];
  runs: ComparisonRun[];
  /** Gate rules and their results, each variant against the baseline (absent when no rule was given). */
  gateRules?: string[];
  gates?: GateResult[];
  /**
   * The baseline's runs were not run here but read from results saved earlier (`--against`):
   * not interleaved with the others, so a change of machine or load shows up as a difference.
   */
  against?: { dir: string; startedAt: string };
}
