/**
 * Where a history ends, for the windows counted back from its end (`diagnose`'s last 15 minutes,
 * `replay -m`): the newest record time that one bad time cannot move. The observer stamps every
 * line with its clock as it writes it, so the last lines of a history lie close together in time.
 * A time that does not is not taken as the end, and is reported:
 *
 * 1. a time in the future of the wall clock (past FUTURE_SKEW_MS) is not an end;
 * 2. a time more than JUMP_MS away from the time of each of its neighbours among the last lines
 *    (older and newer) is out of line, and not an end; but a restart (`observer_started`, after
 *    the observer was down a while) may be alone at its time: it is an end;
 * 3. the end is the newest time left among the last SAMPLE lines; when none is left (every line
 *    in the future of this clock: a history from a machine whose clock is ahead), the newest time.
 *
 * Records out of order in the middle of a history are found by the reads themselves (each read
 * checks that times do not go back) and reported there.
 */

import type { History, Line } from "./history_reader.ts";
import type { ReadSink } from "./read_sink.ts";

/** How far ahead of this clock a record may be stamped (clocks of two machines) */
export const FUTURE_SKEW_MS = 5 * 60_000;
/** How far from its neighbours' times a record's time may be before it is out of line */
export const JUMP_MS = 10 * 60_000;
/** How many of the last lines are looked at */
const SAMPLE = 16;

/** Record types the observer writes first after it starts (it may have been down long) */
const STARTS = ['"type":"observer_started"', '"type":"segment_started"'];

function iso(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

function isStart(line: Line): boolean {
  const head = line.text.slice(0, 200);
  return STARTS.some((s) => head.includes(s));
}

/**
 * The time the history ends at (NaN when it has no line with a time), its last lines read
 * backwards; each time not taken is a `bad_time` note
 */
export function historyEnd(history: History, sink: ReadSink, now: number): number {
  const lines: Line[] = [];
  for (const line of history.linesBackward(history.end, sink)) {
    lines.push(line);
    if (lines.length === SAMPLE) break;
  }
  if (lines.length === 0) return NaN;
  const note = (line: Line, text: string) =>
    sink.note({
      kind: "bad_time",
      file: history.segments[line.cursor.segment]?.path ?? null,
      offset: line.cursor.offset,
      text,
    });
  const limit = now + FUTURE_SKEW_MS;
  const present = lines.filter((l) => l.ts <= limit);
  for (const l of lines) {
    if (l.ts > limit && present.length > 0) {
      note(
        l,
        `record seq ${l.seq} is stamped ${iso(l.ts)}, in the future of this clock (${
          iso(now)
        }): not taken as the end of the history`,
      );
    }
  }
  if (present.length === 0) return Math.max(...lines.map((l) => l.ts));
  // Newest first: a time is in line when a neighbour's is near it (or it is a restart's)
  const inLine = present.filter((l, i) => {
    if (present.length === 1) return true;
    const newer = present[i - 1];
    const older = present[i + 1];
    const near = (o: Line | undefined) => o !== undefined && Math.abs(o.ts - l.ts) <= JUMP_MS;
    return near(newer) || near(older) || (older !== undefined && l.ts > older.ts && isStart(l));
  });
  const kept = inLine.length > 0 ? inLine : present;
  const end = Math.max(...kept.map((l) => l.ts));
  for (const l of present) {
    // Noted when it would have been the end: the newest line, or newer than the end chosen
    if (kept.includes(l) || !(l.ts > end || l === lines[0])) continue;
    note(
      l,
      `record seq ${l.seq} is stamped ${
        iso(l.ts)
      }, out of line with the records around it: not taken as the end of the history`,
    );
  }
  return end;
}
