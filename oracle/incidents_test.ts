import assert from "node:assert/strict";
import { type Finding, noImpact } from "./finding.ts";
import { explains, groupIncidents, mergeDuplicates, statusOf } from "./incidents.ts";

function finding(partial: Partial<Finding> & Pick<Finding, "kind">): Finding {
  return {
    severity: "error",
    agent: null,
    process: null,
    summary: partial.kind,
    short: partial.kind,
    since: "2026-11-29T10:00:10.000Z",
    until: null,
    evidence: { seqs: [], offsets: [], seqs_total: 0 },
    next_commands: [],
    impact: noImpact(),
    conversations: [],
    tasks: [],
    ...partial,
  };
}

const loop = finding({
  kind: "agent_crash_loop",
  severity: "critical",
  agent: "coder",
  short: "coder crash-looped (SIGKILL x4)",
  conversations: ["c1"],
  impact: { ...noImpact(), tasks_lost: 3 },
});

Deno.test("a crash loop explains its agent's stuck handoffs and the requests they failed", () => {
  const stuck = finding({ kind: "stuck_handoff", agent: "coder", conversations: ["c1", "c2"] });
  const failed = finding({
    kind: "requests_failed",
    agent: "orchestrator",
    conversations: ["c1", "c2"],
    impact: { ...noImpact(), requests_failed: 2 },
  });
  const { incidents } = groupIncidents([failed, stuck, loop]);
  assert.equal(incidents.length, 1, "one cause, its symptoms folded under it");
  const [incident] = incidents;
  assert.equal(incident?.root.kind, "agent_crash_loop");
  assert.deepEqual(incident?.symptoms.map((s) => s.kind), ["stuck_handoff"]);
  assert.equal(incident?.impact.requests_failed, 2);
  assert.equal(
    incident?.chain,
    "coder crash-looped (SIGKILL x4) -> 3 task(s) lost -> stuck_handoff -> 2 user request(s) failed",
  );
});

Deno.test("findings that share no agent, conversation or cause stay apart, ranked by impact", () => {
  const malformed = finding({ kind: "malformed_messages", agent: "researcher", severity: "error" });
  const limited = finding({ kind: "llm_rate_limited", agent: "writer", conversations: ["c9"] });
  const failed = finding({
    kind: "requests_failed",
    conversations: ["c9", "c10"],
    impact: { ...noImpact(), requests_failed: 2 },
  });
  const { incidents } = groupIncidents([malformed, limited, failed]);
  assert.deepEqual(incidents.map((i) => i.root.kind), [
    "llm_rate_limited",
    "requests_failed",
    "malformed_messages",
  ]);
  assert.equal(incidents[0]?.impact.requests_failed, 1, "c9 is the rate limit's");
  assert.equal(incidents[1]?.impact.requests_failed, 1, "c10 has no other cause");
});

Deno.test("a cause does not explain what came long after it ended, nor its betters", () => {
  const over = { ...loop, until: "2026-11-29T10:00:20.000Z", conversations: [] };
  const later = finding({
    kind: "stuck_handoff",
    agent: "coder",
    since: "2026-11-29T10:05:00.000Z",
  });
  assert.equal(explains(over, later), false);
  assert.equal(explains(finding({ kind: "stuck_handoff", agent: "coder" }), loop), false);
});

Deno.test("duplicates of a kind and agent merge; an info root is a note", () => {
  const a = finding({
    kind: "consumer_stalled",
    agent: "writer",
    severity: "info",
    until: "2026-11-29T10:00:30.000Z",
  });
  const b = { ...a, since: "2026-11-29T10:00:05.000Z", conversations: ["c1"] };
  assert.equal(mergeDuplicates([a, b]).length, 1);
  const grouped = groupIncidents([a, b]);
  assert.equal(grouped.incidents.length, 0);
  assert.equal(grouped.notes.length, 1);
  assert.equal(statusOf(grouped.incidents), "healthy");
});

Deno.test("a cause that is over and cost nothing keeps what it explains: its incident is a warning, not a note", () => {
  const outage = finding({
    kind: "broker_unavailable",
    severity: "info",
    since: "2026-11-29T10:00:10.000Z",
    until: "2026-11-29T10:00:20.000Z",
  });
  const stalled = finding({
    kind: "consumer_stalled",
    severity: "warning",
    agent: "writer",
    since: "2026-11-29T10:00:12.000Z",
    until: "2026-11-29T10:00:25.000Z",
  });
  const { incidents, notes } = groupIncidents([outage, stalled]);
  assert.deepEqual(notes, []);
  assert.equal(incidents[0]?.root.kind, "broker_unavailable");
  assert.equal(incidents[0]?.severity, "warning");
  assert.deepEqual(incidents[0]?.symptoms.map((s) => s.kind), ["consumer_stalled"]);
});

Deno.test("an outage explains no loop beside it, however close", () => {
  const outage = finding({
    kind: "broker_unavailable",
    severity: "info",
    since: "2026-11-29T10:00:10.000Z",
    until: "2026-11-29T10:00:11.000Z",
  });
  const loopNow = finding({ kind: "handoff_loop", severity: "critical", agent: "writer" });
  assert.equal(explains(outage, loopNow), false);
});
