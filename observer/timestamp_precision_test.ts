import assert from "node:assert/strict";
import { latestMsOf } from "./timestamp_precision.ts";

Deno.test("a time stands until the end of the last digit it was written with", () => {
  const second = Date.parse("2025-06-01T10:00:07Z");
  assert.equal(latestMsOf("2025-06-01T10:00:07Z"), second + 999);
  assert.equal(latestMsOf("2025-06-01T10:00:07.4Z"), second + 499);
  assert.equal(latestMsOf("2025-06-01T10:00:07.41Z"), second + 419);
  assert.equal(latestMsOf("2025-06-01T10:00:07.412Z"), second + 412);
  assert.equal(latestMsOf("2025-06-01T10:00:07.412345Z"), second + 412);
  assert.equal(latestMsOf("2025-06-01T12:00:07+02:00"), second + 999);
  assert.ok(Number.isNaN(latestMsOf("yesterday")));
});

Deno.test("a task handed off within the second a kubelet reports is not after it", () => {
  const handedOff = Date.parse("2025-06-01T10:00:07.412Z");
  assert.ok(handedOff > Date.parse("2025-06-01T10:00:07Z"), "Date.parse alone says after");
  assert.ok(handedOff <= latestMsOf("2025-06-01T10:00:07Z"));
  assert.ok(handedOff > latestMsOf("2025-06-01T10:00:06Z"));
});
