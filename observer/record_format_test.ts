import assert from "node:assert/strict";
import {
  DIFF_RECORD_TYPES,
  DIFF_RECORDS,
  isDiffRecordType,
  validateDiffRecord,
} from "./record_format.ts";

const queueSample = {
  schema_version: 1,
  seq: 7,
  ts: "2026-01-01T00:00:00.000Z",
  type: "queue_sample",
  agent: "coder",
  topic: "agent-queue-coder",
  group: "agent-coder",
  group_state: "Stable",
  members: [],
  partitions: [{ partition: 0, high: "3", committed: "3", lag: 0 }],
  lag: 0,
  status: "OK",
  status_reason: "no lag",
};

Deno.test("a diff line is narrowed by the validator its type names in the table", () => {
  const parsed = validateDiffRecord({ ...queueSample, extra: "dropped" });
  assert.ok(parsed.ok);
  assert.equal(parsed.record.type, "queue_sample");
  assert.equal("extra" in parsed.record, false, "fields the shape does not name are dropped");
  assert.deepEqual(validateDiffRecord({ ...queueSample, lag: -1 }), {
    ok: false,
    reason: `"lag" must be an integer >= 0, got number -1`,
  });
  assert.deepEqual(validateDiffRecord({ ...queueSample, schema_version: 2 }), {
    ok: false,
    reason: `"schema_version" must be 1, got 2`,
  });
});

Deno.test("a line whose type is not in the table is refused with the type quoted", () => {
  for (const type of ["snapshot", "constructor", 3, undefined]) {
    assert.deepEqual(validateDiffRecord({ ...queueSample, type }), {
      ok: false,
      reason: `"type" must be a diff record type, got ${JSON.stringify(type)}`,
    });
  }
});

Deno.test("the table names each record type once, with when it is written", () => {
  assert.deepEqual(DIFF_RECORD_TYPES, Object.keys(DIFF_RECORDS));
  for (const type of DIFF_RECORD_TYPES) {
    assert.ok(isDiffRecordType(type));
    assert.ok(DIFF_RECORDS[type].when.length > 10, `${type} says when it is written`);
  }
  assert.deepEqual(DIFF_RECORD_TYPES.filter((t) => DIFF_RECORDS[t].legacy), [
    "handoff_started",
    "task_unconsumed",
  ]);
});
