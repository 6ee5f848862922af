import assert from "node:assert/strict";
import { STUCK_BATCH } from "./event_recorder.ts";
import { ObserverState } from "./observer_state.ts";
import { bed, flood, OPTIONS, unreadQueue } from "./testdata/recorder_bed.ts";

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

Deno.test("coalesced error lines name the conversations of every occurrence they stand for", async () => {
  const b = await bed();
  try {
    b.recorder.record(unreadQueue());
    b.see(...flood(5, new Date(b.clock.now.getTime() + 10_000)));
    b.recorder.flushFolds();
    const lines = (await b.records()).flatMap((r) =>
      r.type === "error" && r.kind === "task_unconsumed" ? [r] : []
    );
    assert.ok(lines.some((r) => (r.occurrences ?? 1) > 1), "some occurrences were coalesced");
    const named = new Set(
      lines.flatMap((r) => [r.conversation_id, ...(r.conversation_ids ?? [])]),
    );
    assert.deepEqual([...named].sort(), ["c-0", "c-1", "c-2", "c-3", "c-4"]);
    // The fold (state) keeps the last occurrence's, as before
    const fold = [...b.state.errors.values()].find((e) => e.kind === "task_unconsumed");
    assert.ok(fold !== undefined && !("conversation_ids" in fold));
  } finally {
    await b.close();
  }
});
