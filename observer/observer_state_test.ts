import assert from "node:assert/strict";
import { createEnvelope, encodeEnvelope, type Envelope, replyTo } from "@mat/agents";
import { EventRecorder } from "./event_recorder.ts";
import type { KafkaRecord } from "./kafka_adapter.ts";
import { LIMITS, ObserverState, SNAPSHOT_CAPS, type StateOptions } from "./observer_state.ts";
import { STUCK_BATCH } from "./event_recorder.ts";
import {
  type DiffBody,
  type DiffRecord,
  validateDiffRecord,
  validateSnapshot,
} from "./record_format.ts";
import { TimeMachineWriter } from "./time_machine_writer.ts";
import { readHistory } from "./time_machine_reader.ts";

const PREFIX = "agent-queue-";
const GRACE = 5_000;
const OPTIONS: StateOptions = {
  prefix: PREFIX,
  windowSize: 3,
  stuckAfterMs: 60_000,
  orphanGraceMs: GRACE,
};

/** A recorder on a real writer in a temp dir, with a clock the test moves */
async function bed(state = new ObserverState(OPTIONS)) {
  const dir = await Deno.makeTempDir({ prefix: "observer-state-test-" });
  const clock = { now: new Date("2026-01-01T00:00:00.000Z") };
  const writer = await TimeMachineWriter.open<DiffBody>({
    dir,
    base: "diff",
    segmentBytes: 1 << 20,
    retainBytes: 2 ** 40,
    syncIntervalMs: 60_000,
    now: () => clock.now,
  });
  const recorder = new EventRecorder(writer, state, {
    prefix: PREFIX,
    previewBytes: 256,
    now: () => clock.now,
  });
  const offsets = new Map<string, number>();
  return {
    dir,
    clock,
    recorder,
    state,
    /** Ingests envelopes as Kafka records of the target's queue */
    see(...envelopes: Envelope[]): void {
      for (const e of envelopes) {
        const topic = `${PREFIX}${e.target}`;
        const offset = offsets.get(topic) ?? 0;
        offsets.set(topic, offset + 1);
        const record: KafkaRecord = {
          topic,
          partition: 0,
          offset: String(offset),
          key: null,
          value: new TextEncoder().encode(encodeEnvelope(e)),
          headers: {},
          timestamp: clock.now.getTime(),
        };
        recorder.ingest(record);
      }
    },
    advance(ms: number): void {
      clock.now = new Date(clock.now.getTime() + ms);
    },
    /** Every record on disk, each one validated */
    async records(): Promise<DiffRecord[]> {
      await writer.flush();
      const out: DiffRecord[] = [];
      for await (const v of readHistory(dir, "diff")) {
        const parsed = validateDiffRecord(v);
        if (!parsed.ok) throw new TypeError(parsed.reason);
        out.push(parsed.record);
      }
      return out;
    },
    async close(): Promise<void> {
      await writer.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The state passes the snapshot validator, wrapped in a snapshot line as the observer writes it */
function assertValidSnapshot(data: ReturnType<ObserverState["toData"]>): void {
  const snapshot = validateSnapshot({
    schema_version: 1,
    seq: 1,
    ts: new Date().toISOString(),
    type: "snapshot",
    diff_seq: 1,
    state: data,
  });
  assert.ok(snapshot.ok, snapshot.ok ? "" : snapshot.reason);
}

/** The events, a TASK's `message` that opens its handoff named `handoff_started` */
function types(records: DiffRecord[]): string[] {
  return records
    .map((r) => r.type === "message" && r.handoff === "started" ? "handoff_started" : r.type)
    .filter((t) => t !== "segment_started" && t !== "message");
}

function task(taskId: string): Envelope {
  return createEnvelope({
    type: "TASK",
    source: "orchestrator",
    target: "researcher",
    conversation_id: `c-${taskId}`,
    task_id: taskId,
  });
}

Deno.test("a reply seen before its TASK is held, then completes the handoff when the TASK comes", async () => {
  const b = await bed();
  try {
    const t = task("t1");
    const result = replyTo(t, "RESULT", { payload: { answer: 42 } });
    b.see(result);
    b.advance(GRACE - 1_000);
    b.recorder.checkStuck();
    b.see(t);
    b.advance(GRACE * 10);
    b.recorder.checkStuck();
    const records = await b.records();
    assert.deepEqual(types(records), ["reply_held", "handoff_started", "handoff_completed"]);
    const completed = records.find((r) => r.type === "handoff_completed");
    assert.equal(completed?.type, "handoff_completed");
    if (completed?.type === "handoff_completed") {
      assert.equal(completed.task_message_id, t.message_id);
      assert.equal(completed.reply_message_id, result.message_id);
      assert.equal(completed.from, "orchestrator");
      assert.equal(completed.to, "researcher");
    }
    assert.equal(b.state.heldReplies.size, 0);
    assert.equal(b.state.handoffs.size, 0);
    assert.equal(b.state.agents.get("researcher")?.tasks_completed, 1);
    assert.equal(b.state.agents.get("researcher")?.in_flight, 0);
    assert.equal(b.state.errors.size, 0, "no orphan error was folded");
  } finally {
    await b.close();
  }
});

Deno.test("an early ERROR reply yields a failed handoff with its error once the TASK comes", async () => {
  const b = await bed();
  try {
    const t = task("t1");
    b.see(replyTo(t, "ERROR", {
      error: { kind: "tool_error", message: "tool broke", retryable: true },
    }));
    b.see(t);
    const failed = (await b.records()).filter((r) => r.type === "handoff_failed");
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.type === "handoff_failed" && failed[0].error_kind, "tool_error");
    assert.equal(failed[0]?.type === "handoff_failed" && failed[0].retryable, true);
  } finally {
    await b.close();
  }
});

Deno.test("a reply whose TASK never comes is orphaned only after the grace period", async () => {
  const b = await bed();
  try {
    const t = task("t1");
    const result = replyTo(t, "RESULT", {});
    b.see(result, replyTo(t, "RESULT", {})); // a second reply to the same task is not held twice
    b.advance(GRACE - 1);
    b.recorder.checkStuck();
    assert.deepEqual(types(await b.records()), ["reply_held"]);
    b.advance(1);
    b.recorder.checkStuck();
    b.recorder.checkStuck();
    const records = await b.records();
    assert.deepEqual(types(records), ["reply_held", "reply_orphaned", "error"]);
    const orphan = records.find((r) => r.type === "reply_orphaned");
    assert.equal(orphan?.type === "reply_orphaned" && orphan.message_id, result.message_id);
    assert.equal(orphan?.type === "reply_orphaned" && orphan.in_reply_to, t.message_id);
    assert.equal(b.state.heldReplies.size, 0);
    // The TASK arriving after the orphan report opens a handoff like any other.
    b.see(t);
    assert.deepEqual(types(await b.records()).slice(3), ["handoff_started"]);
  } finally {
    await b.close();
  }
});

Deno.test("with ORPHAN_GRACE_MS 0 a reply to an unseen TASK is orphaned at once", async () => {
  const b = await bed(new ObserverState({ ...OPTIONS, orphanGraceMs: 0 }));
  try {
    b.see(replyTo(task("t1"), "RESULT", {}));
    assert.deepEqual(types(await b.records()), ["reply_orphaned", "error"]);
  } finally {
    await b.close();
  }
});

Deno.test("a held reply survives a snapshot and a replay: the state is a fold of the records", async () => {
  const b = await bed();
  try {
    const t = task("t1");
    const other = task("t2");
    b.see(other, replyTo(t, "RESULT", {}));
    const data = b.state.toData();
    assert.equal(data.pending_replies?.length, 1);
    assertValidSnapshot(data);

    // Replaying every record into a fresh state gives the same state.
    const replayed = new ObserverState(OPTIONS);
    for (const r of await b.records()) replayed.apply(r);
    assert.deepEqual(replayed.toData(), data);

    // A state restored from the snapshot completes the handoff when the TASK comes.
    const restored = await bed(new ObserverState(OPTIONS, structuredClone(data)));
    try {
      restored.see(t);
      assert.deepEqual(types(await restored.records()), ["handoff_started", "handoff_completed"]);
      assert.equal(restored.state.heldReplies.size, 0);
    } finally {
      await restored.close();
    }
  } finally {
    await b.close();
  }
});

Deno.test("a snapshot of an older observer (no pending_replies) still loads", () => {
  const data = new ObserverState(OPTIONS).toData();
  const { pending_replies: _p, ...old } = data;
  const state = new ObserverState(OPTIONS, old);
  assert.equal(state.heldReplies.size, 0);
});

Deno.test("retries and in-flight counts follow open handoffs", async () => {
  const b = await bed();
  try {
    const first = task("t1");
    const retry = createEnvelope({
      type: "TASK",
      source: "orchestrator",
      target: "researcher",
      conversation_id: "c-t1",
      task_id: "t1",
      attempt: 2,
    });
    b.see(first, task("t2"));
    assert.equal(b.state.agents.get("researcher")?.in_flight, 2);
    b.see(retry);
    const retried = (await b.records()).find((r) => r.type === "handoff_retried");
    assert.equal(
      retried?.type === "handoff_retried" && retried.previous_message_id,
      first.message_id,
    );
    assert.equal(b.state.agents.get("researcher")?.in_flight, 2);
    b.see(replyTo(retry, "RESULT", {}));
    assert.equal(b.state.agents.get("researcher")?.in_flight, 1);
  } finally {
    await b.close();
  }
});

Deno.test("a late reply to an attempt a retry superseded still completes it, once", async () => {
  const b = await bed();
  try {
    const first = task("t1");
    const retry = createEnvelope({
      type: "TASK",
      source: "orchestrator",
      target: "researcher",
      conversation_id: first.conversation_id,
      task_id: first.task_id,
      attempt: 2,
    });
    b.see(first);
    b.advance(5_000);
    b.see(retry);
    b.advance(1_000);
    const late = replyTo(first, "RESULT", { payload: { answer: 1 } });
    b.see(late, late);
    const records = await b.records();
    assert.deepEqual(types(records), [
      "handoff_started",
      "handoff_retried",
      "handoff_completed",
      "message_duplicated",
      "error",
    ]);
    const done = records.find((r) => r.type === "handoff_completed");
    assert.equal(done?.type === "handoff_completed" && done.task_message_id, first.message_id);
    assert.equal(b.state.superseded.size, 0, "completing it releases it");
    assert.equal(b.state.handoffs.size, 1, "the retry is still open");
    const data = b.state.toData();
    assert.deepEqual(data.superseded_handoffs, []);
  } finally {
    await b.close();
  }
});

Deno.test("a local restart yields both its events once, even when the file is read again", async () => {
  const b = await bed();
  try {
    const at = "2026-01-01T00:00:01.000Z";
    const base = { source: "local" as const, agent: "researcher", process: "pid:7", at };
    const events = [
      {
        ...base,
        kind: "restarted" as const,
        restart_count: 1,
        reason: "Signaled",
        signal: "SIGKILL",
      },
      { ...base, kind: "started" as const, restart_count: 1 },
    ];
    for (const e of [...events, ...events]) b.recorder.recordRuntime(e);
    const kinds = (await b.records()).flatMap((r) => r.type === "runtime_event" ? [r.kind] : []);
    assert.deepEqual(kinds, ["restarted", "started"]);
    assert.equal(b.state.runtime.processes.get("pid:7")?.started_at, at);
    const restarted = (await b.records()).find((r) => r.type === "runtime_event");
    assert.deepEqual(
      restarted?.type === "runtime_event" && restarted.tasks_in_flight,
      [],
      "a local restart is a start: its death was the exit before it",
    );
  } finally {
    await b.close();
  }
});

/** A sample of the researcher's queue with no member: its tasks are unconsumed from now on */
function unreadQueue(): DiffBody {
  return {
    type: "queue_sample",
    agent: "researcher",
    topic: `${PREFIX}researcher`,
    group: "agent-researcher",
    group_state: "Empty",
    members: [],
    partitions: [{ partition: 0, high: "0", committed: null, lag: 0 }],
    lag: 0,
    status: "OK",
    status_reason: "no lag",
  };
}

function flood(n: number, deadline: Date): Envelope[] {
  return Array.from({ length: n }, (_, i) =>
    createEnvelope({
      type: "TASK",
      source: "orchestrator",
      target: "researcher",
      conversation_id: `c-${i}`,
      task_id: `t-${i}`,
      deadline,
    }));
}

Deno.test("a flood of tasks to an unread queue is a line per task, its error count exact", async () => {
  const b = await bed();
  try {
    b.recorder.record(unreadQueue());
    const n = 3_000;
    b.see(...flood(n, new Date(b.clock.now.getTime() + 10_000)));
    b.advance(11_000);
    b.recorder.checkStuck();
    const records = await b.records();
    const messages = records.filter((r) => r.type === "message");
    assert.equal(messages.length, n);
    assert.ok(
      messages.every((m) => m.type === "message" && m.handoff === "started" && m.unconsumed),
    );
    assert.ok(records.length <= n * 1.01, `${records.length} lines for ${n} tasks`);
    // Every occurrence counted once: the fold's running count, and the lines' occurrences
    const unconsumed = records.filter((r) => r.type === "error" && r.kind === "task_unconsumed");
    const occurrences = unconsumed.reduce(
      (sum, r) => sum + (r.type === "error" ? r.occurrences ?? 1 : 0),
      0,
    );
    assert.equal(occurrences, n);
    const lastFold = unconsumed.at(-1);
    assert.equal(lastFold?.type === "error" ? lastFold.count : undefined, n);
    // All stuck at one check: a few batch lines, each handoff in exactly one
    const batches = records.filter((r) => r.type === "handoffs_stuck");
    const stuck = batches.flatMap((r) => r.type === "handoffs_stuck" ? r.handoffs : []);
    assert.equal(batches.length, Math.ceil(n / STUCK_BATCH));
    assert.equal(new Set(stuck.map((h) => h.task_message_id)).size, n);
    assert.equal(b.state.agents.get("researcher")?.tasks_stuck, n);
    assert.equal(b.state.errorCounts.by_category["config"], n);
    // A replay of the lines folds to the same state
    const replayed = new ObserverState(OPTIONS);
    for (const r of records) replayed.apply(r);
    assert.deepEqual(replayed.toData(), b.state.toData());
  } finally {
    await b.close();
  }
});

Deno.test("a snapshot stays small under a flood and counts what it left out", async () => {
  const b = await bed();
  try {
    const n = 5_000;
    b.see(...flood(n, new Date(b.clock.now.getTime() + 60_000)));
    const data = b.state.toData();
    const bytes = JSON.stringify(data).length;
    assert.ok(bytes < 256 * 1024, `snapshot of ${bytes} bytes`);
    assert.equal(data.handoffs_open.length, SNAPSHOT_CAPS.handoffs_open);
    assert.equal(data.omitted?.["handoffs_open"], n - SNAPSHOT_CAPS.handoffs_open);
    assert.equal(data.open_by_agent?.["researcher"], n);
    // Restored from it, the agent still has every task in flight; answers to tasks the snapshot
    // left out bring the count down
    assertValidSnapshot(data);
    const restored = new ObserverState(OPTIONS, structuredClone(data));
    assert.equal(restored.toData().open_by_agent?.["researcher"], n);
    const last = b.state.handoffs.get([...b.state.handoffs.keys()].at(-1) ?? "");
    assert.ok(last !== undefined && !restored.handoffs.has(last.task_message_id));
    restored.apply({
      schema_version: 1,
      seq: 99_999,
      ts: new Date().toISOString(),
      type: "handoff_completed",
      task_message_id: last.task_message_id,
      task_id: last.task_id,
      conversation_id: last.conversation_id,
      from: last.from,
      to: last.to,
      attempt: 1,
      reply_message_id: "r",
      latency_ms: 5,
      message_seq: 99_998,
    });
    assert.equal(restored.agents.get("researcher")?.in_flight, n - 1);
  } finally {
    await b.close();
  }
});

Deno.test("open handoffs past their cap are dropped oldest first, and counted", async () => {
  const b = await bed();
  try {
    const n = LIMITS.openHandoffs + (LIMITS.openHandoffs >> 3) + 1;
    const tasks = flood(n, new Date(b.clock.now.getTime() + 60_000));
    b.see(...tasks);
    const dropped = b.state.dropped.get("handoffs_open") ?? 0;
    assert.equal(b.state.handoffs.size + dropped, n);
    assert.ok(dropped > 0);
    assert.ok(!b.state.handoffs.has(tasks[0]?.message_id ?? ""), "the oldest went first");
    assert.ok(b.state.handoffs.has(tasks.at(-1)?.message_id ?? ""), "the newest stays");
    assert.equal(b.state.toData().dropped?.["handoffs_open"], dropped);
  } finally {
    await b.close();
  }
});

Deno.test("senders past the cap of agents are counted as dropped, not kept", () => {
  const state = new ObserverState(OPTIONS);
  const n = LIMITS.agents + 5;
  for (let i = 0; i < n; i++) {
    state.apply({
      schema_version: 1,
      seq: i + 1,
      ts: "2026-01-01T00:00:00.000Z",
      type: "message",
      topic: `${PREFIX}coder`,
      partition: 0,
      offset: String(i),
      observed_at: "2026-01-01T00:00:00.000Z",
      kafka_timestamp: null,
      key: null,
      agent: "coder",
      message_id: `m${i}`,
      msg_type: "HEARTBEAT",
      source: `forged-${i}`,
      target: "coder",
      conversation_id: "c",
      task_id: "t",
      attempt: 1,
      created_at: "2026-01-01T00:00:00.000Z",
      payload_bytes: 2,
      payload_preview: "{}",
      payload_truncated: false,
      redactions: 0,
    });
  }
  assert.equal(state.agents.size, LIMITS.agents);
  // the target was counted first, so one more forged sender fits than the cap leaves for them
  assert.equal(state.dropped.get("agents"), n - (LIMITS.agents - 1));
  assert.equal(state.toData().dropped?.["agents"], n - (LIMITS.agents - 1));
});
