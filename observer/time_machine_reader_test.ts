import assert from "node:assert/strict";
import { readHistory } from "./time_machine_reader.ts";
import { listSegments } from "./segment_files.ts";

const line = (seq: number) => `${JSON.stringify({ schema_version: 1, seq })}\n`;

Deno.test("symlinked segments are listed and read like the files they point to", async () => {
  const real = await Deno.makeTempDir({ prefix: "reader-test-" });
  await Deno.writeTextFile(`${real}/h.000001.jsonl`, line(1) + line(2));
  await Deno.writeTextFile(`${real}/h.jsonl`, line(3));
  const linked = await Deno.makeTempDir({ prefix: "reader-test-links-" });
  await Deno.symlink(`${real}/h.000001.jsonl`, `${linked}/h.000001.jsonl`);
  await Deno.symlink(`${real}/h.jsonl`, `${linked}/h.jsonl`);
  await Deno.symlink(`${real}/missing.jsonl`, `${linked}/h.000002.jsonl`); // dangling: no file
  await Deno.mkdir(`${linked}/h.000003.jsonl`); // a directory, not a segment
  assert.deepEqual(await listSegments(linked, "h"), [
    { path: `${linked}/h.000001.jsonl`, number: 1, active: false },
    { path: `${linked}/h.jsonl`, number: 2, active: true },
  ]);
  const seqs: unknown[] = [];
  for await (const value of readHistory(linked, "h")) seqs.push((value as { seq: number }).seq);
  assert.deepEqual(seqs, [1, 2, 3]);
  await Deno.remove(real, { recursive: true });
  await Deno.remove(linked, { recursive: true });
});
