/**
 * Accepted requests are durable: the orchestrator commits a request's offset once it is in its
 * pending store, and a process killed mid-conversation resumes what it had accepted. Real broker,
 * real agent processes, a real SIGKILL from outside; counts only.
 */

import assert from "node:assert/strict";
import { userRequest } from "./submit.ts";
import { AgentsProcess, TestQueues } from "./testing.ts";
import { groupFor, topicFor, USER_INBOX } from "./topics.ts";

async function until<T>(what: string, test: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await test();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function accepted(path: string): Promise<number> {
  const text = await Deno.readTextFile(path).catch(() => "");
  const ids = new Set<string>();
  for (const line of text.split("\n")) {
    if (line.includes(`"op":"accept"`)) ids.add(JSON.parse(line).message_id);
  }
  return ids.size;
}

Deno.test({
  name: "an orchestrator killed holding 50 accepted requests resumes them and answers each once",
  fn: async () => {
    const queues = await TestQueues.create();
    const stateDir = await Deno.makeTempDir({ prefix: "agents-durable-" });
    const agents = AgentsProcess.start(queues, {
      stateDir,
      env: {
        // The research step takes 4 s, so every conversation is in flight when the kill comes
        AGENT_FAULTS: "researcher=slow(ms=4000)",
        AGENT_CONCURRENCY: "64",
        ORCHESTRATOR_STEP_TIMEOUT_MS: "60000",
      },
    });
    try {
      await agents.ready();
      const N = 50;
      const conversations = Array.from({ length: N }, (_, i) => `conv-durable${i}`);
      const orchestratorQueue = topicFor("orchestrator", queues.prefix);
      const deadline = new Date(Date.now() + 180_000);
      await queues.bus.send(conversations.map((conversationId) =>
        userRequest({
          conversationId,
          request: `Summarise why consumer lag matters (${conversationId})`,
          deadline,
          prefix: queues.prefix,
        })
      ));
      const group = groupFor("orchestrator", queues.prefix);
      const pending = `${stateDir}/${group}/pending.jsonl`;
      await until(
        "50 requests accepted",
        async () => (await accepted(pending)) >= N ? true : undefined,
      );
      // The requests' offsets are committed while their conversations are still in flight
      const committed = await until("the requests committed", async () => {
        const c = await queues.bus.committedOffsets(group, orchestratorQueue);
        const total = c.reduce((n, p) => n + Number(p.offset ?? 0), 0);
        return total >= N ? total : undefined;
      });
      assert.ok(committed >= N, "the committed offset moved past the accepted requests");
      const answeredBefore = (await queues.bus.highWatermarks(queues.topic(USER_INBOX)))
        .reduce((n, e) => n + Number(e.offset), 0);
      assert.equal(answeredBefore, 0, "no conversation had finished before the kill");

      const processes = JSON.parse(await Deno.readTextFile(`${stateDir}/processes.json`));
      const orchestrator = (processes.processes as { agent: string; pid: number }[])
        .find((p) => p.agent === "orchestrator");
      assert.ok(orchestrator, "the orchestrator's pid");
      Deno.kill(orchestrator.pid, "SIGKILL");

      await until("an answer per request", async () => {
        const ends = await queues.bus.highWatermarks(queues.topic(USER_INBOX));
        return ends.reduce((n, e) => n + Number(e.offset), 0) >= N ? true : undefined;
      }, 120_000);
      const answers = (await queues.read(USER_INBOX)).map((r) => r.envelope);
      const per = new Map<string, number>();
      for (const a of answers) {
        per.set(a?.conversation_id ?? "?", (per.get(a?.conversation_id ?? "?") ?? 0) + 1);
      }
      assert.equal(per.size, N, "every accepted request was answered");
      assert.deepEqual([...per.values()].filter((n) => n > 1), [], "none answered twice");
      assert.deepEqual(
        answers.filter((a) => a?.type !== "RESULT").map((a) => a?.error),
        [],
        "each with a RESULT",
      );
      assert.ok(
        agents.lines.some((l) =>
          l.includes(`"msg":"resuming the tasks accepted before the restart"`)
        ),
        "the restarted orchestrator said it resumed them",
      );
    } finally {
      await agents.stop();
      await queues.close();
      await Deno.remove(stateDir, { recursive: true });
    }
  },
});
