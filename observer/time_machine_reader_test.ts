import assert from "node:assert/strict";
import { readHistory, readLines } from "./time_machine_reader.ts";
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

Deno.test("a line longer than many reads is read whole", async () => {
  const dir = await Deno.makeTempDir({ prefix: "reader-test-" });
  const pad = "x".repeat(64 << 20);
  await Deno.writeTextFile(`${dir}/h.jsonl`, `${line(1)}{"seq":2,"pad":"${pad}"}\n${line(3)}`);
  const lengths: number[] = [];
  // (Re-splitting the whole carried line at each read took 9 s for this one; now a fraction of a
  // second. Timings are the benchmark's; this holds the lines.)
  for await (const l of readLines(`${dir}/h.jsonl`)) lengths.push(l.length);
  assert.deepEqual(lengths, [line(1).length - 1, pad.length + 18, line(3).length - 1]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a partial last line is not read, nor are empty lines", async () => {
  const dir = await Deno.makeTempDir({ prefix: "reader-test-" });
  await Deno.writeTextFile(`${dir}/h.jsonl`, `${line(1)}\n${line(2)}{"seq":3`);
  const lines: string[] = [];
  for await (const l of readLines(`${dir}/h.jsonl`)) lines.push(l);
  assert.deepEqual(lines, [line(1).trim(), line(2).trim()]);
  await Deno.remove(dir, { recursive: true });
});
