import assert from "node:assert/strict";
import { evaluateWindow, lagOf, type WindowSample, worse } from "./lag_status.ts";

/** A window of one partition from [high, committed] pairs, oldest first */
function window(...points: [number, number | null][]): WindowSample[] {
  return points.map(([high, committed], i) => ({
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    partitions: [{
      partition: 0,
      high: String(high),
      committed: committed === null ? null : String(committed),
      lag: lagOf(String(high), committed === null ? null : String(committed), "0"),
    }],
  }));
}

Deno.test("lag is high watermark minus committed, from the log start without a commit", () => {
  assert.equal(lagOf("10", "3", "0"), 7);
  assert.equal(lagOf("10", null, "4"), 6);
  assert.equal(lagOf("10", "12", "0"), 0, "never negative");
  assert.equal(lagOf("9007199254740993", "9007199254740990", "0"), 3, "offsets beyond 2^53");
});

Deno.test("OK: no sample, zero lag, or a consumer that keeps up", () => {
  assert.equal(evaluateWindow([], 1, 3).status, "OK");
  assert.equal(evaluateWindow(window([5, 5], [9, 9], [12, 12]), 1, 3).status, "OK");
  // lag > 0 but shrinking, committed moving
  assert.equal(evaluateWindow(window([10, 2], [12, 6], [14, 10]), 1, 3).status, "OK");
  // a single sample with lag and members: not enough to judge
  assert.equal(evaluateWindow(window([10, 2]), 1, 3).status, "OK");
  // zero lag with no members is OK: nothing waits
  assert.equal(evaluateWindow(window([5, 5], [5, 5], [5, 5]), 0, 3).status, "OK");
});

Deno.test("STOP: lag and no members, even on the first sample", () => {
  const v = evaluateWindow(window([10, 3]), 0, 3);
  assert.equal(v.status, "STOP");
  assert.match(v.reason, /partition 0: lag 7 and the group has no members/);
});

Deno.test("STALL: members listed, lag over a full window and the committed offset never moves", () => {
  const v = evaluateWindow(window([10, 3], [11, 3], [12, 3]), 2, 3);
  assert.equal(v.status, "STALL");
  assert.match(v.reason, /committed offset stuck at 3 with lag 9/);
  // not yet a full window: no verdict beyond OK
  assert.equal(evaluateWindow(window([10, 3], [11, 3]), 2, 3).status, "OK");
  // lag reaching zero in the middle of the window ends the stall
  assert.equal(evaluateWindow(window([3, 3], [4, 3], [5, 5]), 2, 3).status, "OK");
});

Deno.test("WARN: committed offset moves but the lag grows in every sample of a full window", () => {
  const v = evaluateWindow(window([10, 5], [20, 8], [30, 10]), 1, 3);
  assert.equal(v.status, "WARN");
  assert.match(v.reason, /lag grew in every sample to 20/);
  // one sample where the lag did not grow: OK
  assert.equal(evaluateWindow(window([10, 5], [20, 8], [22, 10]), 1, 3).status, "OK");
  // growing but not a full window yet
  assert.equal(evaluateWindow(window([10, 5], [20, 8]), 1, 3).status, "OK");
});

Deno.test("the group takes its worst partition; ERR ranks above all", () => {
  const samples: WindowSample[] = window([10, 10], [11, 11], [12, 12]).map((s, i) => ({
    at: s.at,
    partitions: [
      ...s.partitions,
      { partition: 1, high: String(10 + i), committed: "3", lag: 7 + i },
    ],
  }));
  const v = evaluateWindow(samples, 1, 3);
  assert.equal(v.status, "STALL");
  assert.match(v.reason, /^partition 1:/);
  assert.equal(evaluateWindow(samples, 0, 3).status, "STOP");
  assert.equal(worse("ERR", "STOP"), "ERR");
  assert.equal(worse("OK", "WARN"), "WARN");
  assert.equal(worse("STALL", "WARN"), "STALL");
});
