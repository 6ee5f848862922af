/** Narrows `unknown` to a plain object (not null, not an array): the first step of every validator */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
