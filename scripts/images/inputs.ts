/**
 * The hash of everything an image is made from, kept in its `dev.multi-agent-telemetry.inputs`
 * label: a build whose inputs hash the same as the stored image's is skipped.
 */

import { join, relative } from "node:path";

const encoder = new TextEncoder();

function hex(digest: ArrayBuffer): string {
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** SHA-256 of bytes or text, as hex */
export async function sha256(data: string | Uint8Array<ArrayBuffer>): Promise<string> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

/** The files under `path` (or `path` itself), sorted, skipping nothing */
async function filesUnder(path: string): Promise<string[]> {
  const info = await Deno.stat(path);
  if (info.isFile) return [path];
  const files: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    const child = join(path, entry.name);
    if (entry.isDirectory) files.push(...await filesUnder(child));
    else if (entry.isFile) files.push(child);
  }
  return files.sort();
}

/** One hash of the names (relative to `root`), modes and contents of every file under `paths` */
export async function hashFiles(root: string, paths: readonly string[]): Promise<string> {
  const lines: string[] = [];
  for (const path of paths) {
    for (const file of await filesUnder(join(root, path))) {
      const mode = ((await Deno.stat(file)).mode ?? 0) & 0o777;
      lines.push(
        `${relative(root, file)} ${mode.toString(8)} ${await sha256(await Deno.readFile(file))}`,
      );
    }
  }
  return await sha256(lines.join("\n"));
}

/** One hash of named parts, e.g. `{ base: id, recipe: text }` */
export async function hashInputs(parts: Record<string, string>): Promise<string> {
  const keys = Object.keys(parts).sort();
  return await sha256(keys.map((key) => `${key}=${parts[key]}`).join("\n"));
}
