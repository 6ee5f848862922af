/**
 * The observer's state at any moment, replayed as the observer folds it: from the nearest good
 * snapshot, with the observer's own `ObserverState`, and with the options the observer folded with.
 * Those come from the history: the snapshot's `fold_options`, then each `observer_started`'s (a
 * restart may change them). A history of an older observer records none: its records are folded
 * with the observer's defaults, and the read report says so.
 */

import {
  DEFAULT_FOLD_OPTIONS,
  type FoldOptions,
  foldOptionsOf,
  type ObserverStateData,
  type RecordedFoldOptions,
  recordFoldOptions,
} from "@mat/observer";
import { ObserverState } from "@mat/observer/state";
import type { TimeMachine } from "./time_machine.ts";

/** The options a replay folded with, and where they were read */
export interface ReplayOptions {
  options: FoldOptions;
  /** A snapshot's or an `observer_started`'s `fold_options`, or the defaults (none recorded) */
  source: "snapshot" | "observer_started" | "default";
}

export interface StateAt {
  state: ObserverStateData;
  /** The snapshot the state started from, if any */
  snapshot: { seq: number; ts: string; diff_seq: number } | null;
  /** Diff records replayed on top of it */
  replayed: number;
  /** Newest record time folded in (ms), or NaN with an empty history */
  asOf: number;
  /** The options in force at the end of the replay */
  foldOptions: ReplayOptions;
}

/** How a state was rebuilt, as the JSON output says it (`rebuilt_from`) */
export interface RebuiltFrom {
  snapshot_seq: number | null;
  snapshot_ts: string | null;
  diff_records_replayed: number;
  fold_options: RecordedFoldOptions & { source: ReplayOptions["source"] };
}

export function rebuiltFrom(at: StateAt): RebuiltFrom {
  return {
    snapshot_seq: at.snapshot?.seq ?? null,
    snapshot_ts: at.snapshot?.ts ?? null,
    diff_records_replayed: at.replayed,
    fold_options: { ...recordFoldOptions(at.foldOptions.options), source: at.foldOptions.source },
  };
}

const defaultOptions: ReplayOptions = { options: { ...DEFAULT_FOLD_OPTIONS }, source: "default" };

function recordedOptions(
  r: RecordedFoldOptions,
  source: "snapshot" | "observer_started",
): ReplayOptions {
  return { options: foldOptionsOf(r), source };
}

/**
 * Counts keyed by data (agent names...) on an object with no prototype, where `constructor` or
 * `toString` is a name like any other and `counts[name] ?? 0` starts from 0
 */
function countsByName(counts: Record<string, number>): Record<string, number> {
  return Object.assign(Object.create(null), counts);
}

/**
 * The observer's state at `t` (the end of the history when undefined): the snapshot at or
 * before it, plus every diff record after that snapshot (found by seq) stamped up to `t`. A record
 * whose seq goes back is reported as out of order; one that goes back to the snapshot's
 * `diff_seq` or below is not applied (as on the observer's restart) and is a skipped line.
 */
export async function replayState(tm: TimeMachine, t?: number): Promise<StateAt> {
  const snap = await tm.snapshotAt(t);
  let options = snap?.fold_options === undefined
    ? defaultOptions
    : recordedOptions(snap.fold_options, "snapshot");
  const state = new ObserverState(options.options, snap?.state);
  let foldedWithDefaults = 0;
  state.errorCounts = {
    by_severity: countsByName(state.errorCounts.by_severity),
    by_category: countsByName(state.errorCounts.by_category),
    by_agent: countsByName(state.errorCounts.by_agent),
  };
  let asOf = snap ? Date.parse(snap.ts) : NaN;
  const from = snap ? tm.diff.seekSeq(snap.diff_seq + 1) : tm.diff.start;
  let replayed = 0;
  let previous: { seq: number; ts: number } | undefined;
  // One pass from the snapshot: up to the first line stamped after `t` whose next line is in
  // time order; once lines are out of time order, on to the end, each line kept by its time.
  let lastTs = NaN;
  let lastSeq = NaN;
  let past = false;
  let whole = t === undefined;
  for await (const line of tm.lines({ from })) {
    const cursor = line.cursor;
    const path = tm.diff.segments[cursor.segment]?.path ?? "?";
    if (line.ts < lastTs) {
      tm.report.outOfOrder({
        path,
        offset: cursor.offset,
        seq: line.seq,
        ts: line.ts,
        previousSeq: lastSeq,
        previousTs: lastTs,
      });
      if (!whole) {
        whole = true;
        tm.report.notice(
          "records out of time order after the snapshot: all of them were read, each kept by its own time",
        );
      }
    }
    lastTs = line.ts;
    lastSeq = line.seq;
    if (t !== undefined) {
      if (past && !whole) break;
      if (line.ts > t) {
        past = true;
        continue;
      }
    }
    const record = tm.typed(line);
    if (record === undefined) continue;
    const ts = Date.parse(record.ts);
    if (previous !== undefined && record.seq <= previous.seq) {
      tm.report.outOfOrder({
        path,
        offset: cursor.offset,
        seq: record.seq,
        ts,
        previousSeq: previous.seq,
        previousTs: previous.ts,
      });
    }
    if (snap && record.seq <= snap.diff_seq) {
      tm.report.skip(
        "seq_backwards",
        path,
        cursor.offset,
        `seq ${record.seq} after seq ${
          previous?.seq ?? "?"
        }: at or below the diff_seq ${snap.diff_seq} of snapshot seq ${snap.seq}, so not applied`,
      );
      previous = { seq: record.seq, ts };
      continue;
    }
    if (snap && previous === undefined && record.seq > snap.diff_seq + 1) {
      tm.report.note({
        kind: "seq_gap",
        file: path,
        offset: cursor.offset,
        text: `the diff records after snapshot seq ${snap.seq} start at seq ${record.seq}, not ${
          snap.diff_seq + 1
        }: the state misses the ${record.seq - snap.diff_seq - 1} record(s) in between`,
      });
    }
    previous = { seq: record.seq, ts };
    // The observer restarted: it folded what follows with the options it started with
    if (record.type === "observer_started" && record.fold_options !== undefined) {
      options = recordedOptions(record.fold_options, "observer_started");
      state.options = options.options;
    }
    if (options.source === "default") foldedWithDefaults++;
    state.apply(record);
    replayed++;
    asOf = ts;
  }
  if (foldedWithDefaults > 0) {
    const d = DEFAULT_FOLD_OPTIONS;
    tm.report.notice(
      `${foldedWithDefaults} record(s) replayed without the options the observer folded them with ` +
        `(an older observer did not record them): folded with its defaults (topic prefix ` +
        `"${d.prefix}", queue window ${d.windowSize}, stuck after ${d.stuckAfterMs} ms, orphan ` +
        `grace ${d.orphanGraceMs} ms)`,
    );
  }
  return {
    state: state.toData(),
    snapshot: snap ? { seq: snap.seq, ts: snap.ts, diff_seq: snap.diff_seq } : null,
    replayed,
    asOf,
    foldOptions: options,
  };
}
