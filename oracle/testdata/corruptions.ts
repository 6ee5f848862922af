/**
 * Ways to damage a time machine, for the reader's fuzz test: each takes a copy of a data directory
 * and a seeded random source, damages the copy in place, and says what it did. Drawn from what
 * goes wrong with files on disk (a segment lost, lines cut, garbage bytes), with copies (a
 * directory or a link where a file was) and with clocks (a time in the future).
 *
 * Left out on purpose, as no reader can tell them from a history that is whole: the oldest
 * segment deleted (retention does just that), and the newest lines cut off cleanly (the history
 * as it stood a moment earlier). A line whose values are changed into other valid values (an
 * agent's name into another name) is left out too: only a checksum could tell.
 */

import { DIFF_FILE_BASE, STATE_FILE_BASE } from "@mat/observer";
import { activePath, listSegments } from "@mat/observer/segments";

/** A seeded random source (mulberry32): the same seed, the same cases */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;

const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new RangeError("Cannot pick from an empty list");
  return item;
}

const NEWLINE = 0x0a;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The lines of a file's bytes, each with its newline (the last may have none) */
function splitBytes(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === NEWLINE) {
      out.push(bytes.slice(start, i + 1));
      start = i + 1;
    }
  }
  if (start < bytes.length) out.push(bytes.slice(start));
  return out;
}

function joinBytes(lines: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(lines.reduce((n, l) => n + l.length, 0));
  let at = 0;
  for (const l of lines) {
    out.set(l, at);
    at += l.length;
  }
  return out;
}

/** The files of the diff history, oldest first, the active last */
async function diffFiles(dir: string): Promise<string[]> {
  return (await listSegments(dir, DIFF_FILE_BASE)).map((s) => s.path);
}

async function closedSegments(dir: string): Promise<string[]> {
  return (await diffFiles(dir)).slice(0, -1);
}

/** A diff file and its lines, chosen at random, with the place of every line in the history */
async function someLines(
  dir: string,
  rng: Rng,
): Promise<{ path: string; lines: Uint8Array[]; last: boolean }> {
  const files = await diffFiles(dir);
  const path = pick(rng, files);
  return {
    path,
    lines: splitBytes(await Deno.readFile(path)),
    last: path === files.at(-1),
  };
}

/** Rewrites line `i` of `lines` as JSON, changed by `change` */
function rewrite(
  lines: Uint8Array[],
  i: number,
  change: (value: Record<string, unknown>) => void,
): boolean {
  const line = lines[i];
  if (line === undefined) return false;
  const value = JSON.parse(decoder.decode(line));
  change(value);
  lines[i] = encoder.encode(`${JSON.stringify(value)}\n`);
  return true;
}

/** A line index not among the first two of the history nor the last two of the active file */
function inner(lines: Uint8Array[], first: boolean, last: boolean, rng: Rng): number {
  const lo = first ? 2 : 0;
  const hi = last ? lines.length - 3 : lines.length - 1;
  return int(rng, lo, Math.max(lo, hi));
}

export type Corruption = (dir: string, rng: Rng) => Promise<string>;

async function replaceSegment(dir: string, rng: Rng, by: "directory" | "fifo" | "symlink") {
  const path = pick(rng, await closedSegments(dir));
  await Deno.remove(path);
  if (by === "directory") await Deno.mkdir(path);
  else if (by === "symlink") await Deno.symlink(`${path}.gone`, path);
  else {
    const made = await new Deno.Command("mkfifo", { args: [path] }).output();
    if (!made.success) throw new Error(`mkfifo "${path}" failed`);
  }
  return `${by} for ${path.slice(dir.length + 1)}`;
}

/** What is done to a line chosen at random among the inner ones */
async function onLine(
  dir: string,
  rng: Rng,
  what: string,
  change: (lines: Uint8Array[], i: number) => boolean,
): Promise<string> {
  const { path, lines, last } = await someLines(dir, rng);
  const first = path === (await diffFiles(dir))[0];
  if (lines.length < 6) return `${what}: nothing (too few lines)`;
  const i = inner(lines, first, last, rng);
  const changed = change(lines, i);
  await Deno.writeFile(path, joinBytes(lines));
  return `${what} at line ${i} of ${path.slice(dir.length + 1)}${changed ? "" : " (unchanged)"}`;
}

/** The newest snapshot, changed by `change` */
async function onSnapshot(
  dir: string,
  what: string,
  change: (value: Record<string, unknown>, lastSeq: number) => void,
): Promise<string> {
  const path = activePath(dir, STATE_FILE_BASE);
  const lines = splitBytes(await Deno.readFile(path));
  const files = await diffFiles(dir);
  const tail = splitBytes(await Deno.readFile(files.at(-1) ?? ""));
  const lastSeq = Number(JSON.parse(decoder.decode(tail.at(-1))).seq);
  rewrite(lines, lines.length - 1, (v) => change(v, lastSeq));
  await Deno.writeFile(path, joinBytes(lines));
  return what;
}

export const CORRUPTIONS: Record<string, Corruption> = {
  "directory segment": (dir, rng) => replaceSegment(dir, rng, "directory"),
  "fifo segment": (dir, rng) => replaceSegment(dir, rng, "fifo"),
  "dangling symlink segment": (dir, rng) => replaceSegment(dir, rng, "symlink"),
  "missing middle segment": async (dir, rng) => {
    const path = pick(rng, (await closedSegments(dir)).slice(1));
    await Deno.remove(path);
    return `removed ${path.slice(dir.length + 1)}`;
  },
  "empty segment": async (dir, rng) => {
    const path = pick(rng, await closedSegments(dir));
    await Deno.writeFile(path, new Uint8Array());
    return `emptied ${path.slice(dir.length + 1)}`;
  },
  "missing active file": async (dir) => {
    await Deno.remove(activePath(dir, DIFF_FILE_BASE));
    return "removed the active diff file";
  },
  "deleted lines": (dir, rng) =>
    onLine(dir, rng, "deleted lines", (lines, i) => {
      const n = int(rng, 1, Math.min(20, lines.length - i - 1));
      lines.splice(i, Math.max(1, n));
      return true;
    }),
  "truncated line": (dir, rng) =>
    onLine(dir, rng, "truncated line", (lines, i) => {
      const line = lines[i];
      if (line === undefined || line.length < 4) return false;
      const cut = int(rng, 1, line.length - 3);
      lines[i] = joinBytes([line.slice(0, cut), new Uint8Array([NEWLINE])]);
      return true;
    }),
  "torn last line": async (dir) => {
    const files = await diffFiles(dir);
    const path = files.at(-1) ?? "";
    const bytes = await Deno.readFile(path);
    const lines = splitBytes(bytes);
    const last = lines.at(-1);
    if (last === undefined) return "torn last line: nothing";
    lines[lines.length - 1] = last.slice(0, Math.floor(last.length / 2));
    await Deno.writeFile(path, joinBytes(lines));
    return "tore the last line in half";
  },
  "duplicated lines": (dir, rng) =>
    onLine(dir, rng, "duplicated lines", (lines, i) => {
      const n = int(rng, 1, 10);
      lines.splice(i, 0, ...lines.slice(Math.max(0, i - n), i));
      return i > 0;
    }),
  "reordered lines": (dir, rng) =>
    onLine(dir, rng, "reordered lines", (lines, i) => {
      const j = Math.min(lines.length - 1, i + int(rng, 1, 20));
      const a = lines[i];
      const b = lines[j];
      if (a === undefined || b === undefined || i === j) return false;
      lines[i] = b;
      lines[j] = a;
      return true;
    }),
  "garbage bytes": (dir, rng) =>
    onLine(dir, rng, "garbage bytes", (lines, i) => {
      const line = lines[i];
      if (line === undefined || line.length < 12) return false;
      const n = int(rng, 1, 8);
      const at = int(rng, 0, line.length - n - 2);
      // 0xff is never UTF-8: the bytes cannot pass for text
      for (let k = 0; k < n; k++) line[at + k] = k === 0 ? 0xff : int(rng, 0x80, 0xff);
      return true;
    }),
  "future time on the last line": async (dir) => {
    const path = (await diffFiles(dir)).at(-1) ?? "";
    const lines = splitBytes(await Deno.readFile(path));
    rewrite(lines, lines.length - 1, (v) => v["ts"] = "2099-01-01T00:00:00.000Z");
    await Deno.writeFile(path, joinBytes(lines));
    return "the last line stamped 2099";
  },
  "far time": (dir, rng) =>
    onLine(dir, rng, "far time", (lines, i) =>
      rewrite(lines, i, (v) => {
        const ms = Date.parse(String(v["ts"]));
        v["ts"] = pick(rng, [
          "2099-01-01T00:00:00.000Z",
          "1970-01-02T00:00:00.000Z",
          new Date(ms + 86_400_000).toISOString(),
          new Date(ms - 3_600_000).toISOString(),
        ]);
      })),
  "fractional seq": (dir, rng) =>
    onLine(
      dir,
      rng,
      "fractional seq",
      (lines, i) => rewrite(lines, i, (v) => v["seq"] = Number(v["seq"]) + 0.5),
    ),
  "changed seq": (dir, rng) =>
    onLine(
      dir,
      rng,
      "changed seq",
      (lines, i) =>
        rewrite(lines, i, (v) => v["seq"] = Number(v["seq"]) + pick(rng, [-7, -1, 1, 5, 1000])),
    ),
  "invalid UTF-8 in a name": (dir, rng) =>
    onLine(dir, rng, "invalid UTF-8 in a name", (lines, i) => {
      // An error record's agent when there is one (diagnose reads those), else any agent's
      for (const wanted of ['"type":"error"', '"agent":"']) {
        for (let k = 0; k < lines.length; k++) {
          const line = lines[(i + k) % lines.length];
          if (line === undefined) continue;
          const text = decoder.decode(line);
          const at = text.indexOf('"agent":"');
          if (at < 0 || !text.includes(wanted) || text.length !== line.length) continue;
          line[at + 10] = 0xff;
          return true;
        }
      }
      return false;
    }),
  "snapshot diff_seq 0": (dir) =>
    onSnapshot(dir, "the newest snapshot's diff_seq set to 0", (v) => v["diff_seq"] = 0),
  "snapshot diff_seq past the end": (dir) =>
    onSnapshot(
      dir,
      "the newest snapshot's diff_seq past the end",
      (v, last) => v["diff_seq"] = last + 1000,
    ),
  "snapshot diff_seq off": (dir, rng) => {
    const by = pick(rng, [-200, -50, -10, -3, -1, 1, 3, 10, 50]);
    return onSnapshot(
      dir,
      `the newest snapshot's diff_seq moved by ${by}`,
      (v) => v["diff_seq"] = Math.max(0, Number(v["diff_seq"]) + by),
    );
  },
  "torn snapshot": async (dir) => {
    const path = activePath(dir, STATE_FILE_BASE);
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.slice(0, bytes.length - Math.floor(bytes.length / 4)));
    return "cut the newest snapshot short";
  },
};
