/**
 * Whether a snapshot fits the diff history it is replayed with. The observer takes a snapshot of
 * its state as of diff record `diff_seq` (observer.ts `snapshot`: the state is taken, the diff
 * history flushed, then the snapshot stamped and written), so:
 *
 * 1. `diff_seq` is at most the last seq of the diff history;
 * 2. the record at `diff_seq` was stamped before the snapshot (within AFTER_MS);
 * 3. the record after it was stamped after the state was taken: at most FLUSH_MS (the time a flush
 *    may take) before the snapshot;
 * 4. a `message` record after it is past the snapshot's position on its partition: the state has
 *    not counted it yet (up to a `topic_reset`, which moves positions back).
 *
 * A snapshot that breaks one of them would be replayed with records it already holds (counted
 * twice) or without records it lacks: it is not used.
 */

import type { SnapshotRecord } from "@mat/observer";
import type { History, Line } from "./history_reader.ts";
import { QUIET } from "./read_sink.ts";

/** How long after a snapshot's state was taken its record may be stamped (a slow flush) */
export const FLUSH_MS = 30_000;
/** How far the clock may seem to go back between two writes (ms rounding) */
const AFTER_MS = 1_000;
/** Records after the snapshot looked at for a message to compare with its positions */
const LOOK_AHEAD = 64;

function iso(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

function compareOffsets(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** Why `snap` does not fit the diff history, or undefined when it does (or nothing says) */
export async function unfitReason(
  diff: History,
  snap: SnapshotRecord,
): Promise<string | undefined> {
  const last = diff.last(QUIET);
  if (last === undefined) return undefined;
  const d = snap.diff_seq;
  // No line at or past diff_seq (found as a read finds it: by seq, in file order)
  const landing = diff.seekSeq(d);
  if (landing.segment >= diff.segments.length) {
    return `its diff_seq ${d} is past the end of the diff history (last seq ${last.seq})`;
  }
  const ts = Date.parse(snap.ts);
  const at = diff.seekSeq(d + 1);
  const before = diff.before(at, QUIET);
  if (before !== undefined && before.seq <= d && before.ts > ts + AFTER_MS) {
    return `diff record seq ${before.seq}, at or before its diff_seq ${d}, is stamped ${
      iso(before.ts)
    }, after the snapshot: the state cannot hold it`;
  }
  const positions = new Map(
    snap.state.positions.map((p) => [`${p.topic}:${p.partition}`, p.offset]),
  );
  let n = 0;
  let first: Line | undefined;
  for await (const line of diff.lines(at, QUIET)) {
    first ??= line;
    if (line === first && line.ts < ts - FLUSH_MS) {
      return `diff record seq ${line.seq}, the first after its diff_seq ${d}, is stamped ${
        iso(line.ts)
      }, before the snapshot: the state holds it already and it would be counted twice`;
    }
    if (++n > LOOK_AHEAD) break;
    const head = line.text.slice(0, 200);
    if (head.includes('"type":"topic_reset"')) break;
    if (!head.includes('"type":"message"')) continue;
    const v = line.value();
    const topic = v?.["topic"];
    const offset = v?.["offset"];
    const held = positions.get(`${String(topic)}:${String(v?.["partition"])}`);
    if (typeof offset === "string" && held !== undefined && compareOffsets(offset, held) <= 0) {
      return `diff record seq ${line.seq}, after its diff_seq ${d}, is ${
        String(topic)
      } offset ${offset}, ` +
        `which the snapshot's position (${held}) already holds: it would be counted twice`;
    }
    break;
  }
  return undefined;
}
