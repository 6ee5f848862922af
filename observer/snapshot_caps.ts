/**
 * What one snapshot keeps of each list of the state: a snapshot stays under 256 KB whatever the
 * backlog (about 330 bytes per open handoff, 500 per error fold). Past a cap a list keeps its
 * oldest open handoffs or newest entries, and the snapshot says how many it left out (`omitted`).
 */

export const SNAPSHOT_CAPS = {
  handoffs_open: 200,
  errors: 100,
  recent_message_ids: 256,
  recent_closed_tasks: 256,
  conversations: 100,
  pending_replies: 100,
  superseded_handoffs: 100,
};

/** A cap for each capped list (`Infinity` for all of it) */
export type SnapshotCaps = Record<keyof typeof SNAPSHOT_CAPS, number>;

/** The first `n` values of a list, or the last `n` with `newest`, and how many were left out */
export function capped<T>(
  values: Iterable<T>,
  n: number,
  newest = false,
): { kept: T[]; omitted: number } {
  const all = [...values];
  if (all.length <= n) return { kept: all, omitted: 0 };
  return { kept: newest ? all.slice(-n) : all.slice(0, n), omitted: all.length - n };
}
