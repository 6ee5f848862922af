import assert from "node:assert/strict";
import { createEnvelope, encodeEnvelope, parseEnvelope, replyTo } from "./envelope.ts";

const task = createEnvelope({
  type: "TASK",
  source: "orchestrator",
  target: "researcher",
  conversation_id: "conv-1",
  task_id: "conv-1.1-researcher",
  payload: { instruction: "look it up" },
  deadline: new Date("2030-01-01T00:00:00Z"),
});

function reasonOf(input: Uint8Array | string | null): string {
  const r = parseEnvelope(input);
  assert.equal(r.ok, false, `expected a rejection of ${String(input)}`);
  return r.ok ? "" : r.reason;
}

Deno.test("validator accepts every envelope the agents send", () => {
  const result = replyTo(task, "RESULT", {
    payload: { output: "found" },
    usage: { model: "m", input_tokens: 3, output_tokens: 4, cost_usd: 0.1, latency_ms: 12 },
  });
  const error = replyTo(task, "ERROR", {
    error: { kind: "llm_rate_limit", message: "429", retryable: true },
  });
  const cancel = replyTo(task, "CANCEL", {});
  for (const env of [task, result, error, cancel]) {
    const parsed = parseEnvelope(new TextEncoder().encode(encodeEnvelope(env)));
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.reason);
    assert.deepEqual(parsed.envelope, env);
  }
  assert.equal(result.in_reply_to, task.message_id);
  assert.equal(result.target, "orchestrator");
});

Deno.test("validator rejects each kind of bad input with its reason", () => {
  const good = JSON.parse(encodeEnvelope(task));
  const variant = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch });
  assert.equal(reasonOf(null), "record has no value (tombstone)");
  assert.equal(reasonOf(""), "record value is empty");
  assert.match(reasonOf("{not json"), /^record value is not JSON: /);
  assert.equal(reasonOf(new Uint8Array([0xff, 0xfe, 0x00])), "record value is not valid UTF-8");
  assert.equal(reasonOf("[1,2]"), "envelope must be a JSON object, got an array");
  assert.match(reasonOf("x".repeat(2 * 1024 * 1024)), /over the 1048576-byte limit/);
  assert.equal(
    reasonOf(variant({ type: "SHOUT" })),
    `"type" must be one of TASK, RESULT, ERROR, HEARTBEAT, CANCEL, got "SHOUT"`,
  );
  assert.equal(
    reasonOf(variant({ target: "Not An Agent" })),
    `"target" must be an agent name (lower-case, [a-z0-9_-]), got "Not An Agent"`,
  );
  assert.equal(
    reasonOf(variant({ message_id: 7 })),
    `"message_id" must be a non-empty string, got number 7`,
  );
  assert.equal(
    reasonOf(variant({ attempt: 0 })),
    `"attempt" must be an integer >= 1, got number 0`,
  );
  assert.equal(
    reasonOf(variant({ created_at: "yesterday" })),
    `"created_at" must be an ISO 8601 time with a zone, got "yesterday"`,
  );
  assert.equal(reasonOf(variant({ payload: "text" })), `"payload" must be an object, got "text"`);
  assert.equal(reasonOf(variant({ type: "RESULT" })), `"in_reply_to" is required on RESULT`);
  assert.equal(
    reasonOf(variant({ schema_version: 99 })),
    `"schema_version" 99 is newer than this reader's 1`,
  );
  assert.equal(
    reasonOf(
      variant({
        type: "ERROR",
        in_reply_to: "m",
        error: { kind: "boom", message: "x", retryable: true },
      }),
    ),
    `error."kind" must be one of llm_rate_limit, llm_error, tool_error, handler_error, deadline_exceeded, timeout, invalid_message, unknown_agent, cancelled, internal, got "boom"`,
  );
});
