/**
 * The two histories of a data directory, read-only: typed diff records (validated by the
 * observer's own validators), snapshots, and the state at any moment rebuilt from the nearest
 * snapshot at or before it plus the diff records after that snapshot (`state_replay.ts`). Whatever
 * it passes over goes to one ReadReport, with its place.
 */

import {
  DIFF_FILE_BASE,
  type DiffRecord,
  RECORD_SCHEMA_VERSION,
  type SnapshotRecord,
  STATE_FILE_BASE,
  validateDiffRecord,
  validateSnapshot,
} from "@mat/observer";
import {
  type Cursor,
  type Gate,
  History,
  type Line,
  type Skim,
  type Tally,
} from "./history_reader.ts";
import { FUTURE_SKEW_MS, historyEnd, JUMP_MS } from "./history_end.ts";
import { ReadReport } from "./read_report.ts";
import { QUIET } from "./read_sink.ts";
import { unfitReason } from "./snapshot_fit.ts";
import { replayState, type StateAt } from "./state_replay.ts";

export type { StateAt };

/** A data directory that cannot be read: exit code 1 with this message */
export class DataError extends Error {
  override name = "DataError";
}

/** Lines of the diff history to read: from a cursor, up to another (or the end) */
export interface Range {
  from: Cursor;
  to?: Cursor | undefined;
}

export interface RecordOptions {
  /** Keeps only the lines whose text passes (before they are parsed) */
  prefilter?: (text: string) => boolean;
  /** Keeps only these record types, read from each line's header bytes */
  types?: ReadonlySet<string>;
  /** Keeps only the lines stamped in [after, before] (ms; open when undefined) */
  after?: number;
  before?: number;
}

export interface Typed<R> {
  record: R;
  cursor: Cursor;
}

/** Snapshots found not to fit the diff history before the state is rebuilt from diffs alone */
const UNFIT_TRIED = 3;

/** Diff lines longer than this are skipped as oversized (records hold previews, not payloads) */
export const MAX_DIFF_LINE = 16 << 20;
/** Snapshot lines longer than this are skipped as oversized (the state's maps are capped) */
export const MAX_STATE_LINE = 512 << 20;

export class TimeMachine {
  readonly report = new ReadReport();

  #end: number | undefined;

  private constructor(
    readonly dir: string,
    readonly diff: History,
    readonly states: History,
    /** The wall clock when it was opened (ms): what a time in the future is in the future of */
    readonly now: number,
  ) {}

  static async open(dir: string, options: { now?: number } = {}): Promise<TimeMachine> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(dir);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new DataError(
          `Data directory "${dir}" does not exist: run the observer (deno task observe) or point TELEMETRY_DATA_DIR or --data-dir at its files`,
        );
      }
      if (err instanceof Deno.errors.PermissionDenied) {
        throw new DataError(`Data directory "${dir}" cannot be read: permission denied`);
      }
      throw err;
    }
    if (!info.isDirectory) throw new DataError(`Data directory "${dir}" is not a directory`);
    const tm = new TimeMachine(
      dir,
      await History.open(dir, DIFF_FILE_BASE, { maxLine: MAX_DIFF_LINE }),
      await History.open(dir, STATE_FILE_BASE, { maxLine: MAX_STATE_LINE }),
      options.now ?? Date.now(),
    );
    for (const note of [...tm.diff.problems(), ...tm.states.problems()]) tm.report.note(note);
    return tm;
  }

  get empty(): boolean {
    return this.diff.empty && this.states.empty;
  }

  #path(history: History, line: Line): string {
    return history.segments[line.cursor.segment]?.path ?? "?";
  }

  /** The line's JSON object when it is one of a schema this reader knows; reports the rest */
  #valueOf(history: History, line: Line): Record<string, unknown> | undefined {
    const value = line.value();
    const path = this.#path(history, line);
    if (value === undefined) {
      const why = line.invalidUtf8 ? "invalid UTF-8" : "not a JSON object";
      this.report.skip("corrupt", path, line.cursor.offset, why);
      return undefined;
    }
    const v = value["schema_version"];
    if (typeof v === "number" && v > RECORD_SCHEMA_VERSION) {
      this.report.skip(
        "newer",
        path,
        line.cursor.offset,
        `schema_version ${v} is newer than ${RECORD_SCHEMA_VERSION} (seq ${String(value["seq"])})`,
      );
      return undefined;
    }
    return value;
  }

  /**
   * Reads the diff lines stamped in [after, before] (either end open when undefined), oldest
   * first, in one pass: from a binary search to `after` up to the first line past `before` whose
   * next line is in time order, each line kept by its own time. The two lines before the landing
   * are checked too. Where lines are out of time order (each is reported) the search and the stop
   * cannot be trusted: `read` is then called again over the whole history, and must start afresh.
   * `read` may set `tally.counting` to have the lines still to come counted rather than read.
   * `skim` sees the window's lines of its types in passing (afresh on a second read, as `read`).
   */
  async readWindow<T>(
    after: number | undefined,
    before: number | undefined,
    options: Omit<RecordOptions, "after" | "before"> & { skim?: Skim },
    read: (lines: AsyncGenerator<Line>, tally: Tally) => Promise<T>,
  ): Promise<T> {
    const a = after ?? -Infinity;
    const b = before ?? Infinity;
    const start = a > -Infinity ? this.diff.seek(a) : this.diff.start;
    // Already all of it: lines out of order need no second read.
    const everything = a === -Infinity && b === Infinity;
    let scanFrom = start;
    let misled = false;
    if (a > -Infinity) {
      // The landing is right when the lines before it are older than `after`, in order.
      const back: Line[] = [];
      for (const line of this.diff.linesBackward(start, this.report)) {
        back.unshift(line);
        if (back.length === 2) break;
      }
      misled = back.some((l, i) => l.ts >= a || l.ts < (back[i - 1]?.ts ?? -Infinity));
      scanFrom = back[0]?.cursor ?? start;
    }
    const attempt = async (
      whole: boolean,
    ): Promise<{ result: T; disordered: boolean; kept: number }> => {
      let disordered = false;
      let kept = 0;
      const from = whole ? this.diff.start : scanFrom;
      const report = this.report;
      const path = (segment: number) => this.diff.segments[segment]?.path ?? "?";
      const diff = this.diff;
      const opts = {
        ...(options.prefilter ? { prefilter: options.prefilter } : {}),
        ...(options.types ? { types: options.types } : {}),
        ...(options.skim ? { skim: options.skim } : {}),
      };
      let lastTs = NaN;
      let lastSeq = NaN;
      let past = false;
      // Order is checked on every line, of any type, before the type filter.
      const gate: Gate = (ts, seq, segment, offset) => {
        if (ts < lastTs || seq <= lastSeq) {
          report.outOfOrder({
            path: path(segment),
            offset,
            seq,
            ts,
            previousSeq: lastSeq,
            previousTs: lastTs,
          });
          if (ts < lastTs && !whole && !everything) {
            disordered = true;
            return "stop";
          }
        }
        lastTs = ts;
        lastSeq = seq;
        if (past && !whole) return "stop";
        if (ts > b) {
          past = true;
          return "skip";
        }
        if (ts < a) return "skip";
        kept++;
        return "keep";
      };
      const tally: Tally = { counting: false, count: 0 };
      const lines = diff.lines(from, report, { ...opts, gate, tally });
      const result = await read(lines, tally);
      return { result, disordered, kept };
    };
    let outcome: { result: T; disordered: boolean; kept: number } | undefined;
    if (!misled) {
      outcome = await attempt(false);
      if (outcome.disordered) outcome = undefined;
    }
    if (outcome === undefined) {
      this.report.notice(
        "records out of time order around the window: the whole diff history was read, each record kept by its own time",
      );
      outcome = await attempt(true);
    }
    if (outcome.kept === 0 && !everything && !this.diff.empty) await this.#emptyWindow(a, b);
    return outcome.result;
  }

  /** A window holding no record of the diff history, with where the history starts and ends */
  async #emptyWindow(after: number, before: number): Promise<void> {
    let first: Line | undefined;
    for await (const line of this.diff.lines(this.diff.start, QUIET)) {
      first = line;
      break;
    }
    const end = this.lastTime();
    const when = (ms: number) => Number.isFinite(ms) ? new Date(ms).toISOString() : "?";
    const where = end < after
      ? `it ends before the window, at ${when(end)}`
      : first !== undefined && first.ts > before
      ? `it starts after the window, at ${when(first.ts)}`
      : `it runs from ${when(first?.ts ?? NaN)} to ${when(end)}`;
    const window = `${Number.isFinite(after) ? when(after) : "its start"} .. ${
      Number.isFinite(before) ? when(before) : "its end"
    }`;
    this.report.note({
      kind: "window_empty",
      file: null,
      offset: null,
      text: `the window ${window} holds no record of the diff history: ${where}`,
    });
  }

  /** Typed diff records of a range, oldest first */
  async *records(range: Range, options: RecordOptions = {}): AsyncGenerator<Typed<DiffRecord>> {
    for await (const line of this.lines(range, options)) {
      const record = this.typed(line);
      if (record !== undefined) yield { record, cursor: line.cursor };
    }
  }

  /**
   * Diff lines of a range, oldest first, not parsed yet: a reader that keeps only some of them
   * parses those with `typed`. A line stamped outside [after, before] is never returned.
   */
  async *lines(range: Range, options: RecordOptions = {}): AsyncGenerator<Line> {
    const after = options.after ?? -Infinity;
    const before = options.before ?? Infinity;
    const opts = {
      ...(range.to ? { to: range.to } : {}),
      ...(options.prefilter ? { prefilter: options.prefilter } : {}),
      ...(options.types ? { types: options.types } : {}),
    };
    for await (const line of this.diff.lines(range.from, this.report, opts)) {
      if (line.ts < after || line.ts > before) continue;
      yield line;
    }
  }

  /** A diff line as a typed record, or undefined (reported as skipped, with the reason) */
  typed(line: Line): DiffRecord | undefined {
    const value = this.#valueOf(this.diff, line);
    if (value === undefined) return undefined;
    const parsed = validateDiffRecord(value);
    if (!parsed.ok) {
      this.report.skip(
        "invalid",
        this.#path(this.diff, line),
        line.cursor.offset,
        `${parsed.reason} (seq ${String(value["seq"])})`,
      );
      return undefined;
    }
    return parsed.record;
  }

  /**
   * The newest good snapshot taken at or before `t` (the newest of all when `t` is undefined),
   * walking back over what cannot be used: each line passed over is reported, and the newest
   * snapshot that could not be used is named in a notice with the one used instead. A snapshot
   * that does not fit the diff history (snapshot_fit.ts) is not used either: a `snapshot_unfit`
   * note says why; past UNFIT_TRIED of them, the state is rebuilt from the diff history alone.
   */
  async snapshotAt(t?: number): Promise<SnapshotRecord | undefined> {
    const end = t === undefined ? this.states.end : this.states.seek(t + 1);
    let failed: { line: Line; reason: string } | undefined;
    let found: SnapshotRecord | undefined;
    let unfit = 0;
    for (const line of this.states.linesBackward(end, this.report)) {
      const value = this.#valueOf(this.states, line);
      if (value === undefined) {
        const v = line.value()?.["schema_version"];
        if (v !== undefined) {
          failed ??= {
            line,
            reason: `schema_version ${String(v)} is newer than ${RECORD_SCHEMA_VERSION}`,
          };
        }
        continue;
      }
      const parsed = validateSnapshot(value);
      if (!parsed.ok) {
        const reason = `snapshot: ${parsed.reason} (seq ${String(value["seq"])})`;
        this.report.skip("invalid", this.#path(this.states, line), line.cursor.offset, reason);
        failed ??= { line, reason: parsed.reason };
        continue;
      }
      const why = await unfitReason(this.diff, parsed.record);
      if (why !== undefined) {
        this.report.note({
          kind: "snapshot_unfit",
          file: this.#path(this.states, line),
          offset: line.cursor.offset,
          text:
            `snapshot seq ${parsed.record.seq} does not fit the diff history (${why}): not used`,
        });
        if (++unfit >= UNFIT_TRIED) break;
        continue;
      }
      found = parsed.record;
      break;
    }
    if (failed !== undefined) {
      const seq = failed.line.value()?.["seq"];
      const place = `${this.#path(this.states, failed.line)}:${failed.line.cursor.offset}`;
      const instead = found === undefined
        ? "the diff history alone"
        : `snapshot seq ${found.seq} (${found.ts})`;
      this.report.notice(
        `snapshot seq ${
          String(seq)
        } at ${place} is unreadable (${failed.reason}): state rebuilt from ${instead}`,
      );
    }
    return found;
  }

  /**
   * Where the history ends (ms), NaN when both are empty: the end of the diff history as
   * history_end.ts finds it (one time in the future, or out of line with its neighbours, cannot
   * move it), or the newest snapshot's time when that is later but in line with it; a history
   * that is missing or empty has no say
   */
  lastTime(): number {
    if (this.#end !== undefined) return this.#end;
    const diffEnd = historyEnd(this.diff, this.report, this.now);
    const snap = this.states.last(this.report)?.ts;
    const usable = (t: number | undefined): t is number =>
      t !== undefined && Number.isFinite(t) && t <= this.now + FUTURE_SKEW_MS;
    let end = diffEnd;
    if (usable(snap) && (!Number.isFinite(diffEnd) || Math.abs(snap - diffEnd) <= JUMP_MS)) {
      end = Number.isFinite(diffEnd) ? Math.max(diffEnd, snap) : snap;
    }
    this.#end = end;
    return end;
  }

  /**
   * The observer's state at `t` (the end of the history when undefined), replayed from the
   * nearest snapshot (`state_replay.ts`)
   */
  stateAt(t?: number): Promise<StateAt> {
    return replayState(this, t);
  }
}
