/**
 * How bad an error fold or a finding is: the observer's severities, most severe first, and the
 * one order everyone ranks them by (the oracle imports it).
 */

export const SEVERITIES = ["critical", "error", "warning", "info"] as const;
export type Severity = typeof SEVERITIES[number];

/** Whether a value (read from a file or a flag) is a severity */
export function isSeverity(value: unknown): value is Severity {
  return SEVERITIES.some((s) => s === value);
}

/** 0 for the most severe (critical), up to 3 (info) */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** For sorting, most severe first: below 0 when `a` is more severe than `b`, 0 when the same */
export function compareSeverity(a: Severity, b: Severity): number {
  return severityRank(a) - severityRank(b);
}

/** The more severe of two */
export function mostSevere(a: Severity, b: Severity): Severity {
  return compareSeverity(a, b) <= 0 ? a : b;
}
