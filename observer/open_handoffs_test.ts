import assert from "node:assert/strict";
import { type HandoffData, OpenHandoffs } from "./open_handoffs.ts";

function handoff(id: string, to = "coder", taskId = `task-${id}`): HandoffData {
  return {
    task_message_id: id,
    task_id: taskId,
    conversation_id: "c",
    from: "orchestrator",
    to,
    attempt: 1,
    created_at: "2026-01-01T00:00:00.000Z",
    observed_at: "2026-01-01T00:00:00.000Z",
    started_seq: 1,
    stuck: false,
  };
}

Deno.test("open handoffs are counted per agent and the oldest attempt of a task is found", () => {
  const open = new OpenHandoffs(100);
  open.open(handoff("a1", "coder", "t"));
  open.open(handoff("a2", "coder", "t"));
  open.open(handoff("b", "writer"));
  assert.equal(open.inFlight("coder"), 2);
  assert.equal(open.oldestAttempt("t", "coder")?.task_message_id, "a1");
  assert.equal(open.close("a1", "coder"), true);
  assert.equal(open.oldestAttempt("t", "coder")?.task_message_id, "a2");
  assert.equal(open.close("a1", "coder"), false, "closed already");
  assert.deepEqual(open.countsByAgent(), { coder: 1, writer: 1 });
});

Deno.test("past the cap and an eighth the oldest handoffs are dropped down to the cap", () => {
  const open = new OpenHandoffs(8);
  let dropped = 0;
  for (let i = 0; i < 10; i++) dropped += open.open(handoff(`h${i}`));
  assert.equal(dropped, 2);
  assert.equal(open.size, 8);
  assert.ok(!open.has("h0") && !open.has("h1") && open.has("h2"));
  assert.equal(open.inFlight("coder"), 8);
});

Deno.test("handoffs a snapshot left out are counted until replies to unknown handoffs come", () => {
  const open = new OpenHandoffs(100);
  open.open(handoff("known"));
  open.restoreOmitted({ coder: 3 });
  assert.equal(open.inFlight("coder"), 3);
  assert.equal(open.close("unknown-1", "coder"), false);
  assert.equal(open.inFlight("coder"), 2);
  open.close("unknown-2", "coder");
  open.close("unknown-3", "coder");
  assert.equal(open.inFlight("coder"), 1, "never below the handoffs known");
  assert.deepEqual(open.countsByAgent(), { coder: 1 });
});
