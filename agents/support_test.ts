import assert from "node:assert/strict";
import { backoffMs, errorText, fnv1a, isRecord, sleep } from "./support.ts";

Deno.test("isRecord accepts plain objects and refuses null, arrays and primitives", () => {
  assert.equal(isRecord({ a: 1 }), true);
  assert.equal(isRecord(null), false);
  assert.equal(isRecord([1]), false);
  assert.equal(isRecord("x"), false);
});

Deno.test("errorText gives an Error's message and any other value as a string", () => {
  assert.equal(errorText(new TypeError("bad")), "bad");
  assert.equal(errorText(42), "42");
});

Deno.test("backoffMs doubles per attempt up to the cap", () => {
  assert.deepEqual([0, 1, 2, 3, 10, 1000].map((a) => backoffMs(a, 500, 10_000)), [
    500,
    1000,
    2000,
    4000,
    10_000,
    10_000,
  ]);
});

Deno.test("fnv1a hashes as the 32-bit FNV-1a reference does", () => {
  assert.equal(fnv1a(""), 0x811c9dc5);
  assert.equal(fnv1a("a"), 0xe40c292c);
});

Deno.test("sleep ends at once when its signal aborts and never rejects", async () => {
  const controller = new AbortController();
  const started = performance.now();
  const waiting = sleep(10_000, controller.signal);
  controller.abort(new Error("stop"));
  await waiting;
  assert.ok(performance.now() - started < 5_000);
});
