/**
 * The verdict stays true when the history is bent the ways production bends it: blips, rates,
 * replicas, faults still going on, deadlines the sender set. Each test is a case of issue 17 that
 * the oracle answered wrong before: the window's facts, every rule, the incident builder.
 */

import assert from "node:assert/strict";
import type { HandoffFailedRecord, HandoffLoopRecord, ObserverStateData } from "@mat/observer";
import { findingsOf } from "./diagnose.ts";
import { groupIncidents, statusOf } from "./incidents.ts";
import {
  at,
  emptyState,
  error,
  facts,
  proc,
  queues,
  runtime,
  sample,
  series,
  stuck,
  T0,
  task,
} from "./testdata/facts.ts";
import type { WindowFacts } from "./window_facts.ts";
import { requestsIn } from "./window_work.ts";

const ctx = {
  now: T0 + 120_000,
  empty: false,
  skippedLines: 0,
  skippedWhere: [],
  oracle: "oracle",
  chosenEnd: true,
};

function verdict(f: WindowFacts) {
  const grouped = groupIncidents(findingsOf(f, ctx), { requests: requestsIn(f) });
  return { ...grouped, status: statusOf(grouped.incidents) };
}

/** A state whose agents received `tasks` tasks each (and the user sent `requests`) */
function worked(tasks: Record<string, number>, requests = 0, messages = 0): ObserverStateData {
  const agent = (name: string, n: number, sent = 0) => ({
    agent: name,
    status: "up" as const,
    last_seen: at(0),
    in_flight: 0,
    messages_sent: sent,
    messages_received: n,
    tasks_received: n,
    tasks_completed: n,
    tasks_failed: 0,
    tasks_stuck: 0,
    llm_errors: 0,
    recent_latencies_ms: [],
  });
  return {
    ...emptyState(),
    messages_seen: messages,
    agents: [
      ...Object.entries(tasks).map(([name, n]) => agent(name, n)),
      agent("user", 0, requests),
    ],
  };
}

function loop(s: number): HandoffLoopRecord {
  return {
    schema_version: 1,
    seq: 9_000 + s,
    ts: at(s),
    type: "handoff_loop",
    conversation_id: "c-loop",
    agents: ["writer", "coder"],
    tasks: 6,
    message_seq: 8_000 + s,
  };
}

const AGENTS = ["orchestrator", "writer", "coder", "researcher"];

/** The coder's ERROR to a task the orchestrator made at `made` s with a deadline at `deadline` s */
function expired(
  seq: number,
  made: number,
  deadline: number,
  conv = `c${seq}`,
): HandoffFailedRecord {
  const i = seq % 1_000;
  return {
    schema_version: 1,
    seq,
    ts: at(made),
    type: "handoff_failed",
    task_message_id: `m${i}`,
    task_id: `t${i}`,
    conversation_id: conv,
    from: "orchestrator",
    to: "coder",
    attempt: 1,
    reply_message_id: `r${i}`,
    latency_ms: 5,
    error_kind: "deadline_exceeded",
    error_message: "deadline passed before start",
    retryable: true,
    message_seq: seq,
    task_created_at: at(made),
    deadline: at(deadline),
  };
}

Deno.test("a 50 ms blip of every queue does not hide a live handoff loop", () => {
  const f = facts({
    queues: queues(
      ...AGENTS.map((a, i) =>
        // One sample per agent unreadable, a few ms apart (the groups of a poll in turn)
        series(a, 0, 60, (t) => t === 30 ? { status: "ERR", members: 0 } : {}).map((s, n) =>
          n === 30 ? { ...s, ts: new Date(Date.parse(s.ts) + i * 15).toISOString() } : s
        )
      ),
    ),
    loops: [loop(31)],
  }, 60);
  const v = verdict(f);
  assert.equal(v.status, "failing");
  assert.equal(v.incidents[0]?.root.kind, "handoff_loop", "the loop is the cause");
  assert.ok(
    v.notes.some((n) => n.kind === "broker_unavailable"),
    "the blip, which touched no request, is a note",
  );
});

Deno.test("unreadable groups of different agents seconds apart are no broker outage", () => {
  const f = facts({
    queues: queues(
      ...AGENTS.map((a, i) =>
        series(a, 0, 60, (t) => t === 10 + 3 * i ? { status: "ERR", members: 0 } : {})
      ),
    ),
    errors: [20, 21, 22, 23].map((s) => error("coder", s, "llm_rate_limit")),
    stuck: [1, 2, 3].map((n) => stuck(task(`c${n}`, "writer", n), 18 + n)),
  }, 60);
  const all = findingsOf(f, ctx);
  assert.ok(all.every((x) => x.kind !== "broker_unavailable"), "no common outage");
  const v = verdict(f);
  const roots = v.incidents.map((i) => `${i.root.kind}:${i.root.agent}`).sort();
  assert.deepEqual(roots, ["llm_rate_limited:coder", "stuck_handoff:writer"]);
});

Deno.test("errors are judged as a share of the agent's work, with a floor", () => {
  const spike = (tasks: number) =>
    verdict(facts({
      errors: [1, 2, 3].map((s) => error("coder", s, "tool_error")),
      end: worked({ coder: tasks }),
    }));
  const quiet = spike(10);
  assert.equal(quiet.incidents[0]?.root.kind, "error_spike");
  assert.equal(quiet.incidents[0]?.severity, "error", "3 of 10 tasks failed");
  assert.match(quiet.incidents[0]?.root.summary ?? "", /3 of 10 \(30%\)/);
  const busy = spike(10_000);
  assert.equal(busy.status, "healthy", "3 of 10,000 tasks is no incident");
  assert.ok(busy.notes.some((n) => n.kind === "error_spike"), "but it is a note");
});

Deno.test("one malformed record among many messages, or one stuck task among many, is no error", () => {
  const f = facts({
    errors: [error("writer", 5, "malformed_record")],
    stuck: [stuck(task("c1", "writer"), 6)],
    end: worked({ writer: 5_000 }, 0, 20_000),
  });
  const v = verdict(f);
  assert.notEqual(v.status, "failing");
  for (const i of v.incidents) assert.notEqual(i.severity, "error", i.root.summary);
});

Deno.test("three replicas each dying once are no crash loop; one replica dying again and again is", () => {
  const killed = { signal: "SIGKILL", exit_code: 137 };
  const threeOnce = facts({
    runtime: [
      ...[100, 200, 300].map((pid) =>
        runtime("coder", 0, "started", { process: `pid:${pid}`, at: at(0) })
      ),
      ...[100, 200, 300].flatMap((pid, i) => [
        runtime("coder", 10 + 10 * i, "exited", { process: `pid:${pid}`, ...killed }),
        runtime("coder", 11 + 10 * i, "started", { process: `pid:${pid + 1}` }),
      ]),
    ],
    end: { ...emptyState(), processes: [101, 201, 301].map((pid) => proc("coder", pid)) },
  });
  const once = verdict(threeOnce);
  assert.ok(once.incidents.every((i) => i.root.kind !== "agent_crash_loop"));
  assert.ok(once.incidents.every((i) => i.severity !== "critical"));
  assert.match(once.incidents[0]?.root.summary ?? "", /3 replicas of coder/);

  const chain = facts({
    runtime: [
      runtime("coder", 0, "started", { process: "pid:200" }),
      runtime("coder", 0, "started", { process: "pid:100" }),
      ...[0, 1, 2].flatMap((n) => [
        runtime("coder", 10 + 10 * n, "exited", { process: `pid:${100 + n}`, ...killed }),
        runtime("coder", 11 + 10 * n, "started", { process: `pid:${101 + n}` }),
      ]),
    ],
    end: {
      ...emptyState(),
      processes: [proc("coder", 200), proc("coder", 103, { started_at: at(31) })],
    },
  });
  const loop = verdict(chain);
  assert.equal(loop.incidents[0]?.root.kind, "agent_crash_loop");
  assert.match(loop.incidents[0]?.root.summary ?? "", /pid:100 -> pid:101 -> pid:102/);
});

Deno.test("an LLM rate-limited to the end of the history is ongoing, not resolved", () => {
  const f = facts({
    errors: Array.from({ length: 10 }, (_, i) => error("coder", 30 + 10 * i, "llm_rate_limit")),
    end: worked({ coder: 10 }),
  }, 120);
  const v = verdict(f);
  assert.equal(v.incidents[0]?.root.kind, "llm_rate_limited");
  assert.equal(v.incidents[0]?.resolved, false);
  assert.equal(v.incidents[0]?.root.until, null);
});

Deno.test("tasks whose deadline passed before they were made are the sender's, not the receiver's", () => {
  const failed = Array.from(
    { length: 300 },
    (_, i) => expired(1_000 + i, 10 + i / 10, 8 + i / 10),
  );
  const f = facts({
    failed,
    errors: [error("coder", 10, "deadline_exceeded", { occurrences: 300 })],
    end: worked({ coder: 300 }),
  });
  const v = verdict(f);
  assert.equal(v.incidents[0]?.root.kind, "expired_before_sent");
  assert.equal(v.incidents[0]?.root.agent, "orchestrator");
  const shown = v.incidents[0]?.root.evidence;
  assert.equal(shown?.seqs.length, 8, "the newest evidence, capped");
  assert.equal(shown?.seqs_total, 300, "and how much there was in all");
  assert.ok(
    findingsOf(f, ctx).every((x) => x.kind !== "slow_agent"),
    "the coder is not slow",
  );
});

Deno.test("an unreadable group is transient by time, not by a count of samples", () => {
  // Polled every 100 ms: 5 samples unreadable is half a second
  const fast = series("coder", 0, 40, (t) => t >= 10 && t < 15 ? { status: "ERR" } : {})
    .map((s, i) => ({ ...s, ts: new Date(T0 + i * 100).toISOString() }));
  const f = facts({ queues: queues(fast, series("writer", 0, 4, () => ({}))) }, 4);
  assert.deepEqual(findingsOf(f, ctx).filter((x) => x.kind === "consumer_stalled"), []);
});

Deno.test("a group whose members keep joining and leaving churns", () => {
  const storm = series("researcher", 0, 60, () => ({})).map((s, i) => {
    const rebalancing = i % 2 === 1;
    const extra = Math.floor(i / 4);
    return {
      ...s,
      group_state: rebalancing ? "PreparingRebalance" : "Stable",
      members: rebalancing
        ? [...s.members, { member_id: `bad-${extra}`, client_id: "researcher", host: "/10.0.0.9" }]
        : s.members,
    };
  });
  const f = facts({
    queues: queues(storm),
    end: { ...emptyState(), processes: [proc("researcher", 100)] },
  }, 60);
  const v = verdict(f);
  assert.equal(v.incidents[0]?.root.kind, "group_churn");
  assert.equal(v.incidents[0]?.root.agent, "researcher");
});

Deno.test("a steady group with its replicas is no churn", () => {
  const steady = series("researcher", 0, 60, () => ({ members: 3 }));
  const f = facts({
    queues: queues(steady),
    end: { ...emptyState(), processes: [1, 2, 3].map((n) => proc("researcher", n)) },
  }, 60);
  assert.equal(verdict(f).status, "healthy");
  // Nor is one rollout: members replaced once, rebalancing for a few samples
  const rollout = steady.map((s, i) =>
    i >= 30 && i < 33
      ? { ...s, group_state: "PreparingRebalance", members: [...s.members, ...s.members] }
      : s
  );
  assert.equal(verdict(facts({ queues: queues(rollout) }, 60)).status, "healthy");
  void sample;
});

Deno.test("one replica's partitions standing still while the others are read is a frozen consumer, not a busy agent", () => {
  const frozen = series("worker-03", 0, 40, () => ({})).map((s, t) => ({
    ...s,
    status: t >= 10 ? "STALL" as const : "OK" as const,
    partitions: [
      // p0 read on by the live replica; p1 stands still from 10 s, its lag growing
      { partition: 0, high: String(100 + 10 * t), committed: String(100 + 10 * t), lag: 0 },
      {
        partition: 1,
        high: String(100 + 10 * t),
        committed: String(t >= 10 ? 200 : 100 + 10 * t),
        lag: t >= 10 ? 10 * (t - 10) : 0,
      },
    ],
    lag: t >= 10 ? 10 * (t - 10) : 0,
  }));
  const state = worked({ "worker-03": 4_000 });
  const agents = state.agents.map((a) =>
    a.agent === "worker-03"
      ? { ...a, last_seen: at(40), recent_latencies_ms: [5, 6, 5, 7, 5, 6, 8, 5] }
      : a
  );
  const v = verdict(facts({ queues: queues(frozen), end: { ...state, agents } }, 40));
  assert.equal(v.incidents[0]?.root.kind, "consumer_stalled");
  assert.equal(v.incidents[0]?.root.secondary, undefined, "not a consequence of being busy");
  assert.match(v.incidents[0]?.root.summary ?? "", /partition p1 .* stood still/);
});

Deno.test("tasks sent past their deadline explain the stall and late answers of their receiver", () => {
  const conv = (i: number) => `c${i}`;
  const failed = Array.from({ length: 50 }, (_, i) => expired(2_000 + i, 10, 8, conv(i)));
  const stuckOnes = [0, 1, 2].map((i) => ({
    ...stuck(task(conv(i), "coder"), 10),
    task_id: `t${i}`,
  }));
  const f = facts({
    failed,
    stuck: stuckOnes,
    errors: [error("coder", 10, "deadline_exceeded", { occurrences: 50 })],
    queues: queues(
      series("coder", 0, 30, (t) => t >= 9 && t <= 14 ? { status: "STALL", lag: 40 } : {}),
    ),
    end: worked({ coder: 50 }),
  }, 30);
  const v = verdict(f);
  assert.equal(v.incidents.length, 1, v.incidents.map((i) => i.chain).join(" | "));
  assert.equal(v.incidents[0]?.root.kind, "expired_before_sent");
});
