import assert from "node:assert/strict";
import { at, dataDir, handoffFailed, handoffStarted, jsonl, message } from "./testdata/history.ts";
import { oracle } from "./testing.ts";

async function trace(id: string, dir: string): Promise<Record<string, unknown>> {
  const r = await oracle(["trace", id, "-f", "json", "--data-dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  return JSON.parse(r.stdout);
}

Deno.test("trace names the hop where a conversation stopped, and why", async () => {
  const dir = await dataDir({
    diff: [
      // A TASK's message that opens its handoff, answered in time
      message(1, 1, {
        conversation_id: "conv-trace",
        task_id: "conv-trace.0-orchestrator",
        message_id: "task-msg-0",
        msg_type: "TASK",
        source: "user",
        target: "orchestrator",
        handoff: "started",
      }),
      message(2, 2, { conversation_id: "conv-other", task_id: "conv-other.1-coder" }),
      handoffStarted(3, 3),
      handoffFailed(4, 4, "the tool failed"),
    ].map(jsonl).join(""),
  });
  const doc = await trace("conv-trace", dir);
  assert.equal(doc["conversation_id"], "conv-trace");
  assert.equal(doc["events"], 3);
  assert.equal(doc["as_of"], at(4));
  assert.deepEqual(doc["hops"], [
    {
      task_id: "conv-trace.0-orchestrator",
      from: "user",
      to: "orchestrator",
      attempt: 1,
      started_at: at(1),
      started_seq: 1,
      outcome: "open",
      latency_ms: null,
      error: null,
    },
    {
      task_id: "conv-trace.1-coder",
      from: "orchestrator",
      to: "coder",
      attempt: 1,
      started_at: at(3),
      started_seq: 3,
      outcome: "failed",
      latency_ms: 120,
      error: "tool_failed: the tool failed",
    },
  ]);
  assert.equal(
    doc["verdict"],
    `Stopped at orchestrator -> coder (task "conv-trace.1-coder", attempt 1): failed (tool_failed: the tool failed)`,
  );
  const task = await trace("conv-trace.1-coder", dir);
  assert.equal(task["events"], 2, "a task id finds its own records only");
  const none = await trace("conv-missing", dir);
  assert.equal(none["verdict"], `No record mentions "conv-missing"`);
  assert.deepEqual(none["hops"], []);
  await Deno.remove(dir, { recursive: true });
});
