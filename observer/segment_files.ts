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

/** Whether a directory entry is a file, or a symlink to one */
async function isFile(dir: string, entry: Deno.DirEntry): Promise<boolean> {
  if (!entry.isSymlink) return entry.isFile;
  try {
    return (await Deno.stat(join(dir, entry.name))).isFile;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false; // dangling
    throw err;
  }
}

/** Every segment of a history, oldest first, the active file (if any) last; symlinks followed */
export async function listSegments(dir: string, base: string): Promise<SegmentFile[]> {
  const pattern = new RegExp(`^${escapeRegExp(base)}\\.(\\d{6,})\\.jsonl$`);
  const closed: SegmentFile[] = [];
  let hasActive = false;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!(await isFile(dir, entry))) continue;
      if (entry.name === `${base}.jsonl`) hasActive = true;
      const m = pattern.exec(entry.name);
      if (m?.[1] !== undefined) {
        closed.push({ path: join(dir, entry.name), number: Number(m[1]), active: false });
      }
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  closed.sort((a, b) => a.number - b.number);
  const next = (closed.at(-1)?.number ?? 0) + 1;
  return hasActive
    ? [...closed, { path: activePath(dir, base), number: next, active: true }]
    : closed;
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
