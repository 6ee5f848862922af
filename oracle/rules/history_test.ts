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

Deno.test("a consumer the observer had to create again is a note with its error", () => {
  const restarted = {
    schema_version: 1,
    seq: 40,
    ts: "2026-11-29T10:00:30.000Z",
    type: "consumer_restarted" as const,
    error: "a bug in the fold",
    crashes: 1,
  };
  const out = historyRules(facts({ consumerRestarts: [restarted] }), ctx);
  const note = out.find((f) => f.short === "the observer's consumer crashed");
  assert.equal(note?.severity, "info");
  assert.match(note?.summary ?? "", /created again .* \(nothing lost\): a bug in the fold/);
});
