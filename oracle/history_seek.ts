/**
 * Finds a moment in a history without reading it: records are in observation order, so the first
 * line at or after a time (or a seq) is found by binary search on byte offsets, probing one line
 * header at a time, then stepping forward over the few lines before it.
 */

import type { Cursor, Segment } from "./history_reader.ts";
import { BackwardReader, newlineFrom, readAt } from "./file_reads.ts";
import { HEADER_BYTES, newHeader, readHeaderBytes } from "./line_header.ts";

const NEWLINE = 0x0a;

/** A binary search stops probing when its range is this small, and reads on line by line */
const LINEAR_BYTES = 16 * 1024;
/** A probe reads this much of a line at once: a line header is always whole in it */
const PROBE_BYTES = 8 * 1024;
/** A scan for the end of a long line reads this much at once */
const SCAN_BYTES = 64 * 1024;

/** A line found by a probe: where it starts, and its header's time and seq */
interface Probed {
  offset: number;
  ts: number;
  seq: number;
}

/**
 * The first line at or after `offset` (and starting before `hi`) of an open segment with a
 * readable header, from a read of its first bytes; undefined when there is none before `hi`
 */
function probeLine(
  file: Deno.FsFile,
  size: number,
  offset: number,
  hi: number,
  scratch: Uint8Array,
): Probed | undefined {
  const limit = Math.min(hi, size);
  const h = newHeader();
  let pos = 0;
  if (offset > 0) {
    // The line holding offset-1 is partial: its end is the next newline.
    const nl = newlineFrom(file, offset - 1, limit, scratch);
    if (nl < 0) return undefined;
    pos = nl + 1;
  }
  const buf = scratch.subarray(0, PROBE_BYTES);
  while (pos < limit) {
    const n = readAt(file, pos, buf.subarray(0, Math.min(buf.length, size - pos)));
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
        const next = newlineFrom(file, pos + n, limit, scratch);
        if (next < 0) return undefined;
        pos = next + 1;
      }
      break;
    }
  }
  return undefined;
}

/** Runs `f` with a segment open for probes */
function probing<T>(
  segments: readonly Segment[],
  segment: number,
  f: (probe: (offset: number, hi: number) => Probed | undefined) => T,
): T | undefined {
  const seg = segments[segment];
  if (seg === undefined) return undefined;
  using file = Deno.openSync(seg.path, { read: true });
  const scratch = new Uint8Array(SCAN_BYTES);
  return f((offset, hi) => probeLine(file, seg.size, offset, hi, scratch));
}

/** The start of the line in which `offset` falls */
function lineStart(segments: readonly Segment[], segment: number, offset: number): number {
  const seg = segments[segment];
  if (seg === undefined || offset === 0) return 0;
  using file = Deno.openSync(seg.path, { read: true });
  return new BackwardReader(file, 64 * 1024).newlineBefore(offset) + 1;
}

/**
 * The position of the first line whose key (its time, or its seq) is >= target; the end of the
 * history when there is none
 */
export function seekLine(
  segments: readonly Segment[],
  key: "ts" | "seq",
  target: number,
): Cursor {
  const end = { segment: segments.length, offset: 0 };
  const keyOf = (l: Probed) => key === "ts" ? l.ts : l.seq;
  // The last segment whose first line is at or before the target.
  let segment = 0;
  for (let s = segments.length - 1; s > 0; s--) {
    const first = probing(segments, s, (probe) => probe(0, Infinity));
    if (first !== undefined && keyOf(first) <= target) {
      segment = s;
      break;
    }
  }
  const seg = segments[segment];
  if (seg === undefined) return end;
  const lo = probing(segments, segment, (probe) => {
    // Invariant: every line starting before lo has key < target; none from hi on is needed.
    let lo = 0;
    let hi = seg.size;
    while (hi - lo > LINEAR_BYTES) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const line = probe(mid, hi);
      if (line === undefined || keyOf(line) >= target) hi = mid;
      else lo = line.offset + 1;
    }
    return lo;
  }) ?? 0;
  // Back to the start of the line holding lo, then step forward over lower lines, reading
  // their headers only.
  let pos = lineStart(segments, segment, lo);
  for (let s = segment; s < segments.length; s++) {
    const found = probing(segments, s, (probe) => {
      for (
        let line = probe(pos, Infinity);
        line;
        line = probe(line.offset + 1, Infinity)
      ) {
        if (keyOf(line) >= target) return line.offset;
      }
      return undefined;
    });
    if (found !== undefined) return { segment: s, offset: found };
    pos = 0;
  }
  return end;
}
