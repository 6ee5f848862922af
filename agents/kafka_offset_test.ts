import assert from "node:assert/strict";
import { compareOffsets } from "./kafka_offset.ts";

Deno.test("compareOffsets orders offsets by value, not by text", () => {
  assert.ok(compareOffsets("9", "10") < 0);
  assert.ok(compareOffsets("10", "9") > 0);
  assert.equal(compareOffsets("42", "42"), 0);
  assert.ok(compareOffsets("9007199254740993", "9007199254740992") > 0);
  assert.ok(compareOffsets("-1", "0") < 0);
  assert.deepEqual(["10", "2", "-1", "1"].sort(compareOffsets), ["-1", "1", "2", "10"]);
});

Deno.test("compareOffsets refuses a string that is not an integer", () => {
  assert.throws(() => compareOffsets("x", "1"), SyntaxError);
});
