/**
 * The four agents as real processes, talking through the real broker: each test gets queues of
 * its own (a unique topic prefix) and its own supervisor.
 */

import assert from "node:assert/strict";
import { createEnvelope, encodeEnvelope } from "./protocol/envelope.ts";
import { parseProcessEvent } from "./process_record.ts";
import { submitRequest } from "./submit.ts";
import { AgentsProcess, type SeenRecord, TestQueues } from "./testing.ts";

interface System {
  queues: TestQueues;
  agents: AgentsProcess;
  stateDir: string;
}

async function withSystem(
  env: Record<string, string>,
  body: (s: System) => Promise<void>,
): Promise<void> {
  const queues = await TestQueues.create();
  const stateDir = await Deno.makeTempDir({ prefix: "agents-test-" });
  const agents = AgentsProcess.start(queues, { stateDir, env });
  try {
    await agents.ready();
    await body({ queues, agents, stateDir });
  } finally {
    const status = await agents.stop();
    assert.equal(status.code, 0, "the supervisor stops cleanly on SIGTERM");
    await queues.close();
    await Deno.remove(stateDir, { recursive: true });
  }
}

const REQUEST = "Explain consumer lag and write a function that computes it";

Deno.test("a request flows orchestrator -> workers -> orchestrator and the answer arrives", async () => {
  await withSystem({}, async ({ queues }) => {
    const out = await submitRequest({
      bus: queues.bus,
      request: REQUEST,
      timeoutMs: 30_000,
      prefix: queues.prefix,
    });
    assert.equal(out.reply?.type, "RESULT", JSON.stringify(out.reply));
    const answer = String(out.reply?.payload["answer"]);
    assert.match(answer, /^\[researcher\] .+\n\[writer\] .+\n\[coder\] .+$/);
    assert.ok(out.reply?.usage && out.reply.usage.input_tokens > 0, "usage is reported");
    // Every hop went through the queues: one TASK to each worker, one RESULT back each.
    for (const worker of ["researcher", "writer", "coder"]) {
      const tasks = (await queues.read(worker)).filter((r) => r.envelope?.type === "TASK");
      assert.equal(tasks.length, 1, `one TASK to ${worker}`);
      assert.equal(tasks[0]?.envelope?.conversation_id, out.conversation_id);
    }
    const results = (await queues.read("orchestrator")).filter((r) =>
      r.envelope?.type === "RESULT"
    );
    assert.equal(results.length, 3);
  });
});

Deno.test("a worker killed mid-task is restarted and the task completes once", async () => {
  await withSystem({ AGENT_FAULTS: "researcher=crash" }, async ({ queues, agents, stateDir }) => {
    const out = await submitRequest({
      bus: queues.bus,
      request: "Summarise the incident",
      timeoutMs: 60_000,
      prefix: queues.prefix,
    });
    assert.equal(out.reply?.type, "RESULT", JSON.stringify(out.reply));
    const events = (await Deno.readTextFile(`${stateDir}/processes.jsonl`)).trim().split("\n")
      .map((l) => parseProcessEvent(JSON.parse(l)));
    const exit = events.find((e) => e?.agent === "researcher" && e.event === "exited");
    assert.equal(exit?.signal, "SIGKILL");
    assert.ok(
      events.some((e) =>
        e?.agent === "researcher" && e.event === "started" && e.restart_count === 1
      ),
      "the researcher was started again",
    );
    const answers = (await queues.read("orchestrator")).filter((r) =>
      r.envelope?.source === "researcher"
    );
    assert.equal(new Set(answers.map((r) => r.envelope?.message_id)).size, 1);
    assert.ok(agents.lines.some((l) => l.includes("fault: crashing mid-task")));
  });
});

Deno.test("a task delivered again after a crash is answered from the record, not run twice", async () => {
  await withSystem(
    { AGENT_FAULTS: "researcher=crash(at=after_reply)" },
    async ({ queues, agents }) => {
      const out = await submitRequest({
        bus: queues.bus,
        request: "Describe the outage",
        timeoutMs: 60_000,
        prefix: queues.prefix,
      });
      assert.equal(out.reply?.type, "RESULT", JSON.stringify(out.reply));
      await agents.waitFor((l) => l.includes("resending its stored reply, not executing"));
      const executions = agents.logs().filter((l) =>
        l["agent"] === "researcher" && l["msg"] === "task answered"
      );
      assert.equal(executions.length, 1, "the researcher executed the task once");
      // The log line comes just before the resend: wait for the record itself.
      let answers: SeenRecord[] = [];
      for (let i = 0; i < 40 && answers.length < 2; i++) {
        answers = (await queues.read("orchestrator")).filter((r) =>
          r.envelope?.source === "researcher"
        );
        if (answers.length < 2) await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(answers.length, 2, "the stored reply was sent again");
      assert.equal(new Set(answers.map((r) => r.envelope?.message_id)).size, 1, "same message");
    },
  );
});

Deno.test("malformed records are rejected with a reason while the agent goes on", async () => {
  await withSystem({}, async ({ queues, agents }) => {
    const badTask = JSON.stringify({ type: "TASK", source: "user", message_id: "m-bad" });
    await queues.bus.send([
      { topic: queues.topic("researcher"), value: "{not json" },
      { topic: queues.topic("researcher"), value: badTask },
      {
        topic: queues.topic("researcher"),
        value: encodeEnvelope(createEnvelope({
          type: "TASK",
          source: "user",
          target: "translator",
          conversation_id: "c-x",
          task_id: "t-x",
        })),
      },
    ]);
    await agents.waitFor((l) => l.includes("rejected malformed record"), 2);
    await agents.waitFor((l) => l.includes("rejected misaddressed message"));
    const reasons = agents.logs().filter((l) => l["msg"] === "rejected malformed record")
      .map((l) => String(l["reason"]));
    assert.ok(reasons.some((r) => r.startsWith("record value is not JSON")), reasons.join());
    assert.ok(
      reasons.some((r) => r.includes(`"schema_version" must be an integer`)),
      reasons.join(),
    );
    // Each ERROR is sent after the line that logs its rejection: wait for both to arrive
    const errors = (await inbox(queues, (r) => r.envelope?.type === "ERROR", 2))
      .map((r) => r.envelope?.error);
    assert.ok(errors.some((e) => e?.kind === "invalid_message"), "the readable sender is told");
    assert.ok(errors.some((e) => e?.kind === "unknown_agent"), "a misaddressed task is refused");
    const out = await submitRequest({
      bus: queues.bus,
      request: "Still there?",
      timeoutMs: 30_000,
      prefix: queues.prefix,
    });
    assert.equal(out.reply?.type, "RESULT");
  });
});

/**
 * The records of the user's inbox once `wanted` holds for `count` of them (polled: a reply is
 * sent after the log line that announces it); throws after `timeoutMs`, a guard against a hang
 */
async function inbox(
  queues: TestQueues,
  wanted: (r: SeenRecord) => boolean,
  count = 1,
  timeoutMs = 60_000,
): Promise<SeenRecord[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = (await queues.read("user")).filter(wanted);
    if (found.length >= count) return found;
    if (Date.now() > until) {
      throw new Error(`Timed out waiting for ${count} record(s) in the inbox`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** A log line of `msg` about task `taskId` */
function logged(msg: string, taskId: string, more: Record<string, unknown> = {}) {
  return (line: string): boolean => {
    try {
      const v = JSON.parse(line);
      return v.msg === msg && v.task_id === taskId &&
        Object.entries(more).every(([k, value]) => v[k] === value);
    } catch {
      return false;
    }
  };
}

Deno.test("a task still running at its deadline is answered deadline_exceeded and its handler aborted", async () => {
  await withSystem({ AGENT_FAULTS: "researcher=hang" }, async ({ queues, agents }) => {
    const task = createEnvelope({
      type: "TASK",
      source: "user",
      target: "researcher",
      conversation_id: "c-deadline",
      task_id: "t-deadline",
      payload: { instruction: "never finishes" },
      // Room for the agent to start the task first: a task read after its deadline takes the
      // other path (answered without running), which the assertions below tell apart
      deadline: new Date(Date.now() + 8_000),
    });
    await queues.bus.send([{ topic: queues.topic("researcher"), value: encodeEnvelope(task) }]);
    await agents.waitFor(logged("fault: hanging", "t-deadline"));
    const [reply] = await inbox(queues, (r) => r.envelope?.in_reply_to === task.message_id);
    assert.equal(reply?.envelope?.type, "ERROR");
    assert.equal(reply?.envelope?.error?.kind, "deadline_exceeded");
    assert.equal(reply?.envelope?.error?.retryable, true);
    assert.match(reply?.envelope?.error?.message ?? "", /^task ran past its deadline of /);
    await agents.waitFor(logged("fault: hang aborted", "t-deadline", {
      reason: "deadline_exceeded",
    }));
  });
});

Deno.test("a request to an agent that does not exist ends in an ERROR to the sender", async () => {
  await withSystem({}, async ({ queues }) => {
    const out = await submitRequest({
      bus: queues.bus,
      request: "Translate this",
      plan: ["researcher", "translator"],
      timeoutMs: 30_000,
      prefix: queues.prefix,
    });
    assert.equal(out.reply?.type, "ERROR");
    assert.match(out.reply?.error?.message ?? "", /No agent "translator"/);
  });
});
