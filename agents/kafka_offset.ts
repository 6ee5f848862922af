/**
 * Kafka offsets travel as decimal strings (kafkajs gives them so; they outgrow a float past 2^53).
 * One comparison for all of them: no Number, no BigInt on the hot path.
 */

const NON_NEGATIVE = /^(0|[1-9]\d*)$/;

/**
 * Orders Kafka offsets `a` and `b`: negative when `a` comes first, 0 when equal, positive when
 * later. Decimal strings without leading zeros compare by length then text; anything else (a
 * negative sentinel such as "-1") by value.
 */
export function compareOffsets(a: string, b: string): number {
  if (NON_NEGATIVE.test(a) && NON_NEGATIVE.test(b)) {
    if (a.length !== b.length) return a.length - b.length;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
