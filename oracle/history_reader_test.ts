import assert from "node:assert/strict";
import { History, ReadStats } from "./history_reader.ts";
import { dataDir, jsonl, message } from "./testdata/history.ts";
import { oracle } from "./testing.ts";

const T0 = Date.parse("2026-11-24T10:00:00Z");

function line(seq: number, extra = ""): string {
  const ts = new Date(T0 + seq * 1000).toISOString();
  return `{"schema_version":1,"seq":${seq},"ts":"${ts}","type":"message"${extra}}\n`;
}

async function writeHistory(
  segments: string[][],
  active: string[] | undefined,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "history-test-" });
  for (const [i, lines] of segments.entries()) {
    const name = `diff_time_machine.${String(i + 1).padStart(6, "0")}.jsonl`;
    await Deno.writeTextFile(`${dir}/${name}`, lines.join(""));
  }
  if (active) await Deno.writeTextFile(`${dir}/diff_time_machine.jsonl`, active.join(""));
  return dir;
}

async function seqsFrom(h: History, t: number): Promise<number[]> {
  const out: number[] = [];
  for await (const l of h.lines(await h.seek(t), new ReadStats())) {
    out.push(Number(l.value()?.["seq"]));
  }
  return out;
}

Deno.test("history reads closed segments in order, then the active file", async () => {
  const pad = `,"pad":"${"x".repeat(300)}"`;
  const all = Array.from({ length: 3000 }, (_, i) => line(i, pad));
  const dir = await writeHistory([all.slice(0, 1000), all.slice(1000, 2000)], all.slice(2000));
  const h = await History.open(dir, "diff_time_machine");
  const stats = new ReadStats();
  let n = 0;
  for await (const l of h.lines(h.start, stats)) assert.equal(l.value()?.["seq"], n++);
  assert.equal(n, 3000);
  assert.equal(stats.corrupt + stats.torn, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("seek finds the first record at or after a time across segments", async () => {
  const pad = `,"pad":"${"y".repeat(500)}"`;
  const all = Array.from({ length: 2000 }, (_, i) => line(i, pad));
  const dir = await writeHistory([all.slice(0, 700), all.slice(700, 1400)], all.slice(1400));
  const h = await History.open(dir, "diff_time_machine");
  for (const target of [0, 1, 699, 700, 701, 1399, 1400, 1999]) {
    const seqs = await seqsFrom(h, T0 + target * 1000);
    assert.equal(seqs[0], target, `seek to ${target}`);
    assert.equal(seqs.length, 2000 - target);
  }
  assert.deepEqual(await seqsFrom(h, T0 + 5_000_000), []);
  assert.equal((await seqsFrom(h, T0 - 1000))[0], 0);
  assert.equal(Number((await h.last())?.value()?.["seq"]), 1999);
  for (const target of [1, 700, 1400, 1999]) {
    const before = await h.before(await h.seek(T0 + target * 1000));
    assert.equal(before?.value()?.["seq"], target - 1, `before ${target}`);
  }
  assert.equal(await h.before(h.start), undefined);
  assert.equal((await h.before(await h.seek(T0 + 9_999_000)))?.value()?.["seq"], 1999);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("corrupt and torn lines are skipped, counted and located", async () => {
  const dir = await writeHistory([], [line(0), "not json\n", line(1), `{"seq":2`]);
  const h = await History.open(dir, "diff_time_machine");
  const stats = new ReadStats();
  const seqs: unknown[] = [];
  for await (const l of h.lines(h.start, stats)) seqs.push(l.value()?.["seq"]);
  assert.deepEqual(seqs, [0, 1]);
  assert.equal(stats.corrupt, 1);
  assert.equal(stats.torn, 1);
  assert.match(stats.where[0] ?? "", /diff_time_machine\.jsonl:\d+$/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("symlinked history files are read like the files they point to", async () => {
  const real = await dataDir({
    "diff_time_machine.000001.jsonl": [message(0, 0), message(1, 1)].map(jsonl).join(""),
    diff: [message(2, 2), message(3, 3)].map(jsonl).join(""),
  });
  const linked = await Deno.makeTempDir({ prefix: "history-test-links-" });
  for await (const e of Deno.readDir(real)) {
    await Deno.symlink(`${real}/${e.name}`, `${linked}/${e.name}`);
  }
  const h = await History.open(linked, "diff_time_machine");
  assert.deepEqual(h.segments.map((s) => s.path), [
    `${linked}/diff_time_machine.000001.jsonl`,
    `${linked}/diff_time_machine.jsonl`,
  ]);
  const seqs: unknown[] = [];
  for await (const l of h.lines(h.start, new ReadStats())) seqs.push(l.value()?.["seq"]);
  assert.deepEqual(seqs, [0, 1, 2, 3]);
  const r = await oracle(["diffs", "-f", "json", "--data-dir", linked]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.equal(JSON.parse(r.stdout).total, 4);
  await Deno.remove(real, { recursive: true });
  await Deno.remove(linked, { recursive: true });
});
