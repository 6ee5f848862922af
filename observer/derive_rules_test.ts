import assert from "node:assert/strict";
import { createEnvelope, replyTo } from "@mat/agents";
import { ObserverState } from "./observer_state.ts";
import { bed, GRACE, OPTIONS, task, types } from "./testdata/recorder_bed.ts";

Deno.test("a reply seen before its TASK is held, then completes the handoff when the TASK comes", async () => {
  const b = await bed();
  try {
    const t = task("t1");
    const result = replyTo(t, "RESULT", { payload: { answer: 42 } });
    b.see(result);
    b.advance(GRACE - 1_000);
    b.recorder.checkStuck();
    b.see(t);
    b.advance(GRACE * 10);
    b.recorder.checkStuck();
    const records = await b.records();
    assert.deepEqual(types(records), ["reply_held", "handoff_started", "handoff_completed"]);
    const completed = records.find((r) => r.type === "handoff_completed");
    assert.equal(completed?.type, "handoff_completed");
    if (completed?.type === "handoff_completed") {
      assert.equal(completed.task_message_id, t.message_id);
      assert.equal(completed.reply_message_id, result.message_id);
      assert.equal(completed.from, "orchestrator");
      assert.equal(completed.to, "researcher");
    }
    assert.equal(b.state.heldReplies.size, 0);
    assert.equal(b.state.handoffs.size, 0);
    assert.equal(b.state.agents.get("researcher")?.tasks_completed, 1);
    assert.equal(b.state.agents.get("researcher")?.in_flight, 0);
    assert.equal(b.state.errors.size, 0, "no orphan error was folded");
  } finally {
    await b.close();
  }
});

Deno.test("an early ERROR reply yields a failed handoff with its error once the TASK comes", async () => {
  const b = await bed();
  try {
    const t = task("t1");
    b.see(replyTo(t, "ERROR", {
      error: { kind: "tool_error", message: "tool broke", retryable: true },
    }));
    b.see(t);
    const failed = (await b.records()).filter((r) => r.type === "handoff_failed");
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.type === "handoff_failed" && failed[0].error_kind, "tool_error");
    assert.equal(failed[0]?.type === "handoff_failed" && failed[0].retryable, true);
  } finally {
    await b.close();
  }
});

Deno.test("a reply whose TASK never comes is orphaned only after the grace period", async () => {
  const b = await bed();
  try {
    const t = task("t1");
    const result = replyTo(t, "RESULT", {});
    b.see(result, replyTo(t, "RESULT", {})); // a second reply to the same task is not held twice
    b.advance(GRACE - 1);
    b.recorder.checkStuck();
    assert.deepEqual(types(await b.records()), ["reply_held"]);
    b.advance(1);
    b.recorder.checkStuck();
    b.recorder.checkStuck();
    const records = await b.records();
    assert.deepEqual(types(records), ["reply_held", "reply_orphaned", "error"]);
    const orphan = records.find((r) => r.type === "reply_orphaned");
    assert.equal(orphan?.type === "reply_orphaned" && orphan.message_id, result.message_id);
    assert.equal(orphan?.type === "reply_orphaned" && orphan.in_reply_to, t.message_id);
    assert.equal(b.state.heldReplies.size, 0);
    // The TASK arriving after the orphan report opens a handoff like any other.
    b.see(t);
    assert.deepEqual(types(await b.records()).slice(3), ["handoff_started"]);
  } finally {
    await b.close();
  }
});

Deno.test("with ORPHAN_GRACE_MS 0 a reply to an unseen TASK is orphaned at once", async () => {
  const b = await bed(new ObserverState({ ...OPTIONS, orphanGraceMs: 0 }));
  try {
    b.see(replyTo(task("t1"), "RESULT", {}));
    assert.deepEqual(types(await b.records()), ["reply_orphaned", "error"]);
  } finally {
    await b.close();
  }
});

Deno.test("retries and in-flight counts follow open handoffs", async () => {
  const b = await bed();
  try {
    const first = task("t1");
    const retry = createEnvelope({
      type: "TASK",
      source: "orchestrator",
      target: "researcher",
      conversation_id: "c-t1",
      task_id: "t1",
      attempt: 2,
    });
    b.see(first, task("t2"));
    assert.equal(b.state.agents.get("researcher")?.in_flight, 2);
    b.see(retry);
    const retried = (await b.records()).find((r) => r.type === "handoff_retried");
    assert.equal(
      retried?.type === "handoff_retried" && retried.previous_message_id,
      first.message_id,
    );
    assert.equal(b.state.agents.get("researcher")?.in_flight, 2);
    b.see(replyTo(retry, "RESULT", {}));
    assert.equal(b.state.agents.get("researcher")?.in_flight, 1);
  } finally {
    await b.close();
  }
});

Deno.test("a late reply to an attempt a retry superseded still completes it, once", async () => {
  const b = await bed();
  try {
    const first = task("t1");
    const retry = createEnvelope({
      type: "TASK",
      source: "orchestrator",
      target: "researcher",
      conversation_id: first.conversation_id,
      task_id: first.task_id,
      attempt: 2,
    });
    b.see(first);
    b.advance(5_000);
    b.see(retry);
    b.advance(1_000);
    const late = replyTo(first, "RESULT", { payload: { answer: 1 } });
    b.see(late, late);
    const records = await b.records();
    assert.deepEqual(types(records), [
      "handoff_started",
      "handoff_retried",
      "handoff_completed",
      "message_duplicated",
      "error",
    ]);
    const done = records.find((r) => r.type === "handoff_completed");
    assert.equal(done?.type === "handoff_completed" && done.task_message_id, first.message_id);
    assert.equal(b.state.superseded.size, 0, "completing it releases it");
    assert.equal(b.state.handoffs.size, 1, "the retry is still open");
    const data = b.state.toData();
    assert.deepEqual(data.superseded_handoffs, []);
  } finally {
    await b.close();
  }
});

Deno.test("a failed handoff records when its task was made and the deadline it carried", async () => {
  const b = await bed();
  try {
    const made = new Date(Date.now() - 5_000).toISOString();
    const deadline = new Date(Date.now() - 7_000).toISOString();
    const t = { ...task("t1"), created_at: made, deadline };
    b.see(t);
    b.see(replyTo(t, "ERROR", {
      error: {
        kind: "deadline_exceeded",
        message: "deadline passed before start",
        retryable: true,
      },
    }));
    // And a reply seen before its TASK: the same, once the TASK comes
    const early = { ...task("t2"), created_at: made, deadline };
    b.see(replyTo(early, "ERROR", {
      error: {
        kind: "deadline_exceeded",
        message: "deadline passed before start",
        retryable: true,
      },
    }));
    b.see(early);
    const failed = (await b.records()).flatMap((r) => r.type === "handoff_failed" ? [r] : []);
    assert.equal(failed.length, 2);
    for (const f of failed) {
      assert.equal(f.task_created_at, made);
      assert.equal(f.deadline, deadline, "the deadline was past before the task was made");
    }
  } finally {
    await b.close();
  }
});
