import assert from "node:assert/strict";
import { bump, touch } from "./bounded_map.ts";

Deno.test("touch moves a key to the newest end and drops the oldest down to the cap past an eighth more", () => {
  const map = new Map<number, string>();
  let dropped = 0;
  for (let i = 0; i < 9; i++) dropped += touch(map, i, `v${i}`, 8);
  assert.equal(dropped, 0, "cap + cap/8 = 9 entries are kept");
  touch(map, 0, "again", 8);
  assert.deepEqual([...map.keys()], [1, 2, 3, 4, 5, 6, 7, 8, 0]);
  assert.equal(touch(map, 9, "v9", 8), 2);
  assert.deepEqual([...map.keys()], [3, 4, 5, 6, 7, 8, 0, 9]);
});

Deno.test("bump counts keys named like Object.prototype members from zero", () => {
  const counts: Record<string, number> = {};
  bump(counts, "constructor");
  bump(counts, "toString", 3);
  bump(counts, "constructor");
  assert.deepEqual({ ...counts }, { constructor: 2, toString: 3 });
});
