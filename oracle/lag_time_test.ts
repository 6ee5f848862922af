import assert from "node:assert/strict";
import { lagTime } from "./lag_time.ts";
import { sample } from "./testdata/facts.ts";

Deno.test("the oldest unconsumed message arrived after the last sample that had caught up", () => {
  // Committed stays at 10; the high watermark passes it at t=3 and keeps growing.
  const series = [0, 1, 2, 3, 4, 5, 6].map((t) =>
    sample("writer", t, { committed: "10", high: String(t < 3 ? 10 : 10 + t), lag: t < 3 ? 0 : t })
  );
  const time = lagTime(series);
  assert.equal(time?.oldest_unconsumed_age_ms, 3_000, "arrived by t=3, seen at t=6");
  assert.equal(time?.older_than_window, false);
  assert.equal(time?.trend, "growing");
});

Deno.test("a backlog older than the window is a lower bound, and a drained queue has no age", () => {
  const old = [0, 1, 2].map((t) => sample("coder", t, { committed: "0", high: "5", lag: 5 - t }));
  const time = lagTime(old);
  assert.equal(time?.older_than_window, true);
  assert.equal(time?.oldest_unconsumed_age_ms, 2_000);
  assert.equal(time?.trend, "shrinking");
  const drained = lagTime([sample("coder", 0, { lag: 2 }), sample("coder", 1, { lag: 0 })]);
  assert.equal(drained?.oldest_unconsumed_age_ms, null);
  assert.equal(drained?.trend, "empty");
});
