import assert from "node:assert/strict";
import type { DiffRecord } from "@mat/observer";
import { completed, error, retried, stuck, T0, task } from "./testdata/facts.ts";
import { dataDir, jsonl } from "./testdata/history.ts";
import { TimeMachine } from "./time_machine.ts";
import { gatherFacts } from "./window_facts.ts";

/** A window holding late replies, retried tasks and replies nobody asks about */
function history(): { records: DiffRecord[]; late: string; first: string; failedLate: string } {
  const a = task("conv-a", "writer");
  const b = task("conv-b", "coder");
  const c = task("conv-c", "researcher");
  const d = task("conv-d", "writer");
  const bFirst = completed(b, 2);
  const failedLate = {
    ...completed(d, 9),
    type: "handoff_failed" as const,
    error_kind: "tool_failed",
    error_message: "the tool failed",
    retryable: false,
  };
  const records: DiffRecord[] = [
    bFirst, // answers the first attempt of b, retried at 6
    completed(c, 3), // c is neither stuck nor retried
    stuck(a, 5),
    stuck(d, 5),
    retried(b, 6),
    completed(a, 8), // a late reply to a stuck task
    failedLate, // d's late reply is an ERROR
  ];
  return {
    records,
    late: a.task_message_id,
    first: b.task_message_id,
    failedLate: d.task_message_id,
  };
}

Deno.test("the replies worth a look are found in the same read as the window", async (t) => {
  const { records, late, first, failedLate } = history();
  // The second history has a record with a non-ASCII character before the replies.
  const variants = {
    ascii: records,
    "non-ASCII": [error("coder", 1, "tool_failed", { message: "d\u00e9j\u00e0 vu" }), ...records]
      .sort((x, y) => x.seq - y.seq),
  };
  for (const [name, recs] of Object.entries(variants)) {
    await t.step(name, async () => {
      const dir = await dataDir({ diff: recs.map(jsonl).join("") });
      const tm = await TimeMachine.open(dir);
      const facts = await gatherFacts(tm, T0, T0 + 60_000);
      assert.deepEqual([...facts.replies.keys()].sort(), [first, late, failedLate].sort());
      assert.equal(facts.replies.get(late)?.type, "handoff_completed");
      assert.equal(facts.replies.get(failedLate)?.type, "handoff_failed");
      assert.equal(facts.failed.length, 1);
      assert.equal(tm.report.total, 0);
      await Deno.remove(dir, { recursive: true });
    });
  }
});

Deno.test("a window with no stuck task closed since and none retried has no replies", async () => {
  const x = task("conv-x", "coder");
  const dir = await dataDir({ diff: [completed(x, 2)].map(jsonl).join("") });
  const tm = await TimeMachine.open(dir);
  const facts = await gatherFacts(tm, T0, T0 + 60_000);
  assert.equal(facts.replies.size, 0);
  await Deno.remove(dir, { recursive: true });
});
