import assert from "node:assert/strict";
import { ObserverState } from "./observer_state.ts";
import type { HandoffCompletedRecord, HandoffStartedRecord } from "./record_format.ts";
import { NORMAL_SAMPLES, normalLimitMs, stuckHandoffs } from "./stuck_rules.ts";
import { OPTIONS } from "./testdata/recorder_bed.ts";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();

function started(seq: number, id: string, deadlineMs?: number): HandoffStartedRecord {
  return {
    schema_version: 1,
    seq,
    ts: at(0),
    type: "handoff_started",
    task_message_id: id,
    task_id: `task-${id}`,
    conversation_id: "c",
    from: "orchestrator",
    to: "coder",
    attempt: 1,
    created_at: at(0),
    ...(deadlineMs === undefined ? {} : { deadline: at(deadlineMs) }),
    message_seq: seq,
  };
}

function completed(seq: number, id: string, latencyMs: number): HandoffCompletedRecord {
  return {
    schema_version: 1,
    seq,
    ts: at(0),
    type: "handoff_completed",
    task_message_id: id,
    task_id: `task-${id}`,
    conversation_id: "c",
    from: "orchestrator",
    to: "coder",
    attempt: 1,
    reply_message_id: `r-${id}`,
    latency_ms: latencyMs,
    message_seq: seq,
  };
}

Deno.test("a handoff past its deadline is stuck for that reason, one without past STUCK_AFTER_MS", () => {
  const state = new ObserverState(OPTIONS);
  state.apply(started(1, "due", 10_000));
  state.apply(started(2, "open"));
  assert.deepEqual(stuckHandoffs(state, new Date(T0 + 10_000)), []);
  const early = stuckHandoffs(state, new Date(T0 + 10_001));
  assert.deepEqual(early.map((s) => [s.task_message_id, s.reason, s.limit_ms]), [
    ["due", "deadline_passed", 10_000],
  ]);
  const late = stuckHandoffs(state, new Date(T0 + OPTIONS.stuckAfterMs + 1));
  assert.deepEqual(late.map((s) => [s.task_message_id, s.reason]), [
    ["due", "deadline_passed"],
    ["open", "slower_than_normal"],
  ]);
  // Applied, a stuck record is reported once
  for (const [i, s] of late.entries()) {
    state.apply({ schema_version: 1, seq: 10 + i, ts: at(OPTIONS.stuckAfterMs), ...s });
  }
  assert.deepEqual(stuckHandoffs(state, new Date(T0 + 10 * OPTIONS.stuckAfterMs)), []);
  assert.equal(state.agents.get("coder")?.tasks_stuck, 2);
});

Deno.test("what is normal for an agent is 5x its p95 latency once it has enough samples", () => {
  const state = new ObserverState(OPTIONS);
  const slow = OPTIONS.stuckAfterMs; // 5x this is past STUCK_AFTER_MS
  for (let i = 0; i < NORMAL_SAMPLES - 1; i++) {
    state.apply(started(2 * i + 1, `t${i}`));
    state.apply(completed(2 * i + 2, `t${i}`, slow));
  }
  assert.equal(normalLimitMs(state, "coder"), OPTIONS.stuckAfterMs, "too few samples");
  state.apply(started(100, "last"));
  state.apply(completed(101, "last", slow));
  assert.equal(normalLimitMs(state, "coder"), 5 * slow);
  assert.equal(normalLimitMs(state, "writer"), OPTIONS.stuckAfterMs, "an agent never seen");
});
