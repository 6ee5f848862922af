import assert from "node:assert/strict";
import { SeqContinuity, type SeqGap } from "./seq_continuity.ts";

function gaps(seqs: number[]): string[] {
  const found: SeqGap[] = [];
  const c = new SeqContinuity((g) => found.push(g));
  seqs.forEach((s, i) => c.see(s, 0, i));
  c.end();
  return found.map((g) => `${g.after}->${g.next} missing ${g.missing} at ${g.offset}`);
}

Deno.test("consecutive seqs have no gap, wherever the read starts", () => {
  assert.deepEqual(gaps([]), []);
  assert.deepEqual(gaps([41, 42, 43, 44]), []);
});

Deno.test("a jump in seq is a gap saying where and how many are missing", () => {
  assert.deepEqual(gaps([1, 2, 3, 7, 8, 10]), ["3->7 missing 3 at 3", "8->10 missing 1 at 5"]);
});

Deno.test("records out of order that fill a jump leave no gap; duplicates none either", () => {
  assert.deepEqual(gaps([1, 3, 2, 4]), []);
  assert.deepEqual(gaps([1, 2, 3, 2, 3, 4]), []);
  assert.deepEqual(gaps([1, 5, 3, 6]), ["1->5 missing 2 at 1"]);
});
