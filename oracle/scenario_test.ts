/**
 * The oracle on time-machine files written by the real observer while the real agents ran a
 * fault scenario through the real broker. The scenario runs once, in one test whose steps each
 * read its files; the test removes them whatever its steps found.
 */

import assert from "node:assert/strict";
import { bootstrapServers } from "@mat/agents/protocol";
import { runScenario, type ScenarioResult } from "../scripts/scenario.ts";
import { oracle } from "./testing.ts";
import { outputProblems } from "./output_schema.ts";

const FAULTS = "coder=error(kind=llm_rate_limit);writer=drop(match=incident);" +
  "researcher=malformed(times=1)";
const REQUESTS = [
  "Summarise why consumer lag matters",
  "Write a function that computes consumer lag",
  "Draft the incident report for last night's outage",
];

interface CauseView {
  kind: string;
  agent: string | null;
  severity: string;
  process: string | null;
  summary: string;
  evidence: { seqs: number[] };
}

function causes(doc: Record<string, unknown>): CauseView[] {
  return (doc["incidents"] as { root_cause: CauseView }[]).map((i) => i.root_cause);
}

async function json(args: string[], dir: string): Promise<Record<string, unknown>> {
  const r = await oracle([...args, "--format", "json", "--data-dir", dir]);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(outputProblems(doc), [], `${args.join(" ")} validates`);
  return doc;
}

interface SnapshotLine {
  seq: number;
  ts: string;
  diff_seq: number;
  state: Record<string, unknown>;
}

Deno.test("the oracle answers from the files of a fault scenario", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "oracle-scenario-" });
  try {
    const result: ScenarioResult = await runScenario({
      bootstrap: bootstrapServers().join(","),
      dataDir: dir,
      faults: FAULTS,
      requests: REQUESTS,
    });

    await t.step(
      "diagnose gives each injected fault its own incident, named by its cause",
      async () => {
        const answered = result.outcomes.map((o) => o.reply?.type);
        assert.deepEqual(answered, ["RESULT", "ERROR", "ERROR"], "the faults broke two requests");
        const doc = await json(["diagnose"], dir);
        assert.equal(doc["status"], "failing");
        const roots = causes(doc);
        const named = roots.map((f) => `${f.kind}:${f.agent}`);
        assert.deepEqual(
          [...named].sort(),
          ["llm_rate_limited:coder", "malformed_messages:researcher", "stuck_handoff:writer"],
          "one incident per injected fault, each named by its cause",
        );
        for (const f of roots) {
          assert.ok(f.evidence.seqs.length > 0, `${f.kind} points at its evidence`);
        }
        const r = await oracle(["diagnose", "--data-dir", dir]);
        assert.ok(r.stdout.length < 8_000 && JSON.stringify(doc).length < 8_000, "bounded output");
        assert.match(r.stdout, /^status: FAILING/);
      },
    );

    await t.step(
      "trace follows the dropped request to the handoff that never came back",
      async () => {
        const incident = result.outcomes[2]?.conversation_id ?? "";
        const doc = await json(["trace", incident], dir);
        assert.equal(doc["conversation_id"], incident);
        const hops = doc["hops"] as {
          from: string;
          to: string;
          outcome: string;
          attempt: number;
        }[];
        assert.deepEqual(
          hops.map((h) => `${h.from}->${h.to}#${h.attempt}`),
          [
            "user->orchestrator#1",
            "orchestrator->researcher#1",
            "orchestrator->writer#1",
            "orchestrator->writer#2",
          ],
        );
        assert.equal(hops[1]?.outcome, "completed");
        assert.equal(hops[2]?.outcome, "stuck");
        assert.match(String(doc["verdict"]), /^Stopped at /);
      },
    );

    await t.step(
      "errors, llm, queues, agents and replay answer from the same history",
      async () => {
        const critical = await json(["errors", "-s", "warning", "-a", "coder"], dir);
        const kinds = (critical["errors"] as { kind: string }[]).map((e) => e.kind);
        assert.deepEqual([...new Set(kinds)], ["llm_rate_limit"]);
        const llm = await json(["llm"], dir);
        const rows = llm["usage"] as { agent: string; calls: number }[];
        assert.ok(rows.some((u) => u.agent === "researcher" && u.calls >= 3), JSON.stringify(rows));
        const queues = await json(["queues"], dir);
        assert.ok((queues["queues"] as unknown[]).length >= 4);
        const agents = await json(["agents"], dir);
        const coder = (agents["agents"] as { agent: string; tasks_failed: number }[])
          .find((a) => a.agent === "coder");
        assert.equal(coder?.tasks_failed, 2, "both attempts at the code step failed");
        const replay = await json(["replay", "-m", "10", "-l", "5"], dir);
        assert.equal((replay["events"] as unknown[]).length, 5);
        assert.ok(Number(replay["omitted"]) > 0, "says what it left out");
      },
    );

    await t.step("state --at T equals the state the observer held at T", async () => {
      const snapshots = (await Deno.readTextFile(`${dir}/state_time_machine.jsonl`)).trim()
        .split("\n").map((l) => JSON.parse(l) as SnapshotLine);
      const diffTimes = new Map<number, string>();
      for (
        const l of (await Deno.readTextFile(`${dir}/diff_time_machine.jsonl`)).trim().split("\n")
      ) {
        const r = JSON.parse(l);
        diffTimes.set(r.seq, r.ts);
      }
      // A later snapshot, rebuilt from an earlier one plus the events between them: keep only the
      // earlier snapshots in a copy of the files, then ask for the state at the later one's time.
      const target = snapshots.findLast((s, i) =>
        i >= 2 && (diffTimes.get(s.diff_seq + 1) ?? "~") > s.ts &&
        (snapshots[i - 2]?.diff_seq ?? 0) < s.diff_seq
      );
      assert.ok(target, "a snapshot with events before it");
      const copy = await Deno.makeTempDir({ prefix: "oracle-state-at-" });
      try {
        await Deno.copyFile(`${dir}/diff_time_machine.jsonl`, `${copy}/diff_time_machine.jsonl`);
        const earlier = snapshots.filter((s) => s.seq < target.seq - 1);
        await Deno.writeTextFile(
          `${copy}/state_time_machine.jsonl`,
          earlier.map((s) => JSON.stringify(s)).join("\n") + "\n",
        );
        const doc = await json(["state", "--at", target.ts, "-l", "1000"], copy);
        const rebuilt = doc["rebuilt_from"] as {
          snapshot_seq: number;
          diff_records_replayed: number;
        };
        assert.ok(rebuilt.diff_records_replayed > 0, "events were replayed on top of a snapshot");
        const state = doc["state"] as Record<string, unknown>;
        const held = target.state;
        for (
          const key of ["messages_seen", "malformed_seen", "error_counts", "usage", "positions"]
        ) {
          assert.deepEqual(state[key], held[key], key);
        }
        assert.deepEqual(state["handoffs_open"], held["handoffs_open"]);
        assert.deepEqual(state["errors"], held["errors"]);
      } finally {
        await Deno.remove(copy, { recursive: true });
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("diagnose names the tasks an agent process had in flight when it was killed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "oracle-crash-" });
  try {
    const result = await runScenario({
      bootstrap: bootstrapServers().join(","),
      dataDir: dir,
      faults: "researcher=crash",
      requests: ["Summarise the outage"],
      agentEnv: { ORCHESTRATOR_STEP_TIMEOUT_MS: "30000" },
    });
    assert.equal(result.outcomes[0]?.reply?.type, "RESULT", "the redelivered task completed");
    const doc = await json(["diagnose"], dir);
    const crash = causes(doc).find((f) => f.kind === "agent_crashed");
    assert.ok(crash, JSON.stringify(doc["incidents"]));
    assert.equal(crash.agent, "researcher");
    assert.match(crash.process ?? "", /^pid:\d+$/);
    assert.match(crash.summary, /SIGKILL/);
    assert.match(crash.summary, /\.1-researcher"/);
    assert.ok(crash.evidence.seqs.length > 0);
    const agents = await json(["agents"], dir);
    const researcher = (agents["agents"] as { agent: string; processes: unknown[] }[])
      .find((a) => a.agent === "researcher");
    const procs = researcher?.processes as { restart_count: number; last_termination: unknown }[];
    assert.ok(procs.some((p) => p.last_termination !== null), JSON.stringify(procs));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
