/**
 * Reading a history as one stream across its segments, in bounded memory: lines are streamed,
 * never loaded whole, and a reader starting from a sequence number skips whole segments.
 */

import { fileLines } from "@mat/agents/lines";
import { isRecord } from "@mat/agents/support";
import { listSegments, type SegmentFile } from "./segment_files.ts";

/** Streams the complete lines of a file but empty ones (a partial last line is not a line yet) */
export async function* readLines(path: string): AsyncGenerator<string> {
  for await (const line of fileLines(path, { unterminated: "torn" })) {
    if (line !== "") yield line;
  }
}

/** The first line of a file, or undefined when it has no complete line */
export async function firstLine(path: string): Promise<string | undefined> {
  for await (const line of readLines(path)) return line;
  return undefined;
}

/** The last complete line of a file, read from its end */
export async function lastLine(path: string): Promise<string | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  try {
    const size = (await file.stat()).size;
    let window = 64 * 1024;
    while (true) {
      const start = Math.max(0, size - window);
      const bytes = new Uint8Array(size - start);
      await file.seek(start, Deno.SeekMode.Start);
      let read = 0;
      while (read < bytes.length) {
        const n = await file.read(bytes.subarray(read));
        if (n === null) break;
        read += n;
      }
      const end = bytes.lastIndexOf(0x0a);
      if (end < 0) {
        if (start === 0) return undefined;
        window *= 4;
        continue;
      }
      const begin = bytes.lastIndexOf(0x0a, end - 1);
      if (begin >= 0 || start === 0) {
        return new TextDecoder().decode(bytes.subarray(begin + 1, end));
      }
      window *= 4;
    }
  } finally {
    file.close();
  }
}

/** The `seq` of a JSONL line, or undefined when it has none */
export function seqOfLine(line: string | undefined): number | undefined {
  if (line === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    if (isRecord(value) && typeof value["seq"] === "number") return value["seq"];
  } catch {
    // not JSON: no seq
  }
  return undefined;
}

/** The segments that may hold lines with `seq` > `afterSeq` (whole older segments are skipped) */
export async function segmentsAfter(
  dir: string,
  base: string,
  afterSeq: number,
): Promise<SegmentFile[]> {
  const segments = await listSegments(dir, base);
  let startIndex = 0;
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i];
    if (segment === undefined) continue;
    const seq = seqOfLine(await firstLine(segment.path));
    if (seq !== undefined && seq <= afterSeq + 1) {
      startIndex = i;
      break;
    }
  }
  return segments.slice(startIndex);
}

/** Streams parsed lines (as `unknown`) of a whole history with `seq` > `afterSeq` */
export async function* readHistory(
  dir: string,
  base: string,
  afterSeq = 0,
): AsyncGenerator<unknown> {
  for (const segment of await segmentsAfter(dir, base, afterSeq)) {
    for await (const line of readLines(segment.path)) {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        continue; // only a torn tail can be unparsable, and the writer cuts it on start
      }
      if (isRecord(value) && typeof value["seq"] === "number" && value["seq"] <= afterSeq) {
        continue;
      }
      yield value;
    }
  }
}
