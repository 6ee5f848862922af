import assert from "node:assert/strict";
import { score, summarise } from "./score.ts";

function doc(status: string, roots: [string, string | null, string][]): Record<string, unknown> {
  return {
    status,
    incidents: roots.map(([kind, agent, severity]) => ({
      root_cause: { kind, agent, severity },
      symptoms: [{ kind: "stuck_handoff" }],
    })),
  };
}

Deno.test("the expected cause ranked first scores 1 over the incidents shown", () => {
  const s = score(
    doc("failing", [["agent_crash_loop", "coder", "critical"], [
      "llm_rate_limited",
      "writer",
      "error",
    ]]),
    { kind: "agent_crash_loop", agent: "coder" },
  );
  assert.equal(s.rank, 1);
  assert.equal(s.precision, 0.5);
  assert.equal(s.findings, 4, "roots and their symptoms");
  assert.equal(s.falseCriticals, 0);
  assert.equal(s.ok, true);
});

Deno.test("a missing cause scores 0, and a critical that is not it is a false critical", () => {
  const s = score(doc("failing", [["agent_down", "coder", "critical"]]), {
    kind: "consumer_stalled",
    agent: "coder",
  });
  assert.equal(s.rank, null);
  assert.equal(s.precision, 0);
  assert.equal(s.falseCriticals, 1);
  assert.equal(s.ok, false);
});

Deno.test("a control passes only when healthy with no warning or worse", () => {
  assert.equal(score(doc("healthy", []), { status: "healthy" }).ok, true);
  assert.equal(
    score(doc("degraded", [["agent_restarted", "writer", "warning"]]), { status: "healthy" }).ok,
    false,
  );
  const sum = summarise([
    score(doc("healthy", []), { status: "healthy" }),
    score(doc("failing", [["agent_down", "x", "error"]]), { status: "healthy" }),
  ]);
  assert.equal(sum.top1, 0.5);
  assert.equal(sum.precision, 0.5);
});

Deno.test("where no critical is expected, even the expected cause being critical is a false one", () => {
  const expect = { kind: "agent_crashed", agent: "worker-01", noCritical: true } as const;
  const critical = score(doc("failing", [["agent_crashed", "worker-01", "critical"]]), expect);
  assert.equal(critical.rank, 1);
  assert.equal(critical.falseCriticals, 1);
  assert.equal(critical.ok, false);
  const loop = score(doc("failing", [["agent_crash_loop", "worker-01", "critical"]]), expect);
  assert.equal(loop.rank, null);
  assert.equal(loop.falseCriticals, 1);
  const right = score(
    doc("degraded", [["agent_crashed", "worker-01", "error"], ["agent_restarted", "x", "warning"]]),
    expect,
  );
  assert.equal(right.ok, true);
  assert.equal(right.falseCriticals, 0);
});
