import assert from "node:assert/strict";
import { completed, facts, stuck, task } from "../testdata/facts.ts";
import { handoffRules } from "./handoffs.ts";

const O = "oracle";

Deno.test("a stuck task with no reply recorded was never answered", () => {
  const t = task("c1", "writer");
  const [finding, ...rest] = handoffRules(facts({ stuck: [stuck(t, 5)] }), O);
  assert.equal(rest.length, 0);
  assert.equal(finding?.kind, "stuck_handoff");
  assert.equal(finding?.agent, "writer");
  assert.deepEqual(finding?.conversations, ["c1"]);
});

Deno.test("a stuck task answered later is a slow agent, not a stuck handoff", () => {
  const t = task("c1", "writer");
  const f = facts({
    stuck: [stuck(t, 5)],
    replies: new Map([[t.task_message_id, completed(t, 7, 6_000)]]),
  });
  const kinds = handoffRules(f, O).map((x) => `${x.kind}:${x.severity}`);
  assert.deepEqual(kinds, ["slow_agent:warning"]);
});

Deno.test("tasks bouncing between two agents are a loop", () => {
  const loop = {
    schema_version: 1,
    seq: 9,
    ts: "2026-11-29T10:00:05.000Z",
    type: "handoff_loop" as const,
    conversation_id: "c1",
    agents: ["researcher", "writer"],
    tasks: 4,
    message_seq: 8,
  };
  assert.equal(handoffRules(facts({ loops: [loop] }), O)[0]?.kind, "handoff_loop");
  assert.deepEqual(handoffRules(facts(), O), []);
});

Deno.test("failed user requests are one finding with their conversations, on the entry agent", () => {
  const at = (s: number) => `2026-11-29T10:00:0${s}.000Z`;
  const f = facts({
    requestsFailed: new Map([
      ["c1", { at: at(5), seq: 3, reason: "handler_error: x", task_id: "c1", to: "frontdesk" }],
      ["c2", { at: at(6), seq: 4, reason: "never answered", task_id: "c2", to: "frontdesk" }],
    ]),
  });
  const [finding] = handoffRules(f, O);
  assert.equal(finding?.kind, "requests_failed");
  assert.equal(finding?.impact.requests_failed, 2);
  assert.deepEqual(finding?.conversations, ["c1", "c2"]);
  assert.equal(finding?.agent, "frontdesk", "the agent the user's requests went to");
  assert.ok(finding?.next_commands.includes("oracle errors -a frontdesk"));
  assert.ok(!finding?.next_commands.some((c) => c.includes("orchestrator")));
});

Deno.test("tasks never answered are counted as tasks, not attempts", () => {
  const first = task("c1", "writer");
  const retry = { ...first, task_message_id: `${first.task_message_id}-2`, attempt: 2 };
  const [finding] = handoffRules(facts({ stuck: [stuck(first, 5), stuck(retry, 10)] }), O);
  assert.equal(finding?.kind, "stuck_handoff");
  assert.match(finding?.summary ?? "", /^1 tasks? to writer never answered \(2 attempts\)/);
  assert.equal(finding?.short, "1 task to writer never answered");
});
