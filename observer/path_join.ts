/**
 * `join` of node:path in its POSIX form (the observer and the oracle run on Linux), without
 * node:path, whose loading (Deno's Node compatibility layer, with node:util) took 16 ms of the
 * oracle's start. Same answers: the non-empty parts joined with `/`, then normalized (`.` and
 * empty segments dropped, `..` taking the segment before it back, kept at the start of a relative
 * path; a trailing slash kept).
 */

/** A path without `.` and empty segments, each `..` taking the segment before it back */
function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  const trailing = path.endsWith("/");
  const kept: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment !== "..") kept.push(segment);
    else if (kept.length > 0 && kept.at(-1) !== "..") kept.pop();
    else if (!absolute) kept.push(".."); // above a relative path's start; nothing is above "/"
  }
  const joined = kept.join("/");
  if (joined === "") return absolute ? "/" : trailing ? "./" : ".";
  return `${absolute ? "/" : ""}${joined}${trailing ? "/" : ""}`;
}

/** The parts of a path joined, as node:path's (POSIX) `join` joins them */
export function joinPath(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}
