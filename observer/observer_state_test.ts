import assert from "node:assert/strict";
import { replyTo } from "@mat/agents";
import { foldOptionsOf } from "./fold_options.ts";
import { ObserverState } from "./observer_state.ts";
import { type DiffBody, validateSnapshot } from "./record_format.ts";
import { SNAPSHOT_CAPS } from "./snapshot_caps.ts";
import { LIMITS } from "./state_limits.ts";
import { bed, flood, OPTIONS, PREFIX, task, types } from "./testdata/recorder_bed.ts";

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

Deno.test("a snapshot records the options its state was folded with", () => {
  const state = new ObserverState({
    ...OPTIONS,
    prefix: "team-a-",
    topicPattern: "^team-a-(?<agent>[a-z]+)$",
    userInbox: "desk",
    windowSize: 7,
  });
  const parsed = validateSnapshot({
    schema_version: 1,
    seq: 1,
    ts: new Date().toISOString(),
    ...state.snapshot(0),
  });
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.reason);
  assert.deepEqual(parsed.record.fold_options, {
    topic_prefix: "team-a-",
    topic_pattern: "^team-a-(?<agent>[a-z]+)$",
    user_inbox: "desk",
    queue_window: 7,
    stuck_after_ms: OPTIONS.stuckAfterMs,
    orphan_grace_ms: OPTIONS.orphanGraceMs,
  });
  assert.deepEqual(foldOptionsOf(parsed.record.fold_options), state.options);
});

/** A sample of the researcher's queue read by `group` with `members` members */
function researcherSample(
  group: string,
  members: number,
  topicGroups: string[] | undefined,
): DiffBody {
  return {
    type: "queue_sample",
    agent: "researcher",
    topic: `${PREFIX}researcher`,
    group,
    group_state: members > 0 ? "Stable" : group === "" ? "" : "Empty",
    members: Array.from({ length: members }, (_, i) => ({
      member_id: `m${i}`,
      client_id: group,
      host: "/127.0.0.1",
    })),
    partitions: [{ partition: 0, high: "0", committed: null, lag: 0 }],
    lag: 0,
    status: "OK",
    status_reason: "lag is zero",
    group_source: group === "" ? "none" : members > 0 ? "broker-members" : "broker-offsets",
    ...(topicGroups === undefined ? {} : { topic_groups: topicGroups }),
  };
}

Deno.test("a queue's series are kept per group; a TASK is unconsumed only when no group has a member", async () => {
  const b = await bed();
  try {
    const unconsumed = async () =>
      (await b.records()).filter((r) => r.type === "message").map((m) =>
        m.type === "message" && m.unconsumed === true
      );
    // Nothing reads the queue: its one series has no group
    b.recorder.record(researcherSample("", 0, []));
    b.see(task("t1"));
    // Two groups found: the unread series has ended; one group reads, the other is empty
    b.recorder.record(researcherSample("a2a-research", 1, ["a2a-research", "audit"]));
    b.recorder.record(researcherSample("audit", 0, ["a2a-research", "audit"]));
    assert.deepEqual(
      [...b.state.queues.values()].map((q) => [q.group, q.members, q.group_source]),
      [["a2a-research", 1, "broker-members"], ["audit", 0, "broker-offsets"]],
    );
    assert.equal(b.state.agents.get("researcher")?.status, "up");
    b.see(task("t2"));
    // The reading group gone from the broker's answer: only the empty one is left
    b.recorder.record(researcherSample("audit", 0, ["audit"]));
    assert.deepEqual([...b.state.queues.values()].map((q) => q.group), ["audit"]);
    assert.equal(b.state.agents.get("researcher")?.status, "down");
    b.see(task("t3"));
    assert.deepEqual(await unconsumed(), [true, false, true]);
    // A sample of an older observer (no topic_groups) ends no series, and the state round-trips
    b.recorder.record(researcherSample("agent-researcher", 0, undefined));
    assert.equal(b.state.queues.size, 2);
    assertValidSnapshot(b.state.toData());
    const again = new ObserverState(OPTIONS, b.state.toData());
    assert.deepEqual(again.toData().queues, b.state.toData().queues);
    assert.deepEqual(again.queuesOf("researcher").map((q) => q.group), [
      "audit",
      "agent-researcher",
    ]);
  } finally {
    await b.close();
  }
});
