import assert from "node:assert/strict";
import { HeaderTypes } from "./header_types.ts";

Deno.test("a type is matched in place against each set that holds it", () => {
  const types = new HeaderTypes([
    new Set(["error", "handoff_failed", "handoff_stuck"]),
    new Set(["handoff_completed", "handoff_failed"]),
  ]);
  const text = `x"error"handoff_failed"handoff_started"handoff_completed"errors"`;
  const match = (name: string) => {
    const from = text.indexOf(`"${name}"`) + 1;
    return types.match(text, from, from + name.length);
  };
  assert.equal(match("error"), 1);
  assert.equal(match("handoff_failed"), 0b11);
  assert.equal(match("handoff_completed"), 0b10);
  // Same length as a name of a set, or a name's prefix: no match.
  assert.equal(match("handoff_started"), 0);
  assert.equal(match("errors"), 0);
  assert.equal(new HeaderTypes([]).match(text, 2, 7), 0);
});
