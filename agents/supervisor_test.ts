/**
 * The supervisor running replicas: real agent processes of one fleet worker on the real broker,
 * reading one queue in one consumer group, each with its own stores, each restarted on its own.
 */

import assert from "node:assert/strict";
import { createEnvelope, encodeEnvelope } from "./protocol/envelope.ts";
import { parseProcessEvent, type ProcessState } from "./process_record.ts";
import { AgentsProcess, TestQueues } from "./testing.ts";
import { SENDER_HEADER, USER_INBOX } from "./topics.ts";
import { fileLines } from "./line_splitter.ts";

async function lineCount(path: string): Promise<number> {
  let n = 0;
  try {
    for await (const line of fileLines(path)) if (line.trim() !== "") n++;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
  return n;
}

async function until(what: string, test: () => Promise<boolean>, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function running(stateDir: string): Promise<ProcessState[]> {
  const file: { processes: ProcessState[] } = JSON.parse(
    await Deno.readTextFile(`${stateDir}/processes.json`),
  );
  return file.processes.filter((p) => p.status === "running");
}

Deno.test("two replicas of an agent share its queue, each with its own stores, and restart alone", async () => {
  const queues = await TestQueues.create(["worker-01", USER_INBOX], 6);
  const stateDir = await Deno.makeTempDir({ prefix: "supervisor-test-" });
  const agents = AgentsProcess.start(queues, { stateDir, only: ["worker-01"], replicas: "2" });
  try {
    await agents.ready(2);
    const before = await running(stateDir);
    assert.deepEqual(before.map((p) => [p.agent, p.replica]), [["worker-01", 0], ["worker-01", 1]]);
    assert.notEqual(before[0]?.pid, before[1]?.pid);

    // Tasks over the six partitions: both replicas take their share, in their own done stores
    const tasks = Array.from({ length: 24 }, (_, i) => {
      const task = createEnvelope({
        type: "TASK",
        source: USER_INBOX,
        target: "worker-01",
        conversation_id: `conv-replica-${i}`,
        task_id: `conv-replica-${i}`,
        payload: { instruction: `Task ${i}` },
      });
      return {
        topic: queues.topic("worker-01"),
        key: `k${i}`,
        value: encodeEnvelope(task),
        headers: { [SENDER_HEADER]: USER_INBOX },
      };
    });
    await queues.bus.send(tasks);
    const group = `${queues.prefix}agent-worker-01`;
    const stores = [`${stateDir}/${group}/done.jsonl`, `${stateDir}/replica-1/${group}/done.jsonl`];
    await until("24 tasks done", async () => {
      const counts = await Promise.all(stores.map(lineCount));
      return counts[0]! + counts[1]! >= 24;
    });
    const counts = await Promise.all(stores.map(lineCount));
    assert.ok(counts.every((n) => n > 0), `done per replica: ${counts.join(", ")}`);

    // Replica 1 killed: it alone restarts, as replica 1; replica 0 runs on untouched
    Deno.kill(before[1]!.pid, "SIGKILL");
    await until(
      "replica 1 running again",
      async () =>
        (await running(stateDir)).some((p) => p.replica === 1 && p.pid !== before[1]!.pid),
    );
    const after = await running(stateDir);
    assert.deepEqual(after.map((p) => [p.replica, p.restart_count]), [[0, 0], [1, 1]]);
    assert.equal(after[0]?.pid, before[0]?.pid);
    const events = [];
    for await (const line of fileLines(`${stateDir}/processes.jsonl`)) {
      events.push(parseProcessEvent(JSON.parse(line)));
    }
    const exited = events.filter((e) => e?.event === "exited");
    assert.deepEqual(exited.map((e) => [e?.replica, e?.signal]), [[1, "SIGKILL"]]);
  } finally {
    await agents.stop();
    await queues.close();
    await Deno.remove(stateDir, { recursive: true });
  }
});
