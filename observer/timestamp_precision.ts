/**
 * Times written with different precisions, compared fairly. The observer and the agents write
 * milliseconds ("10:00:07.412Z"); a kubelet writes seconds ("10:00:07Z"), which stands for any
 * instant of that second. Ordering a second-precision time against a millisecond one by
 * `Date.parse` alone puts 10:00:07Z before 10:00:07.412Z, though it may well be after.
 */

const FRACTION = /T\d{2}:\d{2}:\d{2}(?:\.(\d+))?/;

/**
 * The last millisecond (since the epoch) that the ISO 8601 time `at` may stand for, given the
 * digits it was written with: "10:00:07Z" -> 10:00:07.999, "10:00:07.4Z" -> 10:00:07.499,
 * "10:00:07.412Z" -> itself. NaN when `at` is not a date.
 */
export function latestMsOf(at: string): number {
  const ms = Date.parse(at);
  const digits = FRACTION.exec(at)?.[1]?.length ?? 0;
  return digits >= 3 ? ms : ms + 10 ** (3 - digits) - 1;
}
