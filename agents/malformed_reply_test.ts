import assert from "node:assert/strict";
import { malformedTaskReply } from "./malformed_reply.ts";

Deno.test("a malformed TASK whose sender can be read is answered with invalid_message", () => {
  const reply = malformedTaskReply(
    { type: "TASK", source: "orchestrator", message_id: "m-1", task_id: "t-1", attempt: "x" },
    'attempt: expected a whole number, got "x"',
    "researcher",
  );
  assert.ok(reply !== undefined);
  assert.equal(reply.type, "ERROR");
  assert.equal(reply.source, "researcher");
  assert.equal(reply.target, "orchestrator");
  assert.equal(reply.in_reply_to, "m-1");
  assert.equal(reply.task_id, "t-1");
  assert.equal(reply.conversation_id, "unknown", "a field that cannot be read says so");
  assert.deepEqual(reply.error, {
    kind: "invalid_message",
    message: 'attempt: expected a whole number, got "x"',
    retryable: false,
  });
});

Deno.test("a malformed record that is no TASK, or names no sender, is not answered", () => {
  const reason = "bad";
  for (
    const json of [
      undefined,
      "TASK",
      ["TASK"],
      { type: "RESULT", source: "orchestrator", message_id: "m-1" },
      { type: "TASK", message_id: "m-1" },
      { type: "TASK", source: "Not An Agent", message_id: "m-1" },
      { type: "TASK", source: "orchestrator", message_id: 7 },
    ]
  ) {
    assert.equal(malformedTaskReply(json, reason, "researcher"), undefined, JSON.stringify(json));
  }
});
