/**
 * Reads of an open file at a byte offset, for a reader that seeks: a span of bytes, the next
 * newline from an offset, and the newlines before one (BackwardReader, through one block).
 *
 * They read with `readSync`: the oracle is a CLI with nothing else to do while it reads, and
 * its histories are read from the page cache, where an async read costs a round trip through
 * Deno's blocking pool and the event loop (a seek makes a few hundred small reads) for the same
 * copy.
 */

const NEWLINE = 0x0a;

/** Reads `into.length` bytes at `offset` (fewer at the end of the file); how many it read */
export function readAt(file: Deno.FsFile, offset: number, into: Uint8Array): number {
  file.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < into.length) {
    const n = file.readSync(into.subarray(got));
    if (n === null || n === 0) break;
    got += n;
  }
  return got;
}

/** The `length` bytes at `offset` of a file */
export function readLineAt(path: string, offset: number, length: number): Uint8Array {
  using file = Deno.openSync(path, { read: true });
  const line = new Uint8Array(length);
  const n = readAt(file, offset, line);
  return n === length ? line : line.subarray(0, n);
}

/** Reads a file backwards through one block: where the newlines before an offset are */
export class BackwardReader {
  readonly #buf: Uint8Array;
  #lo = 0;
  #hi = 0;

  constructor(readonly file: Deno.FsFile, block = 256 * 1024) {
    this.#buf = new Uint8Array(block);
  }

  /** The offset of the last newline before `pos`, -1 when there is none */
  newlineBefore(pos: number): number {
    let end = pos;
    while (end > 0) {
      if (!(this.#lo < end && end <= this.#hi)) {
        const start = Math.max(0, end - this.#buf.length);
        const n = readAt(this.file, start, this.#buf.subarray(0, end - start));
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
  bytes(from: number, to: number): Uint8Array {
    if (from >= this.#lo && to <= this.#hi) {
      return this.#buf.slice(from - this.#lo, to - this.#lo);
    }
    const out = new Uint8Array(to - from);
    const n = readAt(this.file, from, out);
    return n === out.length ? out : out.subarray(0, n);
  }
}

/** The offset of the first newline at or after `from` and before `limit`, -1 if none */
export function newlineFrom(
  file: Deno.FsFile,
  from: number,
  limit: number,
  scratch: Uint8Array,
): number {
  let pos = from;
  file.seekSync(pos, Deno.SeekMode.Start);
  while (pos < limit) {
    const n = file.readSync(scratch.subarray(0, Math.min(scratch.length, limit - pos)));
    if (n === null || n === 0) return -1;
    const nl = scratch.subarray(0, n).indexOf(NEWLINE);
    if (nl >= 0) return pos + nl;
    pos += n;
  }
  return -1;
}
