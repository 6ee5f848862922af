import assert from "node:assert/strict";
import { at, facts, proc, runtime, task } from "../testdata/facts.ts";
import { processRules } from "./processes.ts";

const O = "oracle";
const killed = { reason: "Signaled", exit_code: 137, signal: "SIGKILL" };

Deno.test("three deaths of one agent are a crash loop, ongoing while it keeps dying", () => {
  const f = facts({
    runtime: [10, 20, 30].map((s) =>
      runtime("coder", s, "exited", { ...killed, tasks_in_flight: [task("c1", "coder")] })
    ),
  }, 40);
  f.end.processes = [proc("coder", 103, { started_at: at(31) })];
  const [finding, ...rest] = processRules(f, O);
  assert.equal(rest.length, 0);
  assert.equal(finding?.kind, "agent_crash_loop");
  assert.equal(finding?.severity, "critical");
  assert.equal(finding?.until, null);
  assert.equal(finding?.impact.tasks_lost, 1, "a task redelivered and lost again counts once");
  assert.match(finding?.short ?? "", /SIGKILL x3/);
});

Deno.test("two deaths holding work are a crash, not a crash loop", () => {
  const f = facts({
    runtime: [10, 20].map((s) =>
      runtime("coder", s, "exited", { ...killed, tasks_in_flight: [task(`c${s}`, "coder")] })
    ),
  });
  f.end.processes = [proc("coder", 103, { started_at: at(21) })];
  const kinds = processRules(f, O).map((x) => x.kind);
  assert.deepEqual(kinds, ["agent_crashed"]);
});

Deno.test("a death holding a task is a crash, resolved once the agent runs again", () => {
  const f = facts({
    runtime: [runtime("researcher", 10, "exited", {
      ...killed,
      tasks_in_flight: [task("c1", "researcher")],
    })],
  });
  f.end.processes = [proc("researcher", 101, { started_at: at(11) })];
  const [finding] = processRules(f, O);
  assert.equal(finding?.kind, "agent_crashed");
  assert.equal(finding?.severity, "warning", "recovered, and the task was answered since");
  assert.equal(finding?.until, at(11));
  assert.deepEqual(finding?.conversations, ["c1"]);
});

Deno.test("a kill while idle is worth a line; a clean stop is not", () => {
  const killedIdle = facts({ runtime: [runtime("researcher", 10, "exited", killed)] });
  killedIdle.end.processes = [proc("researcher", 101, { started_at: at(11) })];
  const [finding] = processRules(killedIdle, O);
  assert.equal(finding?.kind, "agent_restarted");
  assert.equal(finding?.severity, "warning");

  const stopped = facts({
    runtime: [runtime("researcher", 10, "exited", { reason: "stopped", exit_code: 0 })],
  });
  stopped.end.processes = [proc("researcher", 100, {
    status: "exited",
    last_termination: { at: at(10), reason: "stopped", exit_code: 0, signal: null },
  })];
  assert.deepEqual(processRules(stopped, O), []);
});

Deno.test("a kill whose tasks the observer could not name is not called idle", () => {
  const f = facts({
    runtime: [runtime("researcher", 10, "exited", { ...killed, tasks_in_flight_complete: false })],
  });
  f.end.processes = [proc("researcher", 101, { started_at: at(11) })];
  const [finding] = processRules(f, O);
  assert.equal(finding?.kind, "agent_restarted");
  assert.doesNotMatch(finding?.summary ?? "", /idle/);
  assert.match(finding?.summary ?? "", /could not read the queues up to the death/);
  assert.equal(finding?.short, "researcher killed (SIGKILL), its tasks unknown");
});

Deno.test("an exit with code 0 of its own is no crash", () => {
  const f = facts({ runtime: [runtime("writer", 10, "exited", { exit_code: 0 })] });
  f.end.processes = [proc("writer", 101, { started_at: at(11) })];
  assert.deepEqual(processRules(f, O), []);
});

Deno.test("an agent with no running process at the end is down; a running one is not", () => {
  const down = facts();
  down.end.processes = [proc("writer", 100, {
    status: "crash_loop",
    last_termination: { at: at(-300), reason: "Error", exit_code: 1, signal: null },
  })];
  const [finding] = processRules(down, O);
  assert.equal(finding?.kind, "agent_down");
  assert.equal(finding?.severity, "critical");

  const up = facts();
  up.end.processes = [proc("writer", 100)];
  assert.deepEqual(processRules(up, O), []);
});

Deno.test("a pod replaced by a rollout before it started is not the agent being down", () => {
  // The first pod never started and was deleted after its replacement was already running
  const rollout = facts();
  rollout.end.processes = [
    proc("researcher", 1, {
      process: "agent-researcher-new",
      source: "k8s",
      started_at: at(-60),
      last_event_at: at(-60),
    }),
    proc("researcher", 2, {
      process: "agent-researcher-old",
      source: "k8s",
      status: "deleted",
      started_at: null,
      last_event_at: at(-10),
      last_termination: { at: at(-10), reason: "Completed", exit_code: 0, signal: null },
    }),
  ];
  assert.deepEqual(processRules(rollout, O).map((f) => f.kind), []);
});

Deno.test("a pod deleted while it holds a task ended that task's work; an idle one deleted did not", () => {
  const holding = facts({
    runtime: [runtime("writer", 10, "deleted", {
      reason: "Completed",
      exit_code: 0,
      tasks_in_flight: [task("c1", "writer")],
    })],
  });
  holding.end.processes = [proc("writer", 101, { started_at: at(12) })];
  const [finding, ...rest] = processRules(holding, O);
  assert.equal(rest.length, 0);
  assert.equal(finding?.kind, "agent_crashed");
  assert.match(finding?.summary ?? "", /pod deleted/);
  assert.equal(finding?.impact.tasks_lost, 1);

  const idle = facts({ runtime: [runtime("writer", 10, "deleted", { reason: "Completed" })] });
  idle.end.processes = [proc("writer", 101, { started_at: at(12) })];
  assert.deepEqual(processRules(idle, O), []);
});

Deno.test("a lost task retried under a new message and still unanswered is still open", () => {
  const lost = task("c1", "writer");
  const f = facts({
    runtime: [runtime("writer", 10, "exited", { ...killed, tasks_in_flight: [lost] })],
  });
  f.end.processes = [proc("writer", 101, { started_at: at(11) })];
  const { to, ...fields } = lost;
  f.end.handoffs_open = [{
    ...fields,
    to,
    task_message_id: "msg-retry",
    attempt: 2,
    created_at: at(30),
    observed_at: at(30),
    started_seq: 40,
    stuck: false,
  }];
  const [finding] = processRules(f, O);
  assert.equal(finding?.kind, "agent_crashed");
  assert.match(finding?.summary ?? "", /1 still unanswered/);
  assert.equal(finding?.severity, "error");
});
