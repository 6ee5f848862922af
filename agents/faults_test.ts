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

Deno.test("the memory fault makes the memory it holds resident, so a memory limit is reached", async () => {
  assert.equal(parseFaults("researcher=memory(mb=64)")[0]?.mb, 64);
  assert.equal(parseFaults("researcher=memory")[0]?.mb, 1024);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { holdMemory } from ${JSON.stringify(new URL("./faults.ts", import.meta.url).href)};
       setTimeout(() => console.log("held"), 0); await holdMemory(96);`,
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    const residentMiB = async () => {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
    };
    const before = Date.now();
    let rss = 0;
    while ((rss = await residentMiB()) < 96 + 20 && Date.now() - before < 60_000) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(rss >= 96 + 20, `resident ${rss.toFixed(0)} MiB, expected the 96 MiB held on top`);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});
