import assert from "node:assert/strict";
import { error, facts, stuck, task } from "../testdata/facts.ts";
import { errorRules } from "./errors.ts";

const O = "oracle";

Deno.test("rate limits are named for their agent; kinds read by other rules are not", () => {
  const limited = facts({
    errors: [1, 2, 3].map((s) => error("coder", s, "llm_rate_limit", { conversation_id: `c${s}` })),
  });
  const [finding] = errorRules(limited, O);
  assert.equal(finding?.kind, "llm_rate_limited");
  assert.equal(finding?.severity, "error");
  assert.deepEqual(finding?.conversations, ["c1", "c2", "c3"]);
  const elsewhere = facts({
    errors: [1, 2, 3].map((s) => error("writer", s, "stuck_deadline_passed")),
  });
  assert.deepEqual(errorRules(elsewhere, O), []);
});

Deno.test("three errors of one kind make a spike; two do not", () => {
  const three = facts({ errors: [1, 2, 3].map((s) => error("writer", s, "tool_error")) });
  assert.equal(errorRules(three, O)[0]?.kind, "error_spike");
  const two = facts({ errors: [1, 2].map((s) => error("writer", s, "tool_error")) });
  assert.deepEqual(errorRules(two, O), []);
});

Deno.test("one malformed record is worth a finding, attributed to its sender", () => {
  const f = facts({ errors: [error("researcher", 1, "malformed_record")] });
  const [finding] = errorRules(f, O);
  assert.equal(finding?.kind, "malformed_messages");
  assert.equal(finding?.agent, "researcher");
});

Deno.test("the ERROR answering a user request is the request's failure, not a spike", () => {
  const f = facts({
    errors: [1, 2, 3].map((s) =>
      error("orchestrator", s, "handler_error", { conversation_id: `c${s}`, task_id: `c${s}` })
    ),
    requestsFailed: new Map(
      [1, 2, 3].map((
        s,
      ) => [`c${s}`, { at: "x", seq: s, reason: "r", task_id: `c${s}`, to: "orchestrator" }]),
    ),
    // Each passes on a task of its conversation that went stuck further down
    stuck: [1, 2, 3].map((s) => stuck(task(`c${s}`, "coder"), s)),
  });
  assert.deepEqual(errorRules(f, O), []);
});

Deno.test("the ERROR of an agent the user asked directly, passing nothing on, is its own", () => {
  const f = facts({
    errors: [1, 2, 3].map((s) =>
      error("worker-04", s, "llm_rate_limit", { conversation_id: `c${s}`, task_id: `c${s}` })
    ),
    requestsFailed: new Map(
      [1, 2, 3].map((
        s,
      ) => [`c${s}`, { at: "x", seq: s, reason: "r", task_id: `c${s}`, to: "worker-04" }]),
    ),
  });
  const [finding] = errorRules(f, O);
  assert.equal(finding?.kind, "llm_rate_limited");
  assert.equal(finding?.agent, "worker-04");
});

Deno.test("a task to an agent with no queue cannot be routed", () => {
  const f = facts({ errors: [error("orchestrator", 1, "unknown_agent")] });
  assert.equal(errorRules(f, O)[0]?.kind, "unroutable_task");
});

Deno.test("an agent answering deadline_exceeded is slow, even once", () => {
  const f = facts({ errors: [error("writer", 1, "deadline_exceeded")] });
  const [finding] = errorRules(f, O);
  assert.equal(finding?.kind, "slow_agent");
  assert.equal(finding?.severity, "warning");
});

Deno.test("a kind this oracle does not know is data: it makes a spike when it repeats", () => {
  const twice = facts({ errors: [1, 2].map((s) => error("coder", s, "quota_exceeded")) });
  assert.deepEqual(errorRules(twice, O), []);
  const thrice = facts({ errors: [1, 2, 3].map((s) => error("coder", s, "quota_exceeded")) });
  const [finding] = errorRules(thrice, O);
  assert.equal(finding?.kind, "error_spike");
  assert.match(finding?.short ?? "", /\(quota_exceeded\)/);
});

Deno.test("Kubernetes warning events are left to the process rules", () => {
  const f = facts({ errors: [1, 2, 3].map((s) => error("coder", s, "k8s_backoff")) });
  assert.deepEqual(errorRules(f, O), []);
});

Deno.test("a spike names the conversations of coalesced occurrences, not only each line's last", () => {
  const f = facts({
    errors: [
      error("writer", 1, "tool_error", { conversation_id: "c1" }),
      error("writer", 2, "tool_error", {
        conversation_id: "c4",
        occurrences: 3,
        conversation_ids: ["c2", "c3", "c4"],
      }),
    ],
  });
  const [finding] = errorRules(f, O);
  assert.equal(finding?.kind, "error_spike");
  assert.deepEqual(finding?.conversations, ["c1", "c4", "c2", "c3"]);
});
