/**
 * The state and the windows the oracle rebuilds from damaged or unusual histories: real files, the
 * real CLI as a subprocess, its stdout and stderr compared separately.
 */

import assert from "node:assert/strict";
import type { DiffRecord } from "@mat/observer";
import { outputProblems } from "./output_schema.ts";
import {
  at,
  dataDir,
  errorRecord,
  jsonl,
  message,
  queueSample,
  snapshot,
  stateAfter,
} from "./testdata/history.ts";
import { oracle } from "./testing.ts";

interface Place {
  kind?: string;
  file: string;
  offset: number;
  reason?: string;
}

interface Doc {
  skipped_lines: number;
  skipped: { by_kind: Record<string, number>; places: Place[] };
  out_of_order: { records: number; places: Place[] };
  [key: string]: unknown;
}

async function json(args: string[], dir: string): Promise<{ doc: Doc; stderr: string }> {
  const r = await oracle([...args, "-f", "json", "--data-dir", dir]);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(outputProblems(doc), [], `${args.join(" ")} validates`);
  return { doc, stderr: r.stderr };
}

function messagesSeen(doc: Doc): number {
  return (doc["state"] as { messages_seen: number }).messages_seen;
}

/** 20 messages folded into a snapshot (seq 1 of the state history), and 2 more after it */
function rotatedHistory(): { diff: string; good: string; records: DiffRecord[] } {
  const folded = Array.from({ length: 20 }, (_, i) => message(i + 1, i + 1));
  const after = [message(21, 30), message(22, 31)];
  // The diff history was rotated: only the records after the snapshot are left on disk.
  return {
    diff: after.map(jsonl).join(""),
    good: jsonl(snapshot(1, 25, 20, stateAfter(folded))),
    records: after,
  };
}

Deno.test("an invalid newest snapshot falls back to the previous good one, and says so", async () => {
  const { diff, good } = rotatedHistory();
  const bad = snapshot(2, 32, 22, stateAfter([]));
  const invalid = JSON.stringify(bad).replace(`"messages_seen":0`, `"messages_seen":"x"`);
  const dir = await dataDir({ diff, state: good + invalid + "\n" });
  const { doc, stderr } = await json(["state"], dir);
  assert.equal(messagesSeen(doc), 22);
  assert.deepEqual(doc["rebuilt_from"], {
    snapshot_seq: 1,
    snapshot_ts: at(25),
    diff_records_replayed: 2,
    fold_options: {
      topic_prefix: "agent-queue-",
      topic_pattern: "^agent-queue-(?<agent>[a-z][a-z0-9_-]{0,62})$",
      user_inbox: "user",
      queue_window: 5,
      stuck_after_ms: 60_000,
      orphan_grace_ms: 5_000,
      source: "snapshot",
    },
  });
  assert.equal(doc.skipped_lines, 1);
  assert.equal(doc.skipped.by_kind["invalid"], 1);
  assert.deepEqual(doc.skipped.places.map((p) => [p.kind, p.file, p.offset]), [
    ["invalid", `${dir}/state_time_machine.jsonl`, good.length],
  ]);
  assert.match(doc.skipped.places[0]?.reason ?? "", /"state\.messages_seen" must be an integer/);
  assert.match(
    stderr,
    new RegExp(
      `warning: snapshot seq 2 at ${dir}/state_time_machine\\.jsonl:${good.length} is unreadable .*: state rebuilt from snapshot seq 1 \\(${
        at(25).replaceAll(".", "\\.")
      }\\)`,
    ),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a snapshot of a newer schema version falls back to the previous one", async () => {
  const { diff, good } = rotatedHistory();
  const newer = jsonl({ ...snapshot(2, 32, 22, stateAfter([])), schema_version: 2 });
  const dir = await dataDir({ diff, state: good + newer });
  const { doc, stderr } = await json(["state"], dir);
  assert.equal(messagesSeen(doc), 22);
  assert.equal(doc.skipped.by_kind["newer"], 1);
  assert.equal(doc.skipped.places[0]?.offset, good.length);
  assert.match(stderr, /state rebuilt from snapshot seq 1/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("torn and corrupt lines of the state history are counted and located", async () => {
  const { diff, good } = rotatedHistory();
  const state = good + "not json\n" + `{"schema_version":1,"seq":2,"ts":"${at(40)}","ty`;
  const dir = await dataDir({ diff, state });
  const { doc, stderr } = await json(["state"], dir);
  assert.equal(messagesSeen(doc), 22);
  assert.equal(doc.skipped_lines, 2);
  const file = `${dir}/state_time_machine.jsonl`;
  assert.deepEqual(
    doc.skipped.places.map((p) => [p.kind, p.file, p.offset]).sort(),
    [["corrupt", file, good.length], ["torn", file, good.length + 9]],
  );
  assert.match(stderr, /warning: skipped 1 corrupt, 1 torn/);
  assert.match(stderr, new RegExp(`${file}:${good.length}`));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("invalid and newer diff lines are located like corrupt ones", async () => {
  const lines = [
    jsonl(message(1, 1)),
    jsonl({ ...message(2, 2), partition: -1 }),
    jsonl({ ...message(3, 3), schema_version: 9 }),
    jsonl(message(4, 4)),
  ];
  const dir = await dataDir({ diff: lines.join("") });
  const { doc, stderr } = await json(["diffs"], dir);
  assert.equal(doc.skipped_lines, 2);
  const file = `${dir}/diff_time_machine.jsonl`;
  const off = (i: number) => lines.slice(0, i).join("").length;
  assert.deepEqual(doc.skipped.places.map((p) => [p.kind, p.file, p.offset]), [
    ["invalid", file, off(1)],
    ["newer", file, off(2)],
  ]);
  assert.match(stderr, new RegExp(`at ${file}:${off(1)}, ${file}:${off(2)}`));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("state --at over 400 KB of garbage state lines answers right and reports every line", async () => {
  const { diff, good } = rotatedHistory();
  const junk = `garbage, not json ${"x".repeat(81)}\n`; // 100 bytes
  const garbage = junk.repeat(4096);
  const dir = await dataDir({ diff, state: good + garbage });
  // (The quadratic walk took 53 s on this input, linear reading well under a second: a figure
  // for the benchmark; this test holds the answer and the report.)
  const { doc, stderr } = await json(["state", "--at", at(40)], dir);
  assert.equal(messagesSeen(doc), 22);
  assert.equal(doc.skipped.by_kind["corrupt"], 4096);
  assert.match(stderr, /warning: skipped \d+ corrupt line\(s\) at .*state_time_machine\.jsonl:\d+/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("records whose seq goes back to the snapshot's are reported, not dropped silently", async () => {
  const { diff, good } = rotatedHistory();
  // After seq 22, the diff history starts again from seq 5 (a restored or second writer).
  const back = [message(5, 33), message(6, 34)].map(jsonl).join("");
  const dir = await dataDir({ diff: diff + back, state: good });
  const { doc, stderr } = await json(["state"], dir);
  assert.equal(
    messagesSeen(doc),
    22,
    "records at or below the snapshot's diff_seq are not applied",
  );
  assert.equal(doc.skipped.by_kind["seq_backwards"], 2);
  assert.deepEqual(doc.skipped.places.map((p) => [p.kind, p.offset]), [
    ["seq_backwards", diff.length],
    ["seq_backwards", diff.length + jsonl(message(5, 33)).length],
  ]);
  assert.equal(doc.out_of_order.records, 1);
  assert.equal(doc.out_of_order.places[0]?.offset, diff.length);
  assert.match(stderr, /seq goes back/);
  await Deno.remove(dir, { recursive: true });
});

/** 195 events a second apart, from T0 + 1 s; one of them has a time far from the others */
async function outOfOrder(badTs: string): Promise<{ dir: string; lines: string[] }> {
  const records = Array.from({ length: 195 }, (_, i) => message(i + 1, i + 1));
  const lines = records.map((r, i) => jsonl(i === 19 ? { ...r, ts: badTs } : r));
  return { dir: await dataDir({ diff: lines.join("") }), lines };
}

for (
  const [what, badTs] of [["future", "2099-01-01T00:00:00.000Z"], ["past", at(-3600)]] as const
) {
  Deno.test(`a ${what} out-of-order time neither hides nor leaks records of a window`, async () => {
    const { dir, lines } = await outOfOrder(badTs);
    // Windows holding the odd record, starting or ending at it, and far from it
    const windows = [[10, 190], [1, 195], [15, 25], [20, 40], [5, 20], [150, 160]] as const;
    for (const [after, before] of windows) {
      const { doc, stderr } = await json(
        ["diffs", "--after", at(after), "--before", at(before), "-l", "1000"],
        dir,
      );
      const seqs = (doc["events"] as { seq: number; ts: string }[]).map((e) => e.seq);
      const expected = Array.from({ length: before - after + 1 }, (_, i) => after + i)
        .filter((s) => s !== 20);
      assert.deepEqual(seqs, expected, `window ${after}..${before}`);
      assert.equal(doc["total"], expected.length);
      if (after > 25) continue; // far from it: the odd record is not read, nor needed
      assert.ok(doc.out_of_order.records >= 1, "the out-of-order record is reported");
      const places = doc.out_of_order.places.map((p) => p.offset);
      const near = [19, 20].map((i) => lines.slice(0, i).join("").length);
      assert.ok(places.some((p) => near.includes(p)), `placed at ${near}: ${places}`);
      assert.match(stderr, /out of order/);
    }
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("state --at keeps the records stamped up to the moment, around an out-of-order time", async () => {
  const { diff, good } = rotatedHistory();
  // After seq 22 (t=31): seq 23 stamped far in the future, then 24, 25 back in order, then 26.
  const after = [
    { ...message(23, 32), ts: "2099-01-01T00:00:00.000Z" },
    message(24, 33),
    message(25, 34),
    message(26, 50),
  ];
  const dir = await dataDir({ diff: diff + after.map(jsonl).join(""), state: good });
  const { doc, stderr } = await json(["state", "--at", at(40)], dir);
  assert.equal(messagesSeen(doc), 24, "20 in the snapshot, then 21, 22, 24 and 25");
  assert.equal(doc.out_of_order.records, 1);
  assert.equal(doc.out_of_order.places[0]?.offset, diff.length + jsonl(after[0]).length);
  assert.match(stderr, /out of order/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("lines past --limit are still read, so what they skip or disorder is reported", async () => {
  const lines = [message(1, 1), message(2, 2), { ...message(3, 3), ts: at(0) }, message(4, 4)]
    .map(jsonl);
  const dir = await dataDir({ diff: [...lines.slice(0, 3), "not json\n", lines[3]].join("") });
  const { doc, stderr } = await json(["diffs", "-l", "1"], dir);
  assert.equal(doc["total"], 4);
  assert.deepEqual(doc.skipped.places.map((p) => [p.kind, p.offset]), [
    ["corrupt", lines.slice(0, 3).join("").length],
  ]);
  assert.equal(doc.out_of_order.records, 1);
  assert.doesNotMatch(stderr, /whole diff history was read/, "it was all read once already");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("replay -m counts back from the end of a diff history that has no state history", async () => {
  const records = Array.from({ length: 30 }, (_, i) => message(i + 1, i * 60));
  const dir = await dataDir({ diff: records.map(jsonl).join("") });
  const { doc } = await json(["replay", "-m", "10"], dir);
  assert.deepEqual(doc["window"], { after: at(29 * 60 - 600), before: at(29 * 60) });
  assert.deepEqual((doc["events"] as { seq: number }[]).map((e) => e.seq), [
    20,
    21,
    22,
    23,
    24,
    25,
    26,
    27,
    28,
    29,
    30,
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a queue sample with a non-numeric high watermark is an invalid line, not bad JSON", async () => {
  const lines = [
    jsonl(queueSample(1, 1, "coder")),
    jsonl(queueSample(2, 2, "coder", "abc")),
  ];
  const dir = await dataDir({ diff: lines.join("") });
  const { doc, stderr } = await json(["queues"], dir);
  assert.equal(doc.skipped_lines, 1);
  assert.deepEqual(doc.skipped.places.map((p) => [p.kind, p.offset]), [
    ["invalid", lines[0]?.length],
  ]);
  assert.match(doc.skipped.places[0]?.reason ?? "", /"partitions\[0\]\.high" must be/);
  assert.match(stderr, /"partitions\[0\]\.high" must be .*"abc"/);
  // The good sample stands: its end offset, and nothing waits (committed at it)
  const queue = (doc["queues"] as { depth: number; partitions: { high: string }[] }[])[0];
  assert.equal(queue?.partitions[0]?.high, "10");
  assert.equal(queue?.depth, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("agents named like Object.prototype members keep exact counts", async () => {
  const names = ["constructor", "toString", "__proto__", "hasOwnProperty", "toString"];
  const folded = names.slice(0, 3).map((a, i) => errorRecord(i + 1, i + 1, a));
  const after = names.slice(3).map((a, i) => errorRecord(i + 4, i + 30, a));
  // The counts a snapshot holds, written out (JSON.parse makes "__proto__" a key like any other)
  const counts = JSON.parse(`{"constructor":1,"toString":1,"__proto__":1}`);
  const state = {
    ...stateAfter(folded),
    error_counts: { by_severity: { error: 3 }, by_category: { agent: 3 }, by_agent: counts },
  };
  const dir = await dataDir({
    diff: [...folded, ...after].map(jsonl).join(""),
    state: jsonl(snapshot(1, 10, 3, state)),
  });
  const expected = JSON.parse(`{"constructor":1,"toString":2,"__proto__":1,"hasOwnProperty":1}`);
  for (const state of [true, false]) {
    const d = state ? dir : await dataDir({ diff: [...folded, ...after].map(jsonl).join("") });
    const { doc } = await json(["state"], d);
    assert.equal(doc.skipped_lines, 0, "the snapshot is valid");
    const byAgent = (doc["state"] as { error_counts: { by_agent: Record<string, unknown> } })
      .error_counts.by_agent;
    assert.deepEqual(
      Object.entries(byAgent).sort(),
      Object.entries(expected).sort(),
      state ? "from the snapshot" : "from no snapshot",
    );
    if (!state) await Deno.remove(d, { recursive: true });
  }
  await Deno.remove(dir, { recursive: true });
});
