/** How bad an error fold or a finding is: the observer's severities, most severe first. */

export const SEVERITIES = ["critical", "error", "warning", "info"] as const;
export type Severity = typeof SEVERITIES[number];
