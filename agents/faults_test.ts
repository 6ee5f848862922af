import assert from "node:assert/strict";
import { FaultPlan, parseFaults } from "./faults.ts";

Deno.test("fault rules parse with their options and defaults", () => {
  const rules = parseFaults(
    "researcher=crash; writer=slow(ms=300,times=2);coder=error(kind=llm_error,match=x)",
  );
  assert.deepEqual(
    rules.map((r) => [r.agent, r.fault, r.times, r.ms, r.errorKind, r.match ?? null]),
    [
      ["researcher", "crash", 1, 5000, "llm_rate_limit", null],
      ["writer", "slow", 2, 300, "llm_rate_limit", null],
      ["coder", "error", Infinity, 5000, "llm_error", "x"],
    ],
  );
});

Deno.test("a bad fault rule is a precise syntax error", () => {
  assert.throws(
    () => parseFaults("researcher=explode"),
    /Unknown fault "explode" in "researcher=explode"/,
  );
  assert.throws(
    () => parseFaults("writer=slow(ms=fast)"),
    /Fault option "ms" needs a whole number, got "fast"/,
  );
  assert.throws(() => parseFaults("nonsense"), /Cannot parse fault rule "nonsense"/);
});

Deno.test("a crash fault fires once across restarts", () => {
  const [rule] = parseFaults("researcher=crash");
  assert.ok(rule);
  assert.ok(new FaultPlan([rule], 0).take("crash", "{}", "mid_task"));
  assert.equal(new FaultPlan([rule], 1).take("crash", "{}", "mid_task"), undefined);
});

Deno.test("a fault with match fires only for matching tasks, at most times", () => {
  const plan = new FaultPlan(parseFaults("coder=drop(match=SLOWME,times=1)"), 0);
  assert.equal(plan.take("drop", `{"instruction":"fast"}`), undefined);
  assert.ok(plan.take("drop", `{"instruction":"SLOWME"}`));
  assert.equal(plan.take("drop", `{"instruction":"SLOWME"}`), undefined);
});
