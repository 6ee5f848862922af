/**
 * The files of one history as a reader finds them: its segments in reading order with their sizes
 * (segment_files.ts, symlinks followed), the entries named like a segment that are not regular
 * files (never opened: a FIFO would block the read), and what is wrong with them as notes.
 */

import { scanSegments, type StrayEntry } from "@mat/observer/segments";
import type { Segment } from "./history_line.ts";
import type { ReaderNote } from "./reader_notes.ts";

export interface HistoryFiles {
  segments: Segment[];
  strays: StrayEntry[];
  /** Closed segments but no active file */
  activeMissing: boolean;
}

/** The files of the history `base` in `dir`, with their sizes now */
export async function openFiles(dir: string, base: string): Promise<HistoryFiles> {
  const segments: Segment[] = [];
  const scan = await scanSegments(dir, base);
  for (const file of scan.segments) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(file.path); // follows a symlink
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue; // gone since it was listed
      throw err;
    }
    segments.push({ path: file.path, size: info.size, active: file.active });
  }
  const activeMissing = segments.length > 0 && !scan.segments.some((f) => f.active);
  return { segments, strays: scan.strays, activeMissing };
}

/**
 * What is wrong with the files of a history: entries named like a segment that are not regular
 * files, closed segments that are empty (the observer closes a segment once it is full), closed
 * segments without an active file after them
 */
export function fileProblems(
  base: string,
  segments: readonly Segment[],
  strays: readonly StrayEntry[],
  activeMissing: boolean,
): ReaderNote[] {
  const out: ReaderNote[] = [];
  for (const s of strays) {
    const what = s.active ? "the active file" : "a segment";
    out.push({
      kind: "not_a_file",
      file: s.path,
      offset: null,
      text: `${what} of the history is a ${s.kind}, not a regular file: its records were not read`,
    });
  }
  for (const seg of segments) {
    if (seg.size === 0 && seg.active === false) {
      out.push({
        kind: "empty_segment",
        file: seg.path,
        offset: null,
        text: "a closed segment is empty: the records it held are missing",
      });
    }
  }
  if (activeMissing && !strays.some((s) => s.active)) {
    out.push({
      kind: "no_active_file",
      file: null,
      offset: null,
      text: `the history "${base}" has closed segments but no active file ${base}.jsonl: ` +
        "its newest records may be missing",
    });
  }
  return out;
}
