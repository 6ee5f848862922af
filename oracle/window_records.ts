/**
 * The records of a window of the diff history, for `replay` and `diffs`: the window `replay -m N`
 * means, and the first records of a window with how many it holds in all.
 */

import type { DiffRecord } from "@mat/observer";
import type { Invocation } from "./cli_args.ts";
import type { TimeMachine } from "./time_machine.ts";

/** `replay -m N` counts back from the end of the history, not from the wall clock */
export function replayWindow(
  tm: TimeMachine,
  inv: Invocation,
): [number | undefined, number | undefined] {
  if (inv.minutes !== undefined) {
    const end = tm.lastTime();
    const last = Number.isFinite(end) ? end : Date.now();
    return [last - inv.minutes * 60_000, last];
  }
  return [inv.after, inv.before];
}

/**
 * The first `limit` records of a window (of one type), and how many it holds: past the limit,
 * lines are counted from their headers, not parsed
 */
export function windowRecords(
  tm: TimeMachine,
  after: number | undefined,
  before: number | undefined,
  limit: number,
  type?: string,
): Promise<{ shown: DiffRecord[]; total: number }> {
  const options = type === undefined ? {} : { types: new Set([type]) };
  return tm.readWindow(after, before, options, async (lines, tally) => {
    const shown: DiffRecord[] = [];
    for await (const line of lines) {
      const record = tm.typed(line);
      if (record !== undefined) shown.push(record);
      if (shown.length >= limit) tally.counting = true;
    }
    return { shown, total: shown.length + tally.count };
  });
}
