/**
 * The one line splitter for every reader of JSONL (the observer's and the oracle's histories, the
 * agents' done and pending stores): bytes in, complete lines out, each with its byte offset.
 *
 * `splitLines` takes chunks of bytes (a file read by `fileChunks` or `fileChunksSync`, a
 * `ReadableStream`...) and yields the lines of each chunk as one `LineBatch`: views of the chunk,
 * with the chunk decoded once when it is ASCII (as records nearly always are), so that a reader
 * can look at a line's header before it makes a string of it, or never make one. A line split
 * across chunks is joined, UTF-8 characters split across chunks included. A line longer than
 * `maxLine` is not held: it is reported as `long`, with its offset and length, so that a reader
 * with the file at hand can read it once more or pass it over. The bytes after the last newline
 * are a last line, or `torn` for a reader of files still being written. `textLines` is the same
 * as strings.
 *
 * A `\r` before a newline stays in the line (`JSON.parse` reads it as white space).
 */

const NEWLINE = 0x0a;
const NEWLINE_CHAR = "\n";

const decoder = new TextDecoder();

/**
 * The complete lines of one chunk, in order: line `i` is `bytes[starts[i], ends[i])`, without its
 * newline, and starts at byte `offset + starts[i]` of the source. Empty lines are lines.
 *
 * A batch is a view: valid until the next one is asked for (its bytes are the source's chunk).
 */
export class LineBatch {
  readonly kind = "lines";

  constructor(
    readonly bytes: Uint8Array,
    /** `bytes` decoded, when that keeps their offsets (every byte ASCII); undefined otherwise */
    readonly text: string | undefined,
    /** Offset in the source of bytes[0] */
    readonly offset: number,
    readonly starts: readonly number[],
    readonly ends: readonly number[],
    readonly count: number,
  ) {}

  /** Line `i` as a string */
  line(i: number): string {
    const start = this.starts[i] ?? 0;
    const end = this.ends[i] ?? 0;
    return this.text !== undefined
      ? this.text.slice(start, end)
      : decoder.decode(this.bytes.subarray(start, end));
  }
}

/**
 * A line passed over, never held: `long` is a complete line longer than `maxLine`; `torn` the
 * bytes after the last newline at the end of the source, when they are not taken as a last line
 */
export interface PassedLine {
  kind: "long" | "torn";
  /** Offset in the source of its first byte */
  offset: number;
  /** Its length in bytes, without a newline */
  length: number;
}

export type LineSplit = LineBatch | PassedLine;

export interface SplitOptions {
  /** Offset in its file of the source's first byte, for the offsets reported (default 0) */
  offset?: number;
  /** Lines longer than this many bytes are reported as `long`, not held (default: no limit) */
  maxLine?: number;
  /**
   * Bytes after the last newline at the end: a last line (`line`, the default), or `torn` (a
   * line still being written, or cut short by a crash)
   */
  unterminated?: "line" | "torn";
}

/** The pieces of a line, joined */
function join(pieces: Uint8Array[], length: number): Uint8Array {
  const first = pieces[0];
  if (pieces.length === 1 && first !== undefined && first.length === length) return first;
  const out = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/**
 * `bytes` decoded when every byte is ASCII (then the string's offsets are the bytes'), else
 * undefined. A lone invalid byte decodes to one U+FFFD, as long as itself: a text holding U+FFFD
 * is not ASCII (looking for it in an ASCII text costs nothing: a one-byte string cannot hold it;
 * a strict decoder would cost six times the decoding).
 */
function asciiText(bytes: Uint8Array): string | undefined {
  const text = decoder.decode(bytes);
  return text.length === bytes.length && !text.includes("\uFFFD") ? text : undefined;
}

/**
 * The lines of a source of chunks, in order, as batches, and the lines passed over where they
 * come. A chunk is not used once the next is asked for, so a source may read into one buffer.
 */
export async function* splitLines(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: SplitOptions = {},
): AsyncGenerator<LineSplit> {
  const maxLine = options.maxLine ?? Infinity;
  const starts: number[] = [];
  const ends: number[] = [];
  /** Offset of the next chunk's first byte */
  let next = options.offset ?? 0;
  // The line still open at the end of the chunks so far: where it starts, how long it is so far,
  // and its bytes (copies) while it is no longer than maxLine
  let open = false;
  let openAt = 0;
  let openLength = 0;
  let pieces: Uint8Array[] | undefined;

  const carry = (bytes: Uint8Array) => {
    openLength += bytes.length;
    if (pieces !== undefined && openLength <= maxLine) pieces.push(bytes.slice());
    else pieces = undefined;
  };
  const single = (line: Uint8Array, offset: number) => {
    starts[0] = 0;
    ends[0] = line.length;
    return new LineBatch(line, asciiText(line), offset, starts, ends, 1);
  };

  for await (const chunk of chunks) {
    const base = next;
    next += chunk.length;
    let from = 0;
    if (open) {
      const nl = chunk.indexOf(NEWLINE);
      if (nl < 0) {
        carry(chunk);
        continue;
      }
      carry(chunk.subarray(0, nl));
      yield pieces === undefined
        ? { kind: "long", offset: openAt, length: openLength }
        : single(join(pieces, openLength), openAt);
      open = false;
      from = nl + 1;
    }
    const last = chunk.lastIndexOf(NEWLINE);
    if (last >= from) {
      // The complete lines, decoded at once; an ASCII chunk is split by the (faster) string search.
      const view = chunk.subarray(from, last + 1);
      const text = asciiText(view);
      const offset = base + from;
      let k = 0;
      let start = 0;
      let nl = text !== undefined ? text.indexOf(NEWLINE_CHAR) : view.indexOf(NEWLINE);
      while (nl >= 0) {
        if (nl - start > maxLine) {
          if (k > 0) yield new LineBatch(view, text, offset, starts, ends, k);
          k = 0;
          yield { kind: "long", offset: offset + start, length: nl - start };
        } else {
          starts[k] = start;
          ends[k] = nl;
          k++;
        }
        start = nl + 1;
        nl = text !== undefined ? text.indexOf(NEWLINE_CHAR, start) : view.indexOf(NEWLINE, start);
      }
      if (k > 0) yield new LineBatch(view, text, offset, starts, ends, k);
      from = last + 1;
    }
    if (from < chunk.length) {
      open = true;
      openAt = base + from;
      openLength = 0;
      pieces = [];
      carry(chunk.subarray(from));
    }
  }
  if (!open) return;
  if (pieces !== undefined && (options.unterminated ?? "line") === "line") {
    yield single(join(pieces, openLength), openAt);
  } else {
    yield { kind: "torn", offset: openAt, length: openLength };
  }
}

export interface TextLineOptions extends SplitOptions {
  /** Hears of each line passed over (`long`, or `torn` when so asked) */
  onPassed?: (passed: PassedLine) => void;
}

/** The lines of a source of chunks as strings, empty ones included */
export async function* textLines(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: TextLineOptions = {},
): AsyncGenerator<string> {
  for await (const split of splitLines(chunks, options)) {
    if (split.kind !== "lines") {
      options.onPassed?.(split);
      continue;
    }
    for (let i = 0; i < split.count; i++) yield split.line(i);
  }
}

/** How much `fileChunks` reads at once, by default */
const CHUNK_BYTES = 256 * 1024;
/** A memory page */
const PAGE = 4096;

export interface FileChunkOptions {
  /** The first byte to read (default 0) */
  from?: number;
  /** Reads stop before this byte (default: the end of the file) */
  to?: number;
  /** How much to read at once (default 256 KiB) */
  size?: number;
}

/**
 * The bytes of an open file from `from` up to `to`, a read at a time into one buffer: each chunk
 * is valid until the next is asked for, as `splitLines` needs. The reads follow one another from
 * one seek: the file's position is theirs until the last. The caller closes the file.
 *
 * Each read lands half a page away from where the file's page boundaries fall in the buffer (whose
 * start is page-aligned or nearly). The kernel copies a read from the page cache, and a copy between
 * addresses equal modulo 4096 runs at a third of its speed on x86 ("4K aliasing"): reads of whole
 * pages at page-aligned offsets into the start of a buffer took 0.7 s of system time per GB here,
 * against 0.2 s half a page off.
 */
export async function* fileChunks(
  file: Deno.FsFile,
  options: FileChunkOptions = {},
): AsyncGenerator<Uint8Array> {
  const size = options.size ?? CHUNK_BYTES;
  const buffer = new Uint8Array(size + PAGE);
  const to = options.to ?? Infinity;
  let pos = options.from ?? 0;
  if (pos > 0) await file.seek(pos, Deno.SeekMode.Start);
  while (pos < to) {
    const into = readWindow(buffer, pos, Math.min(size, to - pos));
    const n = await file.read(into);
    if (n === null || n === 0) return;
    pos += n;
    yield into.subarray(0, n);
  }
}

/**
 * `fileChunks` read with `readSync`: for a reader with nothing else to do meanwhile (a CLI),
 * which then waits on no thread pool and no event loop between reads. From the page cache, a
 * 1 MiB read costs about its copy either way, while each async read is a round trip through
 * Deno's blocking pool that a loaded machine makes slow.
 */
export function* fileChunksSync(
  file: Deno.FsFile,
  options: FileChunkOptions = {},
): Generator<Uint8Array> {
  const size = options.size ?? CHUNK_BYTES;
  const buffer = new Uint8Array(size + PAGE);
  const to = options.to ?? Infinity;
  let pos = options.from ?? 0;
  if (pos > 0) file.seekSync(pos, Deno.SeekMode.Start);
  while (pos < to) {
    const into = readWindow(buffer, pos, Math.min(size, to - pos));
    const n = file.readSync(into);
    if (n === null || n === 0) return;
    pos += n;
    yield into.subarray(0, n);
  }
}

/** Where in `buffer` the read of `length` bytes at file offset `pos` lands (see fileChunks) */
function readWindow(buffer: Uint8Array, pos: number, length: number): Uint8Array {
  const skew = (pos + PAGE / 2) % PAGE;
  return buffer.subarray(skew, skew + length);
}

/** The lines of a file as strings, none when it does not exist; the file is closed after */
export async function* fileLines(
  path: string,
  options: TextLineOptions = {},
): AsyncGenerator<string> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  try {
    yield* textLines(fileChunks(file), options);
  } finally {
    file.close();
  }
}
