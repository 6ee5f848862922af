import assert from "node:assert/strict";
import { compareSeverity, isSeverity, mostSevere, SEVERITIES } from "./severity.ts";

Deno.test("severities sort most severe first and the more severe of two wins", () => {
  assert.deepEqual(
    ["info", "critical", "warning", "error"].filter(isSeverity).sort(compareSeverity),
    [
      ...SEVERITIES,
    ],
  );
  assert.equal(mostSevere("warning", "error"), "error");
  assert.equal(mostSevere("critical", "error"), "critical");
  assert.equal(compareSeverity("info", "info"), 0);
});

Deno.test("only the four severities are severities", () => {
  assert.ok(isSeverity("critical"));
  for (const v of ["CRITICAL", "fatal", "", null, 0]) assert.equal(isSeverity(v), false);
});
