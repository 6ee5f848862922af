import assert from "node:assert/strict";
import { capped } from "./snapshot_caps.ts";

Deno.test("capped keeps the first or the newest values and counts the rest", () => {
  assert.deepEqual(capped([1, 2, 3, 4], 2), { kept: [1, 2], omitted: 2 });
  assert.deepEqual(capped([1, 2, 3, 4], 2, true), { kept: [3, 4], omitted: 2 });
  assert.deepEqual(capped(new Set([1, 2]), 5), { kept: [1, 2], omitted: 0 });
  assert.deepEqual(capped([1, 2], Infinity, true), { kept: [1, 2], omitted: 0 });
});
