/**
 * A death the observer catches up on: the real observer in process, its local source tailing a
 * processes.jsonl the test writes in the supervisor's format, the queues on the real broker (for
 * the bounds, a broker that does not answer). The whole system (supervisor, agents, the observer
 * stopped and started again) is `eval/observer_rollout_test.ts`.
 */

import assert from "node:assert/strict";
import { createEnvelope, encodeEnvelope, type Envelope, replyTo } from "@mat/agents";
import { running, TestBed, waitFor } from "./testing.ts";
import { LocalSource } from "./local_source.ts";
import type { DiffRecord, RuntimeEventRecord } from "./record_format.ts";
import { freePortPair } from "./testing/own_broker.ts";

function processLine(fields: Record<string, unknown>): string {
  return JSON.stringify({ schema_version: 1, agent: "researcher", restart_count: 0, ...fields }) +
    "\n";
}

function task(taskId: string): Envelope {
  return createEnvelope({
    type: "TASK",
    source: "orchestrator",
    target: "researcher",
    conversation_id: `c-${taskId}`,
    task_id: taskId,
    payload: { instruction: taskId },
  });
}

/** Past `ms`, by the clock the envelopes and Kafka's record times are made with */
async function after(ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() <= until) await new Promise((r) => setTimeout(r, until - Date.now() + 1));
}

function deathsOf(records: DiffRecord[]): RuntimeEventRecord[] {
  return records.filter((r): r is RuntimeEventRecord =>
    r.type === "runtime_event" && r.kind === "exited" && r.agent === "researcher"
  );
}

Deno.test({
  name: "a death read before the queues names the tasks open at its time, not those sent after",
  fn: async () => {
    const bed = await TestBed.create(["orchestrator", "researcher"], 2);
    const stateDir = await Deno.makeTempDir({ prefix: "runtime-hold-" });
    let obs: Awaited<ReturnType<typeof running>> | undefined;
    try {
      // Before the death: two tasks handed to the researcher (pid 41)
      const held = task("held");
      const redone = task("redone");
      await bed.kit.send(bed.topic("researcher"), [
        { key: "a", value: encodeEnvelope(held) },
        { key: "b", value: encodeEnvelope(redone) },
      ]);
      const startedAt = new Date(Date.now() - 60_000).toISOString();
      await after(5);
      const diedAt = new Date().toISOString();
      await after(5);
      // After it: the restarted researcher answers one task again, and a new task comes
      const later = task("later");
      await bed.kit.send(bed.topic("orchestrator"), [
        { value: encodeEnvelope(replyTo(redone, "RESULT", { payload: { ok: true } })) },
      ]);
      await bed.kit.send(bed.topic("researcher"), [{ key: "a", value: encodeEnvelope(later) }]);
      await Deno.writeTextFile(
        `${stateDir}/processes.jsonl`,
        processLine({ ts: startedAt, event: "started", pid: 41, started_at: startedAt }) +
          processLine({
            ts: diedAt,
            event: "exited",
            pid: 41,
            started_at: startedAt,
            signal: "SIGKILL",
            exit_code: 137,
            restart_in_ms: 500,
          }),
      );
      obs = await running(bed, {}, (o) => {
        o.processSource = new LocalSource({ stateDir, pollMs: 50, resourcesIntervalMs: 0 });
      });
      await waitFor(async () => deathsOf(await bed.diff()).length > 0, 30_000, "the death");
      const [death] = deathsOf(await bed.diff());
      assert.deepEqual(
        death?.tasks_in_flight.map((t) => t.task_id).sort(),
        ["held", "redone"],
        JSON.stringify(death),
      );
      assert.equal(death?.tasks_in_flight_complete, undefined);
      const state = obs.observer.recorder.state.runtime.processes.get("pid:41");
      assert.deepEqual(state?.lost_tasks.map((t) => t.task_id).sort(), ["held", "redone"]);
    } finally {
      await obs?.stop();
      await bed.close();
      await Deno.remove(stateDir, { recursive: true });
    }
  },
  sanitizeOps: false,
  sanitizeResources: false,
});

/** A bed on a broker nobody runs: the queues can never be read */
async function unreachableBed(): Promise<TestBed> {
  return await TestBed.create([], 1, {
    brokers: [`127.0.0.1:${freePortPair()}`],
    waitForBroker: false,
  });
}

/** Closes a bed whose broker never ran (no topics to delete) */
async function closeUnreachable(bed: TestBed): Promise<void> {
  await bed.kit.close();
  await Deno.remove(bed.dataDir, { recursive: true });
}

async function deathAndRestart(stateDir: string): Promise<void> {
  const t0 = new Date(Date.now() - 10_000).toISOString();
  const t1 = new Date(Date.now() - 5_000).toISOString();
  await Deno.writeTextFile(
    `${stateDir}/processes.jsonl`,
    processLine({ ts: t0, event: "started", pid: 51, started_at: t0 }) +
      processLine({ ts: t1, event: "exited", pid: 51, started_at: t0, exit_code: 1 }) +
      processLine({ ts: t1, event: "started", pid: 52, started_at: t1, restart_count: 1 }),
  );
}

Deno.test({
  name: "a death waits OBSERVER_DEATH_HOLD_MS at most for queues it cannot read, then says so",
  fn: async () => {
    const bed = await unreachableBed();
    const stateDir = await Deno.makeTempDir({ prefix: "runtime-hold-" });
    await deathAndRestart(stateDir);
    let obs: Awaited<ReturnType<typeof running>> | undefined;
    try {
      obs = await running(bed, { OBSERVER_DEATH_HOLD_MS: "200" }, (o) => {
        o.processSource = new LocalSource({ stateDir, pollMs: 50, resourcesIntervalMs: 0 });
      });
      await waitFor(async () => deathsOf(await bed.diff()).length > 0, 30_000, "the death");
      // The events behind the death waited for it, in the source's order
      await waitFor(
        async () =>
          (await bed.diff()).some((r) => r.type === "runtime_event" && r.kind === "restarted"),
        30_000,
        "the restart",
      );
      const runtime = (await bed.diff()).flatMap((r) =>
        r.type === "runtime_event" ? [`${r.kind} ${r.process}`] : []
      );
      assert.deepEqual(runtime, [
        "started pid:51",
        "exited pid:51",
        "restarted pid:52",
        "started pid:52",
      ]);
      const [death] = deathsOf(await bed.diff());
      assert.equal(death?.tasks_in_flight_complete, false);
      assert.equal(obs.observer.runtimeHold.deathsIncomplete, 1);
    } finally {
      await obs?.stop();
      await closeUnreachable(bed);
      await Deno.remove(stateDir, { recursive: true });
    }
  },
  sanitizeOps: false,
  sanitizeResources: false,
});

Deno.test({
  name: "a death still held when the observer stops is recorded at the stop, saying so",
  fn: async () => {
    const bed = await unreachableBed();
    const stateDir = await Deno.makeTempDir({ prefix: "runtime-hold-" });
    await deathAndRestart(stateDir);
    try {
      const obs = await running(bed, {}, (o) => {
        o.processSource = new LocalSource({ stateDir, pollMs: 50, resourcesIntervalMs: 0 });
      });
      await waitFor(() => obs.observer.runtimeHold.size === 3, 30_000, "the death held");
      assert.equal(deathsOf(await bed.diff()).length, 0);
      await obs.stop();
      const records = await bed.diff();
      const [death] = deathsOf(records);
      assert.equal(death?.tasks_in_flight_complete, false);
      assert.deepEqual(
        records.flatMap((r) => r.type === "runtime_event" ? [r.kind] : []),
        ["started", "exited", "restarted", "started"],
      );
    } finally {
      await closeUnreachable(bed);
      await Deno.remove(stateDir, { recursive: true });
    }
  },
  sanitizeOps: false,
  sanitizeResources: false,
});
