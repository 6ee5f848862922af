/**
 * Times on the command line: ISO 8601 with a zone (`2026-11-24T18:00:00Z`, `...+01:00`) or a
 * relative age before now (`90s`, `10m`, `2h`, `1d`).
 */

const RELATIVE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** The times a Date can hold: up to 100,000,000 days either side of 1970 */
const MAX_TIME_MS = 8.64e15;

/** A duration such as `10m` in milliseconds; RangeError when it is not one */
export function parseDuration(text: string): number {
  const m = RELATIVE.exec(text.trim());
  const unit = m?.[2] === undefined ? undefined : UNIT_MS[m[2]];
  if (m === null || unit === undefined) {
    throw new RangeError(`Cannot parse duration "${text}": expected a number and ms, s, m, h or d`);
  }
  return Number(m[1]) * unit;
}

/** Milliseconds since the epoch for an ISO time with a zone or a relative age before `now` */
export function parseTime(text: string, now: number = Date.now()): number {
  const t = text.trim();
  if (RELATIVE.test(t)) {
    const ms = now - parseDuration(t);
    if (Math.abs(ms) <= MAX_TIME_MS) return ms;
    throw new RangeError(
      `Cannot parse time "${text}": it is out of range (more than 100,000,000 days from 1970)`,
    );
  }
  if (ISO_WITH_ZONE.test(t)) {
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new RangeError(
    `Cannot parse time "${text}": expected ISO 8601 with a zone (2026-11-24T18:00:00Z) or an age such as 10m`,
  );
}
