/**
 * How one history is laid out on disk: the active file `<base>.jsonl`, and closed segments
 * `<base>.000001.jsonl`, `<base>.000002.jsonl`... in order. A reader sees one history by reading
 * the closed segments in number order, then the active file.
 *
 * The one owner of that layout: the writer, the readers (the observer's and the oracle's, through
 * `@mat/observer/segments`), the tests and the benchmarks name and list segments with these
 * functions. The oracle imports this file, so it must import nothing that talks to a network.
 */

import { joinPath as join } from "./path_join.ts";

export interface SegmentFile {
  path: string;
  /** Closed segments count from 1; the active file has the next number */
  number: number;
  active: boolean;
}

export function activePath(dir: string, base: string): string {
  return join(dir, `${base}.jsonl`);
}

export function closedPath(dir: string, base: string, number: number): string {
  return join(dir, `${base}.${String(number).padStart(6, "0")}.jsonl`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** What a directory entry named like a segment is, a symlink followed */
export type EntryKind = "file" | "directory" | "fifo" | "socket" | "device" | "dangling symlink";

/** The kind of a directory entry, following a symlink */
async function kindOf(dir: string, entry: Deno.DirEntry): Promise<EntryKind> {
  if (entry.isFile) return "file";
  if (entry.isDirectory) return "directory";
  let info: Deno.FileInfo;
  try {
    info = entry.isSymlink
      ? await Deno.stat(join(dir, entry.name))
      : await Deno.lstat(join(dir, entry.name));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "dangling symlink"; // or gone since listed
    throw err;
  }
  if (info.isFile) return "file";
  if (info.isDirectory) return "directory";
  if (info.isFifo) return "fifo";
  if (info.isSocket) return "socket";
  return "device";
}

/** An entry named like a segment of the history that is not a regular file: never read */
export interface StrayEntry {
  path: string;
  kind: Exclude<EntryKind, "file">;
  active: boolean;
}

/**
 * The segments of a history, oldest first, the active file (if any) last, symlinks followed; and
 * the entries named like one of them that are not regular files (a directory, a FIFO, a dangling
 * symlink...), which a reader must not open and should say it passed over
 */
export async function scanSegments(
  dir: string,
  base: string,
): Promise<{ segments: SegmentFile[]; strays: StrayEntry[] }> {
  const pattern = new RegExp(`^${escapeRegExp(base)}\\.(\\d{6,})\\.jsonl$`);
  const closed: SegmentFile[] = [];
  const strays: StrayEntry[] = [];
  let hasActive = false;
  try {
    for await (const entry of Deno.readDir(dir)) {
      const active = entry.name === `${base}.jsonl`;
      const m = active ? null : pattern.exec(entry.name);
      if (!active && m?.[1] === undefined) continue;
      const kind = await kindOf(dir, entry);
      if (kind !== "file") {
        strays.push({ path: join(dir, entry.name), kind, active });
        continue;
      }
      if (active) hasActive = true;
      else if (m?.[1] !== undefined) {
        closed.push({ path: join(dir, entry.name), number: Number(m[1]), active: false });
      }
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { segments: [], strays: [] };
    throw err;
  }
  closed.sort((a, b) => a.number - b.number);
  strays.sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const next = (closed.at(-1)?.number ?? 0) + 1;
  const segments = hasActive
    ? [...closed, { path: activePath(dir, base), number: next, active: true }]
    : closed;
  return { segments, strays };
}

/** Every segment of a history, oldest first, the active file (if any) last; symlinks followed */
export async function listSegments(dir: string, base: string): Promise<SegmentFile[]> {
  return (await scanSegments(dir, base)).segments;
}

/** fsyncs a directory so that a rename or a new file in it survives a crash (best effort) */
export async function syncDir(dir: string): Promise<void> {
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.syncData();
    } finally {
      d.close();
    }
  } catch {
    // Some file systems cannot sync a directory; the rename is still atomic.
  }
}
