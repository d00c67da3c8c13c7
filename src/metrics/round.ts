/**
 * Figures as summary.json, timelines and reports hold them: rounded to a fixed number of
 * decimals, so files stay readable and two runs' figures diff cleanly. Each rounding is defined
 * here once; metrics imports nothing of ours, so every layer that formats figures may use it.
 */

/** Rounded to hundredths (ratios, milliseconds of a percentile). */
export const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Rounded to thousandths (seconds, milliseconds, megabits per second). */
export const round3 = (x: number): number => Math.round(x * 1000) / 1000;
