import assert from "node:assert/strict";
import type { RuntimeEventRecord } from "@mat/observer";
import { at, dataDir, jsonl, queueSample } from "./testdata/history.ts";
import { oracle } from "./testing.ts";

function runtime(
  seq: number,
  agent: string,
  kind: RuntimeEventRecord["kind"],
  extra: Partial<RuntimeEventRecord> = {},
): RuntimeEventRecord {
  return {
    schema_version: 1,
    seq,
    ts: at(seq),
    type: "runtime_event",
    source: "local",
    kind,
    agent,
    process: `pid:${agent.length}`,
    at: at(seq),
    tasks_in_flight: [],
    ...extra,
  };
}

Deno.test("agents takes each agent's status from its process facts, not its consumer group", async () => {
  // coder's process exited while its group still lists a member (not yet timed out); writer's
  // process runs while its group has no member; researcher has no process seen: its group says
  const noMember = { ...queueSample(3, 3, "writer"), members: [] };
  const dir = await dataDir({
    diff: [
      queueSample(1, 1, "coder"),
      runtime(2, "coder", "started"),
      noMember,
      runtime(4, "writer", "started"),
      runtime(5, "coder", "exited", { exit_code: 137, signal: "SIGKILL", reason: "killed" }),
      queueSample(6, 6, "researcher"),
    ].map(jsonl).join(""),
  });
  const r = await oracle(["agents", "-f", "json", "--data-dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  const byName = new Map<string, Record<string, unknown>>(
    JSON.parse(r.stdout).agents.map((a: Record<string, unknown>) => [a["agent"], a]),
  );
  const status = (name: string) => {
    const a = byName.get(name) ?? {};
    return [a["status"], a["status_source"], a["status_reason"], a["consumers"]];
  };
  assert.deepEqual(status("coder"), [
    "down",
    "processes",
    "no process running: pid:5 exited (killed, code 137, SIGKILL)",
    1,
  ]);
  assert.deepEqual(status("writer"), [
    "up",
    "processes",
    "1 of 1 process(es) running: pid:6",
    0,
  ]);
  assert.deepEqual(status("researcher"), [
    "up",
    "consumer_group",
    "1 consumer(s) in its group(s), no process seen",
    1,
  ]);
  const text = await oracle(["agents", "--data-dir", dir]);
  assert.equal(text.code, 0, text.stderr);
  assert.equal(
    text.stdout.split("\n").filter((l) => /^(coder|writer):/.test(l)).join("\n"),
    [
      "coder: down (processes: no process running: pid:5 exited (killed, code 137, SIGKILL)); 1 consumer(s); last seen -; 0 task(s) in flight; tasks: 0 received, 0 completed, 0 failed, 0 stuck; latency p50 -, p95 -",
      "writer: up (processes: 1 of 1 process(es) running: pid:6); 0 consumer(s); last seen -; 0 task(s) in flight; tasks: 0 received, 0 completed, 0 failed, 0 stuck; latency p50 -, p95 -",
    ].join("\n"),
  );
  const state = await oracle(["state", "--data-dir", dir]);
  assert.match(state.stdout, /^agent coder: down \(processes: no process running/m);
  assert.match(state.stdout, /^agent writer: up \(processes: 1 of 1 process\(es\) running/m);
  await Deno.remove(dir, { recursive: true });
});
