import assert from "node:assert/strict";
import { join } from "node:path";
import { type SegmentDeleted, TimeMachineWriter } from "./time_machine_writer.ts";
import { readHistory } from "./time_machine_reader.ts";
import { listSegments } from "./segment_files.ts";

type Body = { type: string; n: number };

function options(
  dir: string,
  extra: Partial<Parameters<typeof TimeMachineWriter.open<Body>>[0]> = {},
) {
  return {
    dir,
    base: "h",
    segmentBytes: 1 << 20,
    retainBytes: 2 ** 40,
    syncIntervalMs: 10_000,
    ...extra,
  };
}

async function readAll(dir: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const v of readHistory(dir, "h")) {
    if (typeof v === "object" && v !== null) out.push(v as Record<string, unknown>);
  }
  return out;
}

Deno.test("every line is a whole JSON object with a schema version and a growing seq", async () => {
  const dir = await Deno.makeTempDir();
  const w = await TimeMachineWriter.open<Body>(options(dir));
  for (let n = 0; n < 5; n++) w.append({ type: "t", n });
  await w.close();
  const text = await Deno.readTextFile(join(dir, "h.jsonl"));
  const lines = text.split("\n");
  assert.deepEqual(lines.pop(), "");
  assert.deepEqual(lines.map((l) => JSON.parse(l).seq), [1, 2, 3, 4, 5]);
  for (const l of lines) assert.deepEqual(JSON.parse(l).schema_version, 1);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a torn tail is cut on open and seq continues from the last whole line", async () => {
  const dir = await Deno.makeTempDir();
  const w = await TimeMachineWriter.open<Body>(options(dir));
  for (let n = 0; n < 3; n++) w.append({ type: "t", n });
  await w.close();
  const path = join(dir, "h.jsonl");
  await Deno.writeTextFile(path, '{"schema_version":1,"seq":4,"ts":"2', { append: true });
  const again = await TimeMachineWriter.open<Body>(options(dir));
  assert.ok(again.tornBytesCut > 0);
  assert.deepEqual(again.lastSeq, 3);
  again.append({ type: "t", n: 3 });
  await again.close();
  const records = await readAll(dir);
  assert.deepEqual(records.map((r) => r["seq"]), [1, 2, 3, 4]);
  assert.deepEqual(records.map((r) => r["n"]), [0, 1, 2, 3]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("garbage after the last whole line (a power loss) is cut too", async () => {
  const dir = await Deno.makeTempDir();
  const w = await TimeMachineWriter.open<Body>(options(dir));
  w.append({ type: "t", n: 0 });
  await w.close();
  const path = join(dir, "h.jsonl");
  const zeros = new Uint8Array(100);
  zeros[99] = 0x0a;
  await Deno.writeFile(path, zeros, { append: true });
  const again = await TimeMachineWriter.open<Body>(options(dir));
  assert.deepEqual(again.tornBytesCut, 100);
  await again.close();
  assert.deepEqual((await readAll(dir)).length, 1);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("files rotate into numbered segments with a header, keep a retention limit, read as one history", async () => {
  const dir = await Deno.makeTempDir();
  const deleted: SegmentDeleted[] = [];
  const opts = options(dir, {
    segmentBytes: 4096,
    // Two closed segments (each a little over 4096 bytes) and a full active one fit
    retainBytes: 4096 * 3 + 1024,
    segmentHeader: (segment: number) => ({ type: "segment_started", n: segment }),
    onSegmentDeleted: (d: SegmentDeleted) => deleted.push(d),
  });
  const w = await TimeMachineWriter.open<Body>(opts);
  for (let n = 0; n < 400; n++) {
    w.append({ type: "t", n });
    if (n % 50 === 0) await w.flush();
  }
  await w.close();
  const segments = await listSegments(dir, "h");
  assert.deepEqual(segments.length, 3);
  assert.deepEqual(segments.at(-1)?.active, true);
  const records = await readAll(dir);
  const seqs = records.map((r) => Number(r["seq"]));
  for (let i = 1; i < seqs.length; i++) assert.deepEqual(seqs[i], (seqs[i - 1] ?? 0) + 1);
  assert.deepEqual(records.at(-1)?.["n"], 399);
  // Every deletion was told, oldest first, and the history kept starts right after the last one
  assert.ok(deleted.length > 0);
  assert.deepEqual(deleted.map((d) => d.error), deleted.map(() => undefined));
  for (const d of deleted) assert.ok(d.bytes > 4096, `${d.file} had its size told`);
  assert.deepEqual((deleted.at(-1)?.lastSeq ?? 0) + 1, seqs[0]);
  // every segment starts with its header
  for (const s of segments) {
    const first = JSON.parse((await Deno.readTextFile(s.path)).split("\n")[0] ?? "");
    assert.deepEqual(first.type, "segment_started");
    assert.deepEqual(first.n, s.number);
  }
  // a reopened writer continues the same history
  const again = await TimeMachineWriter.open<Body>(opts);
  assert.deepEqual(again.lastSeq, seqs.at(-1));
  await again.close();
  // reading from a seq skips older records
  const later: unknown[] = [];
  for await (const v of readHistory(dir, "h", (seqs.at(-1) ?? 0) - 2)) later.push(v);
  assert.deepEqual(later.length, 2);
  await Deno.remove(dir, { recursive: true });
});

/** Polls until `check` holds; throws naming `what` after `timeoutMs` (a guard, not a timing) */
async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("records are on disk by the sync interval, not at close, and listeners see each once, in order", async () => {
  const dir = await Deno.makeTempDir();
  const w = await TimeMachineWriter.open<Body>(options(dir, { syncIntervalMs: 5 }));
  const onDisk = () =>
    new Set(
      Deno.readTextFileSync(join(dir, "h.jsonl")).split("\n").filter((l) => l !== "")
        .map((l) => Number(JSON.parse(l).seq)),
    );
  const seen: number[] = [];
  const toldBeforeOnDisk: number[] = [];
  let flushesTold = 0;
  w.onDurable((records) => {
    flushesTold++;
    const disk = onDisk();
    for (const r of records) {
      seen.push(r.seq);
      if (!disk.has(r.seq)) toldBeforeOnDisk.push(r.seq);
    }
  });
  for (let batch = 0; batch < 10; batch++) {
    for (let n = 0; n < 100; n++) w.append({ type: "t", n: batch * 100 + n });
    const last = w.lastSeq;
    // No flush is asked for and the writer stays open: only the sync interval writes them
    await until(() => seen.at(-1) === last, `records up to ${last} to be durable`);
    const disk = onDisk();
    assert.ok(disk.has(last) && disk.size === last, `${disk.size} of ${last} records on disk`);
  }
  assert.deepEqual(seen, Array.from({ length: 1000 }, (_, i) => i + 1));
  assert.ok(flushesTold >= 10, `durable in ${flushesTold} flushes, one per batch at least`);
  assert.deepEqual(toldBeforeOnDisk, [], "a listener is told of records once they are on disk");
  await w.close();
  assert.deepEqual(seen, Array.from({ length: 1000 }, (_, i) => i + 1), "none told twice");
  await Deno.remove(dir, { recursive: true });
});
