import assert from "node:assert/strict";
import { parseReplicas, replicasOf } from "./replicas.ts";

Deno.test("a replica spec gives every agent the default and the agents it names their own", () => {
  const counts = parseReplicas("2, worker-01=3,coder=1");
  assert.deepEqual(counts, { all: 2, byAgent: { "worker-01": 3, coder: 1 } });
  assert.equal(replicasOf(counts, "worker-01"), 3);
  assert.equal(replicasOf(counts, "coder"), 1);
  assert.equal(replicasOf(counts, "writer"), 2);
  assert.equal(replicasOf(parseReplicas("writer=2"), "coder"), 1);
});

Deno.test("a bad replica spec is an error quoting the offending part", () => {
  assert.throws(() => parseReplicas("0"), {
    name: "RangeError",
    message: 'Invalid replica count "0" in "0": expected a whole number from 1 to 64',
  });
  assert.throws(() => parseReplicas("2,coder=x"), {
    name: "RangeError",
    message: 'Invalid replica count "x" in "2,coder=x": expected a whole number from 1 to 64',
  });
  assert.throws(() => parseReplicas("coder=2,3"), {
    name: "SyntaxError",
    message: 'Replica count "3" in "coder=2,3" must come first or name its agent',
  });
  assert.throws(() => parseReplicas("Coder=2"), {
    name: "SyntaxError",
    message: 'Invalid agent name "Coder" in replica spec "Coder=2"',
  });
  assert.throws(() => parseReplicas("coder=2,coder=3"), {
    name: "SyntaxError",
    message: 'Agent "coder" named twice in "coder=2,coder=3"',
  });
  assert.throws(() => parseReplicas(" , "), { name: "SyntaxError" });
});
