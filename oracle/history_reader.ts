/**
 * Reads one time-machine history (closed segments in order, then the active file) as a stream of
 * lines, and finds a moment in it by binary search on byte offsets: records are in observation
 * order, so a window is found by seeking, never by reading the whole history.
 */

import { join } from "node:path";

export interface Segment {
  path: string;
  size: number;
}

/** A place in a history: a segment and a byte offset at the start of a line */
export interface Cursor {
  segment: number;
  offset: number;
}

/** What reading skipped, for the stderr summary */
export class ReadStats {
  lines = 0;
  /** Lines that are not JSON objects with a `ts` */
  corrupt = 0;
  /** A final line with no newline: a write in progress or cut by a crash */
  torn = 0;
  /** Where the first skipped lines were, as `file:byte` */
  readonly where: string[] = [];

  skip(kind: "corrupt" | "torn", path: string, offset: number): void {
    this[kind]++;
    if (this.where.length < 5) this.where.push(`${path}:${offset}`);
  }
}

/**
 * One line of a history. Its `ts` is read from the record header without parsing the whole line;
 * `value()` parses it on demand (undefined when the line is not a JSON object).
 */
export class Line {
  #value: Record<string, unknown> | null | undefined = null;

  constructor(readonly text: string, readonly ts: number, readonly cursor: Cursor) {}

  value(): Record<string, unknown> | undefined {
    if (this.#value === null) this.#value = parseObject(this.text);
    return this.#value;
  }
}

const CHUNK = 1 << 20;
const decoder = new TextDecoder();

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

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

/** The header's `ts` sits in the first bytes of every record the observer writes */
const HEADER_TS = /"ts":"([^"]{10,40})"/;

/** A line's `ts` in milliseconds: from its header, else from the parsed line; NaN if none */
export function timeOfLine(text: string): number {
  const m = HEADER_TS.exec(text.length > 200 ? text.slice(0, 200) : text);
  if (m?.[1] !== undefined) {
    const ts = Date.parse(m[1]);
    if (!Number.isNaN(ts)) return ts;
  }
  const ts = parseObject(text)?.["ts"];
  return typeof ts === "string" ? Date.parse(ts) : NaN;
}

const TYPE_KEY = new TextEncoder().encode(`"type":"`);
const COMMA = 0x2c;
const QUOTE = 0x22;

/**
 * Where the record type named in a line's header sits, as [start, end) byte offsets in `data`.
 * The header is `{"schema_version":1,"seq":N,"ts":"...","type":"X"`: the type follows the third
 * comma. Undefined when the line does not start with that header.
 */
function typeSpan(data: Uint8Array, from: number, to: number): [number, number] | undefined {
  const limit = Math.min(to, from + 160);
  let comma = from - 1;
  for (let i = 0; i < 3; i++) {
    comma = data.indexOf(COMMA, comma + 1);
    if (comma < 0 || comma >= limit) return undefined;
  }
  const start = comma + 1 + TYPE_KEY.length;
  if (start >= limit) return undefined;
  for (let j = 0; j < TYPE_KEY.length; j++) {
    if (data[comma + 1 + j] !== TYPE_KEY[j]) return undefined;
  }
  const end = data.indexOf(QUOTE, start);
  return end < 0 || end > limit ? undefined : [start, end];
}

/** The record type named in a line's header, read from its first bytes; undefined if none */
export function headerType(line: Uint8Array): string | undefined {
  const span = typeSpan(line, 0, line.length);
  return span === undefined ? undefined : decoder.decode(line.subarray(span[0], span[1]));
}

/**
 * Tells whether a line's header names one of a set of record types, comparing bytes: no string is
 * made for the lines it turns away
 */
export class TypeMatcher {
  readonly #byLength = new Map<number, Uint8Array[]>();

  constructor(types: Iterable<string>) {
    for (const t of types) {
      const bytes = new TextEncoder().encode(t);
      this.#byLength.set(bytes.length, [...(this.#byLength.get(bytes.length) ?? []), bytes]);
    }
  }

  /** true or false, or undefined when the line has no readable header */
  matches(data: Uint8Array, from: number, to: number): boolean | undefined {
    const span = typeSpan(data, from, to);
    if (span === undefined) return undefined;
    const [start, end] = span;
    const candidates = this.#byLength.get(end - start);
    if (candidates === undefined) return false;
    outer: for (const c of candidates) {
      for (let i = 0; i < c.length; i++) {
        if (data[start + i] !== c[i]) continue outer;
      }
      return true;
    }
    return false;
  }
}

/** The offset just past the first newline at or after `from` (`size` when there is none) */
async function nextLineStart(
  file: Deno.FsFile,
  buf: Uint8Array,
  from: number,
  size: number,
): Promise<number> {
  let pos = from;
  await file.seek(pos, Deno.SeekMode.Start);
  while (pos < size) {
    const n = await file.read(buf);
    if (n === null || n === 0) break;
    const nl = buf.subarray(0, n).indexOf(10);
    if (nl >= 0) return pos + nl + 1;
    pos += n;
  }
  return size;
}

export class History {
  private constructor(readonly dir: string, readonly base: string, readonly segments: Segment[]) {}

  /**
   * Closed segments `<base>.NNNNNN.jsonl` in number order, then `<base>.jsonl`; a symlink counts
   * as the file it points to (a dangling one as no file)
   */
  static async open(dir: string, base: string): Promise<History> {
    const pattern = new RegExp(`^${escapeRegExp(base)}\\.(\\d{6,})\\.jsonl$`);
    const closed: { n: number; path: string }[] = [];
    let active: string | undefined;
    const sizes = new Map<string, number>();
    for await (const entry of Deno.readDir(dir)) {
      const m = pattern.exec(entry.name);
      if (entry.name !== `${base}.jsonl` && m?.[1] === undefined) continue;
      const path = join(dir, entry.name);
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(path); // follows a symlink
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue; // a dangling symlink
        throw err;
      }
      if (!info.isFile) continue;
      sizes.set(path, info.size);
      if (m?.[1] !== undefined) closed.push({ n: Number(m[1]), path });
      else active = path;
    }
    closed.sort((a, b) => a.n - b.n);
    const paths = [...closed.map((c) => c.path), ...(active ? [active] : [])];
    const segments = paths.map((path) => ({ path, size: sizes.get(path) ?? 0 }));
    return new History(dir, base, segments);
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

  /**
   * Reads lines from `from` onwards, oldest first. `types` keeps only the lines whose header names
   * one of those record types, decided on the raw bytes before any line is decoded.
   */
  async *lines(
    from: Cursor,
    stats: ReadStats,
    options: { prefilter?: (text: string) => boolean; types?: ReadonlySet<string> } = {},
  ): AsyncGenerator<Line> {
    const matcher = options.types === undefined ? undefined : new TypeMatcher(options.types);
    for (let s = from.segment; s < this.segments.length; s++) {
      const seg = this.segments[s];
      if (seg === undefined) continue;
      const file = await Deno.open(seg.path, { read: true });
      try {
        let offset = s === from.segment ? from.offset : 0;
        await file.seek(offset, Deno.SeekMode.Start);
        // One buffer per segment: the incomplete line at the end of a read moves to its front
        // (no copy of the whole read), and it doubles for a line longer than itself.
        let buf = new Uint8Array(CHUNK * 2);
        let have = 0;
        let carryStart = offset;
        for (;;) {
          if (have === buf.length) {
            const bigger = new Uint8Array(buf.length * 2);
            bigger.set(buf);
            buf = bigger;
          }
          const n = offset < seg.size ? await file.read(buf.subarray(have)) : null;
          if (n === null || n === 0) {
            if (have > 0) stats.skip("torn", seg.path, carryStart);
            break;
          }
          offset += n;
          const end = have + n;
          const last = buf.lastIndexOf(10, end - 1);
          if (last < 0) {
            have = end;
            continue;
          }
          const data = buf;
          let pos = 0;
          while (pos < last) {
            const nl = data.indexOf(10, pos);
            const here = carryStart + pos;
            const from = pos;
            pos = nl + 1;
            if (nl === from) continue;
            stats.lines++;
            // A line whose header cannot be read is decoded below and counted as corrupt.
            if (matcher !== undefined && matcher.matches(data, from, nl) === false) continue;
            const lineText = decoder.decode(data.subarray(from, nl));
            if (options.prefilter && !options.prefilter(lineText)) continue;
            const ts = timeOfLine(lineText);
            if (Number.isNaN(ts)) {
              stats.skip("corrupt", seg.path, here);
              continue;
            }
            yield new Line(lineText, ts, { segment: s, offset: here });
          }
          buf.copyWithin(0, last + 1, end);
          have = end - (last + 1);
          carryStart = offset - have;
        }
      } finally {
        file.close();
      }
    }
  }

  /** The first readable line starting at or after `offset` in a segment, with its time */
  async #lineAfter(
    segment: number,
    offset: number,
  ): Promise<{ offset: number; ts: number } | undefined> {
    const seg = this.segments[segment];
    if (seg === undefined) return undefined;
    const file = await Deno.open(seg.path, { read: true });
    try {
      const buf = new Uint8Array(64 * 1024);
      // Unless at the start, the line holding offset-1 is partial: its end is the next newline.
      let lineStart = offset === 0 ? 0 : await nextLineStart(file, buf, offset - 1, seg.size);
      while (lineStart < seg.size) {
        await file.seek(lineStart, Deno.SeekMode.Start);
        const n = await file.read(buf);
        if (n === null || n === 0) return undefined;
        const chunk = buf.subarray(0, n);
        const nl = chunk.indexOf(10);
        if (nl >= 0 || lineStart + n >= seg.size) {
          // The whole line is in hand (or runs to the end of the file: a torn tail).
          if (nl < 0) return undefined;
          const ts = timeOfLine(decoder.decode(chunk.subarray(0, nl)));
          if (!Number.isNaN(ts)) return { offset: lineStart, ts };
          lineStart += nl + 1;
          continue;
        }
        // A long line: its header is in hand; read on to its end only if the header fails.
        const head = timeOfLine(decoder.decode(chunk.subarray(0, Math.min(n, 200))));
        if (!Number.isNaN(head)) return { offset: lineStart, ts: head };
        lineStart = await nextLineStart(file, buf, lineStart, seg.size);
      }
      return undefined;
    } finally {
      file.close();
    }
  }

  /** The position of the first record with `ts >= t` (the end when there is none) */
  async seek(t: number): Promise<Cursor> {
    // The last segment whose first record is at or before t.
    let segment = 0;
    for (let s = this.segments.length - 1; s > 0; s--) {
      const first = await this.#lineAfter(s, 0);
      if (first !== undefined && first.ts <= t) {
        segment = s;
        break;
      }
    }
    const seg = this.segments[segment];
    if (seg === undefined) return { segment: 0, offset: 0 };
    // Invariant: every line starting before lo has ts < t.
    let lo = 0;
    let hi = seg.size;
    while (hi - lo > 16 * 1024) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const line = await this.#lineAfter(segment, mid);
      if (line === undefined || line.ts >= t) hi = mid;
      else lo = line.offset + 1;
    }
    // Back to the start of the line holding lo, then step forward over older lines.
    const start = lo === 0 ? 0 : (await this.#lineStartBefore(segment, lo));
    const stats = new ReadStats();
    for await (const line of this.lines({ segment, offset: start }, stats)) {
      if (line.ts >= t) return line.cursor;
    }
    return { segment: this.segments.length, offset: 0 };
  }

  async #lineStartBefore(segment: number, offset: number): Promise<number> {
    const seg = this.segments[segment];
    if (seg === undefined || offset === 0) return 0;
    const file = await Deno.open(seg.path, { read: true });
    try {
      let end = offset;
      while (end > 0) {
        const start = Math.max(0, end - 64 * 1024);
        const buf = new Uint8Array(end - start);
        await file.seek(start, Deno.SeekMode.Start);
        let got = 0;
        while (got < buf.length) {
          const n = await file.read(buf.subarray(got));
          if (n === null || n === 0) break;
          got += n;
        }
        const nl = buf.subarray(0, got).lastIndexOf(10, offset - 1 - start);
        if (nl >= 0) return start + nl + 1;
        end = start;
      }
      return 0;
    } finally {
      file.close();
    }
  }

  /** The complete record just before a cursor (undefined at the start) */
  async before(cursor: Cursor): Promise<Line | undefined> {
    let s = Math.min(cursor.segment, this.segments.length);
    let end = s < this.segments.length ? cursor.offset : 0;
    while (s >= 0) {
      if (end > 0) {
        const start = await this.#lineStartBefore(s, end - 1);
        for await (const line of this.lines({ segment: s, offset: start }, new ReadStats())) {
          if (line.cursor.segment === s && line.cursor.offset < end) return line;
          break;
        }
        // An unreadable line: look further back.
        end = start;
        continue;
      }
      s--;
      end = this.segments[s]?.size ?? 0;
    }
    return undefined;
  }

  /** The newest complete record, reading backwards from the end */
  async last(): Promise<Line | undefined> {
    for (let s = this.segments.length - 1; s >= 0; s--) {
      const seg = this.segments[s];
      if (seg === undefined || seg.size === 0) continue;
      let from = Math.max(0, seg.size - 256 * 1024);
      for (;;) {
        const start = from === 0 ? 0 : await this.#lineStartBefore(s, from);
        let newest: Line | undefined;
        for await (const line of this.lines({ segment: s, offset: start }, new ReadStats())) {
          if (line.cursor.segment !== s) break;
          newest = line;
        }
        if (newest !== undefined || from === 0) {
          if (newest !== undefined) return newest;
          break;
        }
        from = Math.max(0, from - 4 * 1024 * 1024);
      }
    }
    return undefined;
  }
}
