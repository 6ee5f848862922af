import assert from "node:assert/strict";
import { facts, T0 } from "../testdata/facts.ts";
import { historyRules } from "./history.ts";

const ctx = {
  now: T0 + 120_000,
  empty: false,
  skippedLines: 0,
  skippedWhere: [],
  oracle: "oracle",
  chosenEnd: false,
};

Deno.test("an empty history says so", () => {
  const [finding] = historyRules(facts(), { ...ctx, empty: true });
  assert.equal(finding?.kind, "observer_degraded");
  assert.equal(finding?.severity, "warning");
});

Deno.test("a history that stopped long ago is a note; a fresh one is nothing", () => {
  const old = historyRules(facts(), { ...ctx, now: T0 + 3_600_000 });
  assert.equal(old[0]?.severity, "info");
  assert.match(old[0]?.summary ?? "", /not running, or this is an old copy/);
  assert.deepEqual(historyRules(facts(), ctx), []);
});

Deno.test("unreadable lines are reported with where the first one is", () => {
  const [finding] = historyRules(facts(), { ...ctx, skippedLines: 2, skippedWhere: ["d.jsonl:9"] });
  assert.match(finding?.summary ?? "", /2 unreadable line\(s\).*d\.jsonl:9/);
});
