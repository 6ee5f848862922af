/**
 * Reads one time-machine history (closed segments in order, then the active file) as lines,
 * forwards from a cursor or backwards from one, and finds a moment in it by binary search on byte
 * offsets (history_seek.ts): records are in observation order, so a window is found by seeking,
 * never by reading the whole history.
 *
 * Lines are split by the one line splitter (`@mat/agents/lines`). Every read is linear in the
 * bytes it covers and holds one read buffer, a line cut between reads while it is joined (up to
 * GROW_LIMIT), and the line being returned: a longer line is found by scanning on without holding
 * it, then read once more if it is to be returned. A line longer than the history's `maxLine`, or
 * an incomplete last line however long, costs a scan. Each read checks, on the headers it reads,
 * that no seq is missing (seq_continuity.ts).
 */

import { fileChunksSync, LineBatch, splitLines } from "@mat/agents/lines";
import type { StrayEntry } from "@mat/observer/segments";
import { fileProblems, openFiles } from "./history_files.ts";
import { BackwardReader, readLineAt } from "./file_reads.ts";
import { seekLine } from "./history_seek.ts";
import { HeaderTypes } from "./header_types.ts";
import {
  headText,
  newHeader,
  newHeaderSpan,
  readHeaderBytes,
  readHeaderSpan,
} from "./line_header.ts";
import { QUIET, type ReadSink } from "./read_sink.ts";
import type { ReaderNote } from "./reader_notes.ts";
import { gapNote, SeqContinuity } from "./seq_continuity.ts";

export {
  type Cursor,
  type Gate,
  Line,
  type Segment,
  type Skim,
  type SkimmedLine,
  type Tally,
} from "./history_line.ts";
import type { Cursor, Gate, Segment, Skim, SkimmedLine, Tally } from "./history_line.ts";
import { isUtf8, Line, parseObject } from "./history_line.ts";

const lossy = new TextDecoder();

/** The bits of `HeaderTypes` matches in `lines`: a type the read keeps, one its skim sees */
const KEEP = 1;
const SKIM = 2;

/** How much is read at once */
const READ_BYTES = 1 << 20;
/** A line up to this long is held while it is read; a longer one is scanned, then re-read */
const GROW_LIMIT = 8 << 20;
/** Lines longer than this are skipped as oversized, by default */
export const DEFAULT_MAX_LINE = 64 << 20;

/** Complete lines of a read of one segment */
interface Chunk {
  segment: number;
  path: string;
  batch: LineBatch;
}

export interface HistoryOptions {
  /** Lines longer than this are skipped as oversized */
  maxLine?: number;
}

export class History {
  readonly maxLine: number;

  private constructor(
    readonly dir: string,
    readonly base: string,
    readonly segments: Segment[],
    /** Entries named like a segment that are not regular files: never read */
    readonly strays: StrayEntry[],
    /** Whether the history has closed segments but no active file */
    readonly activeMissing: boolean,
    options: HistoryOptions,
  ) {
    this.maxLine = options.maxLine ?? DEFAULT_MAX_LINE;
  }

  /**
   * The files of a history in reading order, as the observer lays them out (its segment_files.ts),
   * with their sizes now; a symlink counts as the file it points to. An entry named like a segment
   * that is not a regular file (a directory, a FIFO, a dangling symlink) is never opened: it is
   * one of `strays`, which `problems` reports.
   */
  static async open(dir: string, base: string, options: HistoryOptions = {}): Promise<History> {
    const files = await openFiles(dir, base);
    return new History(dir, base, files.segments, files.strays, files.activeMissing, options);
  }

  /** What is wrong with the files of this history, found when it was opened (history_files.ts) */
  problems(): ReaderNote[] {
    return fileProblems(this.base, this.segments, this.strays, this.activeMissing);
  }

  get empty(): boolean {
    return this.segments.every((s) => s.size === 0);
  }

  get bytes(): number {
    return this.segments.reduce((n, s) => n + s.size, 0);
  }

  get start(): Cursor {
    return { segment: 0, offset: 0 };
  }

  get end(): Cursor {
    return { segment: this.segments.length, offset: 0 };
  }

  /**
   * The complete lines from `from` up to `to` (the end when undefined), a read at a time. A line
   * longer than GROW_LIMIT is found by scanning on, then read on its own; past `maxLine` it is
   * skipped as oversized, and an incomplete last line as torn, both without being held.
   */
  async *#chunks(from: Cursor, to: Cursor | undefined, sink: ReadSink): AsyncGenerator<Chunk> {
    for (let s = from.segment; s < this.segments.length; s++) {
      if (to !== undefined && s > to.segment) return;
      const seg = this.segments[s];
      if (seg === undefined) continue;
      const limit = to !== undefined && s === to.segment ? Math.min(to.offset, seg.size) : seg.size;
      const base = s === from.segment ? from.offset : 0;
      if (base >= limit) continue;
      const file = Deno.openSync(seg.path, { read: true });
      try {
        const chunks = fileChunksSync(file, { from: base, to: limit, size: READ_BYTES });
        const splits = splitLines(chunks, {
          offset: base,
          maxLine: Math.min(GROW_LIMIT, this.maxLine),
          unterminated: "torn",
        });
        for await (const split of splits) {
          switch (split.kind) {
            case "lines":
              yield { segment: s, path: seg.path, batch: split };
              break;
            case "long": {
              if (split.length > this.maxLine) {
                sink.skip("oversized", seg.path, split.offset, this.#over(split.length));
                break;
              }
              // Read on its own file: the reads of the chunks own this one's position.
              const line = readLineAt(seg.path, split.offset, split.length);
              const batch = new LineBatch(line, undefined, split.offset, [0], [line.length], 1);
              yield { segment: s, path: seg.path, batch };
              break;
            }
            case "torn":
              sink.skip(
                "torn",
                seg.path,
                split.offset,
                `an incomplete last line of ${split.length} bytes`,
              );
              break;
          }
        }
      } finally {
        file.close();
      }
    }
  }

  #over(length: number): string {
    return `a line of ${length} bytes, over the limit of ${this.maxLine}`;
  }

  /**
   * A line whose header is not the observer's: its time and seq from the parsed line, or
   * undefined when it has no time (reported as corrupt)
   */
  #unusual(
    data: Uint8Array,
    start: number,
    end: number,
    cursor: Cursor,
    path: string,
    sink: ReadSink,
  ): Line | undefined {
    const bytes = data.subarray(start, end);
    const text = lossy.decode(bytes);
    if (!isUtf8(text, bytes)) {
      sink.skip("corrupt", path, cursor.offset, "invalid UTF-8");
      return undefined;
    }
    const value = parseObject(text);
    const ts = value?.["ts"];
    const ms = typeof ts === "string" ? Date.parse(ts) : NaN;
    if (Number.isNaN(ms)) {
      const why = value === undefined
        ? "not a JSON object"
        : `no time: "ts" is ${ts === undefined ? "missing" : JSON.stringify(ts)}`;
      sink.skip("corrupt", path, cursor.offset, why);
      return undefined;
    }
    const seq = value?.["seq"];
    if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) {
      const got = seq === undefined ? "missing" : JSON.stringify(seq);
      sink.skip("corrupt", path, cursor.offset, `"seq" is ${got}, not an integer >= 0`);
      return undefined;
    }
    return new Line(text, ms, seq, cursor);
  }

  /**
   * Reads lines from `from` (up to `to`), oldest first. `gate` sees every line with a time first;
   * `types` keeps only the lines whose header names one of those record types, decided before
   * the line is decoded; `prefilter` then the lines whose text passes. Once `tally.counting` is
   * set, the lines that pass are counted instead. `skim` sees the lines of its types the gate
   * keeps, before any other filter.
   */
  async *lines(
    from: Cursor,
    sink: ReadSink,
    options: {
      to?: Cursor;
      prefilter?: (text: string) => boolean;
      types?: ReadonlySet<string>;
      gate?: Gate;
      tally?: Tally;
      skim?: Skim;
    } = {},
  ): AsyncGenerator<Line> {
    const { types, gate, tally, skim } = options;
    // Types are matched where the header holds them: bit KEEP for `types`, SKIM for the skim's.
    const matching = types !== undefined || skim !== undefined;
    const matcher = new HeaderTypes([types ?? new Set(), skim?.types ?? new Set()]);
    const h = newHeaderSpan();
    const seen: SkimmedLine = {
      text: "",
      start: 0,
      end: 0,
      typeTo: -1,
      segment: 0,
      offset: 0,
      length: 0,
    };
    const continuity = new SeqContinuity((g) => sink.note(gapNote(g, this.segments)));
    try {
      for await (const { segment, path, batch: c } of this.#chunks(from, options.to, sink)) {
        const text = c.text;
        for (let i = 0; i < c.count; i++) {
          const start = c.starts[i] ?? 0;
          const end = c.ends[i] ?? 0;
          if (end === start) continue; // an empty line
          const offset = c.offset + start;
          let line: Line | undefined;
          // The header of an ASCII chunk's line is read in the chunk's text; else from the line's
          // first bytes, decoded.
          const head = text ?? headText(c.bytes, start, end);
          const read = text !== undefined
            ? readHeaderSpan(text, start, end, h)
            : readHeaderSpan(head, 0, head.length, h);
          if (read) {
            continuity.see(h.seq, segment, offset);
            const g = gate === undefined ? "keep" : gate(h.ts, h.seq, segment, offset);
            if (g === "stop") return;
            if (g === "skip") continue;
            const bits = matching ? matcher.match(head, h.typeFrom, h.typeTo) : 0;
            if (skim !== undefined && (bits & SKIM) !== 0) {
              if (text !== undefined) {
                seen.text = text;
                seen.start = start;
                seen.end = end;
              } else {
                // The header was read in the line's first bytes decoded: the line's first characters
                seen.text = c.line(i);
                seen.start = 0;
                seen.end = seen.text.length;
              }
              seen.typeTo = h.typeTo;
              seen.segment = segment;
              seen.offset = offset;
              seen.length = end - start;
              skim.visit(seen);
            }
            if (types !== undefined && (bits & KEEP) === 0) continue;
            if (tally?.counting && options.prefilter === undefined) {
              tally.count++;
              continue;
            }
            // A line of a chunk that is not all ASCII is decoded on its own, strictly
            line = text !== undefined
              ? new Line(c.line(i), h.ts, h.seq, { segment, offset })
              : new Line(c.bytes.slice(start, end), h.ts, h.seq, { segment, offset });
          } else {
            const cursor = { segment, offset };
            line = this.#unusual(c.bytes, start, end, cursor, path, sink);
            if (line === undefined) continue;
            continuity.see(line.seq, segment, offset);
            const g = gate === undefined ? "keep" : gate(line.ts, line.seq, segment, offset);
            if (g === "stop") return;
            if (g === "skip") continue;
            const type = skim === undefined && types === undefined
              ? ""
              : String(line.value()?.["type"]);
            if (skim?.types.has(type)) {
              seen.text = line.text;
              seen.start = 0;
              seen.end = seen.text.length;
              seen.typeTo = -1;
              seen.segment = segment;
              seen.offset = offset;
              seen.length = end - start;
              skim.visit(seen);
            }
            if (types !== undefined && !types.has(type)) continue;
          }
          if (options.prefilter && !options.prefilter(line.text)) continue;
          if (tally?.counting) {
            tally.count++;
            continue;
          }
          // One at a time, while the read buffer holds still: a line made long before it is
          // used would outlive young-generation collections and load the old generation.
          yield line;
        }
      }
    } finally {
      continuity.end();
    }
  }

  /**
   * The line of `length` bytes at `cursor`, as a read found it, read once more (undefined when it
   * has no time: reported as corrupt)
   */
  lineAt(cursor: Cursor, length: number, sink: ReadSink): Line | undefined {
    const seg = this.segments[cursor.segment];
    if (seg === undefined) return undefined;
    const bytes = readLineAt(seg.path, cursor.offset, length);
    const h = newHeader();
    return readHeaderBytes(bytes, 0, bytes.length, h)
      ? new Line(bytes, h.ts, h.seq, cursor)
      : this.#unusual(bytes, 0, bytes.length, cursor, seg.path, sink);
  }

  /** Complete lines before `end`, newest first */
  *linesBackward(end: Cursor, sink: ReadSink): Generator<Line> {
    const h = newHeader();
    const last = Math.min(end.segment, this.segments.length - 1);
    for (let s = last; s >= 0; s--) {
      const seg = this.segments[s];
      if (seg === undefined) continue;
      const hi = s === end.segment ? Math.min(end.offset, seg.size) : seg.size;
      if (hi === 0) continue;
      const file = Deno.openSync(seg.path, { read: true });
      try {
        const r = new BackwardReader(file);
        let nl = r.newlineBefore(hi);
        if (nl + 1 < hi) {
          sink.skip("torn", seg.path, nl + 1, `an incomplete last line of ${hi - nl - 1} bytes`);
        }
        while (nl >= 0) {
          const previous = nl === 0 ? -1 : r.newlineBefore(nl);
          const start = previous + 1;
          if (nl - start > this.maxLine) {
            sink.skip("oversized", seg.path, start, this.#over(nl - start));
          } else if (nl > start) {
            const bytes = r.bytes(start, nl);
            const cursor = { segment: s, offset: start };
            const line = readHeaderBytes(bytes, 0, bytes.length, h)
              ? new Line(bytes, h.ts, h.seq, cursor)
              : this.#unusual(bytes, 0, bytes.length, cursor, seg.path, sink);
            if (line !== undefined) yield line;
          }
          nl = previous;
        }
      } finally {
        file.close();
      }
    }
  }

  /** The complete record just before a cursor (undefined at the start) */
  before(cursor: Cursor, sink: ReadSink = QUIET): Line | undefined {
    for (const line of this.linesBackward(cursor, sink)) return line;
    return undefined;
  }

  /** The newest complete record, reading backwards from the end */
  last(sink: ReadSink = QUIET): Line | undefined {
    return this.before(this.end, sink);
  }

  /** The position of the first line with `ts >= t` (the end when there is none) */
  seek(t: number): Cursor {
    return seekLine(this.segments, "ts", t);
  }

  /** The position of the first line with `seq >= n` (the end when there is none) */
  seekSeq(n: number): Cursor {
    return seekLine(this.segments, "seq", n);
  }
}
