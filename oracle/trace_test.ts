import assert from "node:assert/strict";
import type { DiffRecord } from "@mat/observer";
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
    `Stopped at orchestrator -> coder (task "conv-trace.1-coder", attempt 1): failed (tool_failed: the tool failed); that failure reached the requester: request "conv-trace.0-orchestrator" (user -> orchestrator, attempt 1) never answered`,
  );
  assert.deepEqual(doc["blame_chain"], ["conv-trace.0-orchestrator", "conv-trace.1-coder"]);
  const task = await trace("conv-trace.1-coder", dir);
  assert.equal(task["events"], 2, "a task id finds its own records only");
  const none = await trace("conv-missing", dir);
  assert.equal(none["verdict"], `No record mentions "conv-missing"`);
  assert.deepEqual(none["hops"], []);
  await Deno.remove(dir, { recursive: true });
});

const REQUEST = "conv-b.0-orchestrator";

/** A hop of conversation conv-b: the request's sub-task `step`, or the request itself */
function hop(step: string | null, attempt = 1) {
  return {
    task_message_id: `${step ?? "request"}-${attempt}`,
    task_id: step === null ? REQUEST : `${REQUEST}.${step}`,
    conversation_id: "conv-b",
    from: step === null ? "user" : "orchestrator",
    to: step === null ? "orchestrator" : step.replace(/^\d+-/, ""),
    attempt,
  };
}

const head = (seq: number) => ({ schema_version: 1, seq, ts: at(seq) });

function started(seq: number, h: ReturnType<typeof hop>): DiffRecord {
  return h.attempt === 1
    ? { ...head(seq), type: "handoff_started", ...h, created_at: at(seq), message_seq: seq }
    : {
      ...head(seq),
      type: "handoff_retried",
      ...h,
      previous_message_id: h.task_message_id.replace(/\d+$/, String(h.attempt - 1)),
      message_seq: seq,
    };
}

function answered(seq: number, h: ReturnType<typeof hop>, error?: string): DiffRecord {
  const reply = { reply_message_id: `reply-${seq}`, latency_ms: 50, message_seq: seq };
  return error === undefined ? { ...head(seq), type: "handoff_completed", ...h, ...reply } : {
    ...head(seq),
    type: "handoff_failed",
    ...h,
    ...reply,
    error_kind: error.split(": ")[0] ?? error,
    error_message: error.split(": ")[1] ?? error,
    retryable: error.startsWith("llm_"),
  };
}

Deno.test("trace blames the hop whose failure reached the user, not the first that failed", async () => {
  // The researcher's first attempt is rate-limited and its retry works; then the writer fails for
  // good, and the orchestrator answers the user with that failure.
  const dir = await dataDir({
    diff: [
      started(1, hop(null)),
      started(2, hop("1-researcher")),
      answered(3, hop("1-researcher"), "llm_rate_limit: HTTP 429"),
      started(4, hop("1-researcher", 2)),
      answered(5, hop("1-researcher", 2)),
      started(6, hop("2-writer")),
      answered(7, hop("2-writer"), "tool_failed: boom"),
      answered(8, hop(null), `handler_error: step "${REQUEST}.2-writer" failed`),
    ].map(jsonl).join(""),
  });
  const doc = await trace("conv-b", dir);
  assert.deepEqual(doc["blamed"], {
    task_id: `${REQUEST}.2-writer`,
    from: "orchestrator",
    to: "writer",
    attempt: 1,
    outcome: "failed",
    error: "tool_failed: boom",
  });
  assert.deepEqual(doc["blame_chain"], [REQUEST, `${REQUEST}.2-writer`]);
  assert.equal(
    doc["verdict"],
    `Stopped at orchestrator -> writer (task "${REQUEST}.2-writer", attempt 1): failed (tool_failed: boom); that failure reached the requester: request "${REQUEST}" (user -> orchestrator, attempt 1) failed (handler_error: step "${REQUEST}.2-writer" failed)`,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("trace blames nothing in a request that completed after a failed attempt", async () => {
  const dir = await dataDir({
    diff: [
      started(1, hop(null)),
      started(2, hop("1-researcher")),
      answered(3, hop("1-researcher"), "llm_rate_limit: HTTP 429"),
      started(4, hop("1-researcher", 2)),
      answered(5, hop("1-researcher", 2)),
      answered(6, hop(null)),
    ].map(jsonl).join(""),
  });
  const doc = await trace("conv-b", dir);
  assert.equal(doc["blamed"], null);
  assert.equal(
    doc["verdict"],
    `Completed: request "${REQUEST}" (user -> orchestrator, attempt 1) answered`,
  );
  await Deno.remove(dir, { recursive: true });
});
