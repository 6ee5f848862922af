/**
 * Bounded insertion-ordered maps and counts keyed by data: the pieces the observer's state keeps
 * its memory bounded with.
 */

/**
 * Moves a key to the newest end of an insertion-ordered map. Past `cap` plus an eighth, the
 * oldest entries are dropped down to `cap` in one pass: trimming on every insert costs an
 * iterator per message (a tenth of the observer's time when measured). Returns how many entries
 * were dropped.
 */
export function touch<K, V>(map: Map<K, V>, key: K, value: V, cap: number): number {
  if (map.has(key)) map.delete(key);
  map.set(key, value);
  if (map.size <= cap + (cap >> 3)) return 0;
  const excess = map.size - cap;
  let left = excess;
  for (const oldest of map.keys()) {
    if (left-- <= 0) break;
    map.delete(oldest);
  }
  return excess;
}

/** Adds to a count keyed by data (an own property: `constructor` is a key like any other) */
export function bump(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (Object.hasOwn(counts, key) ? counts[key] ?? 0 : 0) + n;
}
