import assert from "node:assert/strict";
import type { DiffRecord, HandoffCompletedRecord } from "@mat/observer";
import { oracle } from "../testing.ts";
import { at, dataDir, jsonl, message, queueSample } from "../testdata/history.ts";

const AGENTS = ["orchestrator", "researcher", "writer", "coder"];

/**
 * A history of the broker stopped for 34 s: queues sampled every second, every one unreadable
 * from 20 s to 54 s; `requests` user requests sent at 15 s (in flight when it stopped), all
 * answered at 56 s
 */
function outage(requests: number): DiffRecord[] {
  const out: DiffRecord[] = [];
  let seq = 0;
  for (let i = 0; i < requests; i++) {
    out.push(message(++seq, 15, {
      msg_type: "TASK",
      source: "user",
      target: "orchestrator",
      agent: "orchestrator",
      topic: "agent-queue-orchestrator",
      message_id: `req-${i}`,
      conversation_id: `conv-${i}`,
      task_id: `conv-${i}`,
      handoff: "started",
    }));
  }
  for (let s = 0; s <= 80; s++) {
    for (const agent of AGENTS) {
      const sample = queueSample(++seq, s, agent);
      out.push(
        s >= 20 && s < 54
          ? {
            ...sample,
            status: "ERR",
            status_reason: "the broker did not answer",
            members: [],
            group_state: "",
          }
          : sample,
      );
    }
    if (s === 56) {
      for (let i = 0; i < requests; i++) {
        const done: HandoffCompletedRecord = {
          schema_version: 1,
          seq: ++seq,
          ts: at(56),
          type: "handoff_completed",
          task_message_id: `req-${i}`,
          task_id: `conv-${i}`,
          conversation_id: `conv-${i}`,
          from: "user",
          to: "orchestrator",
          attempt: 1,
          reply_message_id: `reply-${i}`,
          latency_ms: 41_000,
          message_seq: seq,
        };
        out.push(done);
      }
    }
  }
  return out;
}

async function diagnose(records: DiffRecord[]): Promise<Record<string, unknown>> {
  const dir = await dataDir({ diff: records.map(jsonl).join("") });
  try {
    const run = await oracle(["diagnose", "-f", "json", "--data-dir", dir]);
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a 34 s outage of the broker with 20 requests in flight is an incident, resolved, with its cost", async () => {
  const doc = await diagnose(outage(20));
  assert.equal(doc["status"], "degraded", JSON.stringify(doc["incidents"]));
  const [incident] = doc["incidents"] as Record<string, Record<string, unknown>>[];
  assert.equal(incident?.["root_cause"]?.["kind"], "broker_unavailable");
  assert.equal(incident?.["state"], "resolved");
  assert.equal(incident?.["impact"]?.["requests_delayed"], 20);
  assert.match(String(incident?.["root_cause"]?.["summary"]), /for 34 s/);
  assert.match(String(incident?.["root_cause"]?.["summary"]), /20 user requests in flight/);
});

Deno.test("the same outage with no request in flight is a note", async () => {
  const doc = await diagnose(outage(0));
  assert.equal(doc["status"], "healthy");
  const notes = doc["notes"] as Record<string, unknown>[];
  assert.ok(notes.some((n) => n["kind"] === "broker_unavailable"));
});
