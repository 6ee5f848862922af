import assert from "node:assert/strict";
import { type ClosedHandoff, RecentClosures } from "./recent_closures.ts";

function handoff(id: string, to: string, createdAt: number): ClosedHandoff {
  return {
    task_message_id: id,
    task_id: `task-${id}`,
    conversation_id: "c",
    from: "orchestrator",
    to,
    attempt: 1,
    created_at: new Date(createdAt).toISOString(),
  };
}

Deno.test("a handoff made before an instant and closed after it was open at that instant", () => {
  const closures = new RecentClosures(100);
  closures.note(handoff("before-and-after", "researcher", 1_000), 3_000);
  closures.note(handoff("closed-before", "researcher", 1_000), 1_500);
  closures.note(handoff("made-after", "researcher", 2_500), 3_000);
  closures.note(handoff("other-agent", "writer", 1_000), 3_000);
  closures.note(handoff("undated", "researcher", 1_000), NaN);
  assert.deepEqual(closures.openAt("researcher", 2_000).map((h) => h.task_message_id), [
    "before-and-after",
  ]);
  assert.equal(closures.size, 4);
});

Deno.test("closures past the cap are dropped oldest first, and an instant before them knows it", () => {
  const closures = new RecentClosures(8);
  for (let i = 0; i < 10; i++) closures.note(handoff(`h${i}`, "researcher", 0), 1_000 + i);
  // Past 8 plus an eighth (9), down to 8: h0 and h1 went
  assert.equal(closures.size, 8);
  assert.deepEqual(
    closures.openAt("researcher", 500).map((h) => h.task_message_id),
    ["h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9"],
  );
  assert.equal(closures.forgotAfter(500), true);
  assert.equal(closures.forgotAfter(1_001), false);
});
