/**
 * Times on the command line: ISO 8601 with a zone (`2026-11-24T18:00:00Z`, `...+01:00`) or a
 * relative age before now (`90s`, `10m`, `2h`, `1d`).
 */

const RELATIVE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const ISO_WITH_ZONE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):?(\d{2}))$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** The times a Date can hold: up to 100,000,000 days either side of 1970 */
const MAX_TIME_MS = 8.64e15;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * What is wrong with the calendar fields of an ISO time, if anything: Date.parse rolls
 * `2026-02-30` over to March 2 and `24:30` to the next day, where a person meant no such moment
 */
function calendarError(m: RegExpExecArray): string | undefined {
  const [year, month, day, hour, minute, second, zoneHour, zoneMinute] = m.slice(1).map((v) =>
    v === undefined ? 0 : Number(v)
  );
  const y = year ?? 0;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const mo = month ?? 0;
  const days = mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1];
  if (days === undefined) return `there is no month ${mo}`;
  if ((day ?? 0) < 1 || (day ?? 0) > days) {
    return `there is no day ${day} in ${String(mo).padStart(2, "0")}/${y} (it has ${days})`;
  }
  if ((hour ?? 0) > 23 || (minute ?? 0) > 59 || (second ?? 0) > 59) {
    return "hours run to 23, minutes and seconds to 59";
  }
  if ((zoneHour ?? 0) > 23 || (zoneMinute ?? 0) > 59) return "its zone offset is out of range";
  return undefined;
}

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
  const iso = ISO_WITH_ZONE.exec(t);
  if (iso !== null) {
    const wrong = calendarError(iso);
    if (wrong !== undefined) throw new RangeError(`Cannot parse time "${text}": ${wrong}`);
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new RangeError(
    `Cannot parse time "${text}": expected ISO 8601 with a zone (2026-11-24T18:00:00Z) or an age such as 10m`,
  );
}
