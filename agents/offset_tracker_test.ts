import assert from "node:assert/strict";
import { OffsetTracker } from "./offset_tracker.ts";

Deno.test("offset tracker commits only past records that all finished", () => {
  const t = new OffsetTracker();
  t.begin("q", 0, "10");
  t.begin("q", 0, "11");
  t.begin("q", 0, "12");
  assert.equal(t.finish("q", 0, "12"), "10");
  assert.equal(t.finish("q", 0, "11"), undefined);
  assert.equal(t.finish("q", 0, "10"), "13");
  assert.equal(t.inFlight, 0);
});

Deno.test("offset tracker keeps partitions apart", () => {
  const t = new OffsetTracker();
  t.begin("q", 0, "5");
  t.begin("q", 1, "7");
  assert.equal(t.finish("q", 1, "7"), "8");
  assert.equal(t.inFlight, 1);
  assert.equal(t.finish("q", 0, "5"), "6");
});
