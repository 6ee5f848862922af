/**
 * Records made by other ecosystems' SDKs (agents/protocol/testdata, written by the A2A Python SDK
 * and the CloudEvents SDK's Kafka binding) folded by the real recorder: the handoffs they open and
 * close, a task that waits on a person, and where each fact came from.
 */

import assert from "node:assert/strict";
import { isRecord } from "@mat/agents/support";
import type { KafkaRecord } from "./kafka_adapter.ts";
import { ObserverState } from "./observer_state.ts";
import { bed, OPTIONS } from "./testdata/recorder_bed.ts";

const FIXTURES = new URL("../agents/protocol/testdata/python_sdk_records.json", import.meta.url);

/** The fixture named `name` as a Kafka record on `topic` */
function fixture(name: string, topic: string, offset: number, at: Date): KafkaRecord {
  const list: unknown = JSON.parse(Deno.readTextFileSync(FIXTURES));
  const found = Array.isArray(list)
    ? list.find((r) => isRecord(r) && r["name"] === name)
    : undefined;
  if (!isRecord(found) || typeof found["value"] !== "string" || !isRecord(found["headers"])) {
    throw new TypeError(`No fixture "${name}"`);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(found["headers"])) if (typeof v === "string") headers[k] = v;
  return {
    topic,
    partition: 0,
    offset: String(offset),
    key: null,
    value: new TextEncoder().encode(found["value"]),
    headers,
    timestamp: at.getTime(),
  };
}

Deno.test("an A2A task that waits on a person is never stuck, and its failure closes it", async () => {
  const b = await bed(
    new ObserverState({
      ...OPTIONS,
      topicPattern: "^a2a\\.inbox\\.(?<agent>[a-z]+)$",
      userInbox: "client",
    }),
  );
  // The fixtures were made at 2026-12-01T10:00:00Z (their CloudEvents `time`)
  b.clock.now = new Date("2026-12-01T10:00:00.100Z");
  try {
    b.recorder.ingest(fixture("binary message", "a2a.inbox.search", 0, b.clock.now));
    b.advance(100);
    b.recorder.ingest(fixture("binary input required", "a2a.inbox.planner", 0, b.clock.now));
    b.advance(OPTIONS.stuckAfterMs * 2);
    b.recorder.checkStuck();
    b.recorder.ingest(fixture("binary task failed", "a2a.inbox.planner", 1, b.clock.now));
    const records = await b.records();
    const messages = records.flatMap((r) => r.type === "message" ? [r] : []);
    assert.deepEqual(
      messages.map((m) => [m.dialect, m.msg_type, m.source, m.source_from, m.target]),
      [
        ["cloudevents-binary/a2a-v1", "TASK", "planner", "dialect", "search"],
        ["cloudevents-binary/a2a-v1", "HEARTBEAT", "search", "dialect", "planner"],
        ["cloudevents-binary/a2a-v1", "ERROR", "search", "dialect", "planner"],
      ],
    );
    // The status update names no task message: the observer joined it by its task id
    assert.deepEqual([
      messages[1]?.in_reply_to,
      messages[1]?.correlated_by,
      messages[1]?.waiting_on,
    ], [
      "m-1",
      "task",
      "input",
    ]);
    assert.equal(records.filter((r) => r.type === "handoff_stuck").length, 0);
    const failed = records.find((r) => r.type === "handoff_failed");
    assert.ok(failed?.type === "handoff_failed");
    assert.deepEqual([failed.task_message_id, failed.to, failed.error_kind], [
      "m-1",
      "search",
      "llm_rate_limit",
    ]);
    assert.equal(b.state.handoffs.size, 0);
  } finally {
    await b.close();
  }
});

Deno.test("a task waiting on nobody's answer is stuck past STUCK_AFTER_MS, whatever its dialect", async () => {
  const b = await bed(
    new ObserverState({ ...OPTIONS, topicPattern: "^a2a\\.inbox\\.(?<agent>[a-z]+)$" }),
  );
  // The fixtures were made at 2026-12-01T10:00:00Z (their CloudEvents `time`)
  b.clock.now = new Date("2026-12-01T10:00:00.100Z");
  try {
    b.recorder.ingest(fixture("binary message", "a2a.inbox.search", 0, b.clock.now));
    b.advance(OPTIONS.stuckAfterMs * 2);
    b.recorder.checkStuck();
    const stuck = (await b.records()).filter((r) => r.type === "handoff_stuck");
    assert.deepEqual(stuck.map((r) => r.type === "handoff_stuck" ? [r.to, r.reason] : []), [
      ["search", "slower_than_normal"],
    ]);
  } finally {
    await b.close();
  }
});
