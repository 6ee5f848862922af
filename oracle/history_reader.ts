/**
 * Reads one time-machine history (closed segments in order, then the active file) as lines, and
 * finds a moment in it by binary search on byte offsets: records are in observation order, so a
 * window is found by seeking, never by reading the whole history.
 *
 * Lines are split by the one line splitter (`@mat/agents/lines`). Every read is linear in the
 * bytes it covers and holds one read buffer, a line cut between reads while it is joined (up to
 * GROW_LIMIT), and the line being returned: a longer line is found by scanning on without holding
 * it, then read once more if it is to be returned. A line longer than the history's `maxLine`, or
 * an incomplete last line however long, costs a scan.
 */

import { fileChunks, LineBatch, splitLines } from "@mat/agents/lines";
import { listSegments } from "@mat/observer/segments";
import { HEADER_BYTES, newHeader, readHeader, readHeaderBytes } from "./line_header.ts";

export interface Segment {
  path: string;
  size: number;
}

/** A place in a history: a segment and a byte offset at the start of a line */
export interface Cursor {
  segment: number;
  offset: number;
}

/** Why the line splitter passed a line over */
export type LineSkip = "corrupt" | "torn" | "oversized";

/** A line whose time or seq is lower than the line before it */
export interface Disorder {
  path: string;
  offset: number;
  seq: number;
  ts: number;
  previousSeq: number;
  previousTs: number;
}

/** Where a reader reports the lines it passed over, and the lines out of order it saw */
export interface ReadSink {
  skip(kind: LineSkip, path: string, offset: number, reason: string): void;
  outOfOrder(disorder: Disorder): void;
}

/** Counts what reading skipped: for tests, and for reads whose lines are reported elsewhere */
export class ReadStats implements ReadSink {
  corrupt = 0;
  torn = 0;
  oversized = 0;
  disordered = 0;
  /** Where the first skipped lines were, as `file:byte` */
  readonly where: string[] = [];

  skip(kind: LineSkip, path: string, offset: number): void {
    this[kind]++;
    if (this.where.length < 5) this.where.push(`${path}:${offset}`);
  }

  outOfOrder(): void {
    this.disordered++;
  }
}

/** A sink that hears nothing: for probes, whose lines a real read reports */
const QUIET: ReadSink = { skip: () => {}, outOfOrder: () => {} };

const decoder = new TextDecoder();

/**
 * One line of a history, with the `ts` (ms) and `seq` of its header (`seq` NaN when it has none).
 * `value()` parses it on demand (undefined when the line is not a JSON object).
 */
export class Line {
  #text: string | undefined;
  #bytes: Uint8Array | undefined;
  #value: Record<string, unknown> | null | undefined = null;

  constructor(
    text: string | Uint8Array,
    readonly ts: number,
    readonly seq: number,
    readonly cursor: Cursor,
  ) {
    if (typeof text === "string") this.#text = text;
    else this.#bytes = text;
  }

  get text(): string {
    if (this.#text === undefined) {
      this.#text = decoder.decode(this.#bytes);
      this.#bytes = undefined;
    }
    return this.#text;
  }

  value(): Record<string, unknown> | undefined {
    if (this.#value === null) this.#value = parseObject(this.text);
    return this.#value;
  }
}

/** How much is read at once */
const READ_BYTES = 1 << 20;
/** A line up to this long is held while it is read; a longer one is scanned, then re-read */
const GROW_LIMIT = 8 << 20;
/** Lines longer than this are skipped as oversized, by default */
export const DEFAULT_MAX_LINE = 64 << 20;
/** A binary search stops probing when its range is this small, and reads on line by line */
const LINEAR_BYTES = 16 * 1024;
/** A probe reads this much of a line at once: a line header is always whole in it */
const PROBE_BYTES = 8 * 1024;
/** A scan for the end of a long line reads this much at once */
const SCAN_BYTES = 64 * 1024;

const NEWLINE = 0x0a;

function parseObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}

/** Reads `into.length` bytes at `offset` (fewer at the end of the file); how many it read */
async function readAt(file: Deno.FsFile, offset: number, into: Uint8Array): Promise<number> {
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < into.length) {
    const n = await file.read(into.subarray(got));
    if (n === null || n === 0) break;
    got += n;
  }
  return got;
}

/** The `length` bytes at `offset` of a file */
async function readLineAt(path: string, offset: number, length: number): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    const line = new Uint8Array(length);
    const n = await readAt(file, offset, line);
    return n === length ? line : line.subarray(0, n);
  } finally {
    file.close();
  }
}

/** Reads a file backwards through one block: where the newlines before an offset are */
class BackwardReader {
  readonly #buf: Uint8Array;
  #lo = 0;
  #hi = 0;

  constructor(readonly file: Deno.FsFile, block = 256 * 1024) {
    this.#buf = new Uint8Array(block);
  }

  /** The offset of the last newline before `pos`, -1 when there is none */
  async newlineBefore(pos: number): Promise<number> {
    let end = pos;
    while (end > 0) {
      if (!(this.#lo < end && end <= this.#hi)) {
        const start = Math.max(0, end - this.#buf.length);
        const n = await readAt(this.file, start, this.#buf.subarray(0, end - start));
        this.#lo = start;
        this.#hi = start + n;
        if (this.#hi < end) return -1; // the file shrank
      }
      const i = this.#buf.subarray(0, end - this.#lo).lastIndexOf(NEWLINE);
      if (i >= 0) return this.#lo + i;
      end = this.#lo;
    }
    return -1;
  }

  /** A copy of the bytes [from, to) */
  async bytes(from: number, to: number): Promise<Uint8Array> {
    if (from >= this.#lo && to <= this.#hi) {
      return this.#buf.slice(from - this.#lo, to - this.#lo);
    }
    const out = new Uint8Array(to - from);
    const n = await readAt(this.file, from, out);
    return n === out.length ? out : out.subarray(0, n);
  }
}

/** A line found by a probe: where it starts, and its header's time and seq */
interface Probed {
  offset: number;
  ts: number;
  seq: number;
}

/** Complete lines of a read of one segment */
interface Chunk {
  segment: number;
  path: string;
  batch: LineBatch;
}

/**
 * Decides on each line with a readable time, in order, before any other filter: keep it, skip
 * it, or stop reading
 */
export type Gate = (ts: number, seq: number, cursor: Cursor) => "keep" | "skip" | "stop";

/** Set `counting` and the lines still to come are counted, not made and returned */
export interface Tally {
  counting: boolean;
  count: number;
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
    options: HistoryOptions,
  ) {
    this.maxLine = options.maxLine ?? DEFAULT_MAX_LINE;
  }

  /**
   * The files of a history in reading order, as the observer lays them out (its segment_files.ts),
   * with their sizes now; a symlink counts as the file it points to (a dangling one as no file)
   */
  static async open(dir: string, base: string, options: HistoryOptions = {}): Promise<History> {
    const segments: Segment[] = [];
    for (const file of await listSegments(dir, base)) {
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(file.path); // follows a symlink
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue; // gone since it was listed
        throw err;
      }
      segments.push({ path: file.path, size: info.size });
    }
    return new History(dir, base, segments, options);
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
      const file = await Deno.open(seg.path, { read: true });
      try {
        const splits = splitLines(fileChunks(file, { from: base, to: limit, size: READ_BYTES }), {
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
              const line = await readLineAt(seg.path, split.offset, split.length);
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

  /** The offset of the first newline at or after `from` and before `limit`, -1 if none */
  async #newlineFrom(
    file: Deno.FsFile,
    from: number,
    limit: number,
    scratch: Uint8Array,
  ): Promise<number> {
    let pos = from;
    await file.seek(pos, Deno.SeekMode.Start);
    while (pos < limit) {
      const n = await file.read(scratch.subarray(0, Math.min(scratch.length, limit - pos)));
      if (n === null || n === 0) return -1;
      const nl = scratch.subarray(0, n).indexOf(NEWLINE);
      if (nl >= 0) return pos + nl;
      pos += n;
    }
    return -1;
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
    const text = decoder.decode(data.subarray(start, end));
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
    return new Line(text, ms, typeof seq === "number" ? seq : NaN, cursor);
  }

  /**
   * Reads lines from `from` (up to `to`), oldest first. `gate` sees every line with a time first;
   * `types` keeps only the lines whose header names one of those record types, decided before
   * the line is decoded; `prefilter` then the lines whose text passes. Once `tally.counting` is
   * set, the lines that pass are counted instead.
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
    } = {},
  ): AsyncGenerator<Line> {
    const { types, gate, tally } = options;
    const h = newHeader();
    for await (const { segment, path, batch: c } of this.#chunks(from, options.to, sink)) {
      for (let i = 0; i < c.count; i++) {
        const start = c.starts[i] ?? 0;
        const end = c.ends[i] ?? 0;
        if (end === start) continue; // an empty line
        const cursor = { segment, offset: c.offset + start };
        let line: Line | undefined;
        const read = c.text !== undefined
          ? readHeader(c.text, start, end, h)
          : readHeaderBytes(c.bytes, start, end, h);
        if (read) {
          const g = gate === undefined ? "keep" : gate(h.ts, h.seq, cursor);
          if (g === "stop") return;
          if (g === "skip" || (types !== undefined && !types.has(h.type))) continue;
          if (tally?.counting && options.prefilter === undefined) {
            tally.count++;
            continue;
          }
          line = new Line(c.line(i), h.ts, h.seq, cursor);
        } else {
          line = this.#unusual(c.bytes, start, end, cursor, path, sink);
          if (line === undefined) continue;
          const g = gate === undefined ? "keep" : gate(line.ts, line.seq, cursor);
          if (g === "stop") return;
          if (g === "skip") continue;
          if (types !== undefined && !types.has(String(line.value()?.["type"]))) continue;
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
  }

  /** Complete lines before `end`, newest first */
  async *linesBackward(end: Cursor, sink: ReadSink): AsyncGenerator<Line> {
    const h = newHeader();
    const last = Math.min(end.segment, this.segments.length - 1);
    for (let s = last; s >= 0; s--) {
      const seg = this.segments[s];
      if (seg === undefined) continue;
      const hi = s === end.segment ? Math.min(end.offset, seg.size) : seg.size;
      if (hi === 0) continue;
      const file = await Deno.open(seg.path, { read: true });
      try {
        const r = new BackwardReader(file);
        let nl = await r.newlineBefore(hi);
        if (nl + 1 < hi) {
          sink.skip("torn", seg.path, nl + 1, `an incomplete last line of ${hi - nl - 1} bytes`);
        }
        while (nl >= 0) {
          const previous = nl === 0 ? -1 : await r.newlineBefore(nl);
          const start = previous + 1;
          if (nl - start > this.maxLine) {
            sink.skip("oversized", seg.path, start, this.#over(nl - start));
          } else if (nl > start) {
            const bytes = await r.bytes(start, nl);
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
  async before(cursor: Cursor, sink: ReadSink = QUIET): Promise<Line | undefined> {
    for await (const line of this.linesBackward(cursor, sink)) return line;
    return undefined;
  }

  /** The newest complete record, reading backwards from the end */
  last(sink: ReadSink = QUIET): Promise<Line | undefined> {
    return this.before(this.end, sink);
  }

  /**
   * The first line at or after `offset` (and starting before `hi`) of an open segment with a
   * readable header, from a read of its first bytes; undefined when there is none before `hi`
   */
  async #probe(
    file: Deno.FsFile,
    size: number,
    offset: number,
    hi: number,
    scratch: Uint8Array,
  ): Promise<Probed | undefined> {
    const limit = Math.min(hi, size);
    const h = newHeader();
    let pos = 0;
    if (offset > 0) {
      // The line holding offset-1 is partial: its end is the next newline.
      const nl = await this.#newlineFrom(file, offset - 1, limit, scratch);
      if (nl < 0) return undefined;
      pos = nl + 1;
    }
    const buf = scratch.subarray(0, PROBE_BYTES);
    while (pos < limit) {
      const n = await readAt(file, pos, buf.subarray(0, Math.min(buf.length, size - pos)));
      if (n === 0) return undefined;
      const view = buf.subarray(0, n);
      let i = 0;
      for (;;) {
        if (pos + i >= limit) return undefined;
        const nl = view.indexOf(NEWLINE, i);
        if (readHeaderBytes(buf, i, nl >= 0 ? nl : n, h)) {
          return { offset: pos + i, ts: h.ts, seq: h.seq };
        }
        if (nl >= 0) {
          i = nl + 1;
          continue;
        }
        // A line running past this read: read again from its start, unless its first bytes
        // were all in hand (then it has no readable header: step over it).
        if (i > 0 && n - i < HEADER_BYTES && pos + n < size) {
          pos += i;
        } else {
          const next = await this.#newlineFrom(file, pos + n, limit, scratch);
          if (next < 0) return undefined;
          pos = next + 1;
        }
        break;
      }
    }
    return undefined;
  }

  /** Runs `f` with a segment open for probes */
  async #probing<T>(
    segment: number,
    f: (probe: (offset: number, hi: number) => Promise<Probed | undefined>) => Promise<T>,
  ): Promise<T | undefined> {
    const seg = this.segments[segment];
    if (seg === undefined) return undefined;
    const file = await Deno.open(seg.path, { read: true });
    try {
      const scratch = new Uint8Array(SCAN_BYTES);
      return await f((offset, hi) => this.#probe(file, seg.size, offset, hi, scratch));
    } finally {
      file.close();
    }
  }

  /** The start of the line in which `offset` falls */
  async #lineStart(segment: number, offset: number): Promise<number> {
    const seg = this.segments[segment];
    if (seg === undefined || offset === 0) return 0;
    const file = await Deno.open(seg.path, { read: true });
    try {
      return (await new BackwardReader(file, 64 * 1024).newlineBefore(offset)) + 1;
    } finally {
      file.close();
    }
  }

  /** The position of the first line whose key (its time, or its seq) is >= target */
  async #seek(key: "ts" | "seq", target: number): Promise<Cursor> {
    const keyOf = (l: Probed) => key === "ts" ? l.ts : l.seq;
    // The last segment whose first line is at or before the target.
    let segment = 0;
    for (let s = this.segments.length - 1; s > 0; s--) {
      const first = await this.#probing(s, (probe) => probe(0, Infinity));
      if (first !== undefined && keyOf(first) <= target) {
        segment = s;
        break;
      }
    }
    const seg = this.segments[segment];
    if (seg === undefined) return this.end;
    const lo = await this.#probing(segment, async (probe) => {
      // Invariant: every line starting before lo has key < target; none from hi on is needed.
      let lo = 0;
      let hi = seg.size;
      while (hi - lo > LINEAR_BYTES) {
        const mid = lo + Math.floor((hi - lo) / 2);
        const line = await probe(mid, hi);
        if (line === undefined || keyOf(line) >= target) hi = mid;
        else lo = line.offset + 1;
      }
      return lo;
    }) ?? 0;
    // Back to the start of the line holding lo, then step forward over lower lines, reading
    // their headers only.
    let pos = await this.#lineStart(segment, lo);
    for (let s = segment; s < this.segments.length; s++) {
      const found = await this.#probing(s, async (probe) => {
        for (
          let line = await probe(pos, Infinity);
          line;
          line = await probe(line.offset + 1, Infinity)
        ) {
          if (keyOf(line) >= target) return line.offset;
        }
        return undefined;
      });
      if (found !== undefined) return { segment: s, offset: found };
      pos = 0;
    }
    return this.end;
  }

  /** The position of the first line with `ts >= t` (the end when there is none) */
  seek(t: number): Promise<Cursor> {
    return this.#seek("ts", t);
  }

  /** The position of the first line with `seq >= n` (the end when there is none) */
  seekSeq(n: number): Promise<Cursor> {
    return this.#seek("seq", n);
  }
}
