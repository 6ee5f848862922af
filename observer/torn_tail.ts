/**
 * Finding and cutting a torn tail: after a crash the end of a JSONL file may hold part of a line
 * (no final newline) or, after a power loss, bytes that are not a JSON object. Everything from the
 * first bad line at the end is cut, so the next line appended starts clean.
 */

import { isRecord } from "@mat/agents/support";

const TAIL_WINDOW = 1024 * 1024;

function isJsonObjectLine(bytes: Uint8Array): boolean {
  try {
    const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    return isRecord(value);
  } catch {
    return false;
  }
}

/** Cuts a torn tail from a file; returns how many bytes were cut (0 when the file was whole) */
export async function cutTornTail(path: string): Promise<number> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
  try {
    const size = (await file.stat()).size;
    if (size === 0) return 0;
    const start = Math.max(0, size - TAIL_WINDOW);
    const tail = new Uint8Array(size - start);
    await file.seek(start, Deno.SeekMode.Start);
    let read = 0;
    while (read < tail.length) {
      const n = await file.read(tail.subarray(read));
      if (n === null) break;
      read += n;
    }
    // Walk back over complete lines: keep the file up to the end of the last good line.
    let lastNewline = tail.lastIndexOf(0x0a, tail.length - 1);
    let keep = lastNewline + 1; // bytes of `tail` to keep; a partial last line is dropped
    while (lastNewline >= 0) {
      const prev = tail.lastIndexOf(0x0a, lastNewline - 1);
      if (prev < 0 && start > 0) break; // the line starts before the window: trust it
      const line = tail.subarray(prev + 1, lastNewline);
      if (isJsonObjectLine(line)) break;
      keep = prev + 1;
      lastNewline = prev;
    }
    const newSize = start + keep;
    if (newSize === size) return 0;
    await file.truncate(newSize);
    await file.syncData();
    return size - newSize;
  } finally {
    file.close();
  }
}
