import assert from "node:assert/strict";
import { AgentError } from "./agent_error.ts";
import { createEnvelope, type Envelope } from "./protocol/envelope.ts";
import { executeTask } from "./task_executor.ts";

const task: Envelope = createEnvelope({
  type: "TASK",
  source: "orchestrator",
  target: "researcher",
  conversation_id: "c-1",
  task_id: "t-1",
  payload: { instruction: "look it up" },
});

const logs: Record<string, unknown>[] = [];
const log = (level: string, msg: string, fields: Record<string, unknown> = {}) => {
  logs.push({ level, msg, ...fields });
};
const later = () => Date.now() + 60_000;

Deno.test("a task's outcome is its RESULT, in reply to it", async () => {
  const reply = await executeTask(task, later(), new AbortController(), async () => {
    await Promise.resolve();
    return { payload: { answer: 42 } };
  }, log);
  assert.equal(reply.type, "RESULT");
  assert.equal(reply.in_reply_to, task.message_id);
  assert.deepEqual(reply.payload, { answer: 42 });
});

Deno.test("a task whose deadline passed before it started is not run", async () => {
  let ran = false;
  const reply = await executeTask(task, Date.now() - 1, new AbortController(), () => {
    ran = true;
    return Promise.resolve({ payload: {} });
  }, log);
  assert.equal(ran, false);
  assert.equal(reply.error?.kind, "deadline_exceeded");
  assert.equal(reply.error?.retryable, true);
  assert.match(reply.error?.message ?? "", /passed before start/);
});

Deno.test("a task running past its deadline is answered deadline_exceeded and aborted", async () => {
  const controller = new AbortController();
  const aborted = Promise.withResolvers<unknown>();
  const reply = await executeTask(task, Date.now() + 20, controller, async () => {
    controller.signal.addEventListener("abort", () => aborted.resolve(controller.signal.reason));
    return await new Promise<never>((_, reject) =>
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason))
    );
  }, log);
  assert.equal(reply.error?.kind, "deadline_exceeded");
  assert.match(reply.error?.message ?? "", /ran past its deadline/);
  const reason = await aborted.promise;
  assert.ok(reason instanceof AgentError && reason.kind === "deadline_exceeded", String(reason));
});

Deno.test("what a handler throws decides the ERROR's kind and whether a retry may help", async () => {
  const run = (err: unknown) =>
    executeTask(task, later(), new AbortController(), () => {
      throw err;
    }, log);
  const agentError = await run(
    new AgentError("tool_error", "no search today", { retryable: false }),
  );
  assert.deepEqual(agentError.error, {
    kind: "tool_error",
    message: "no search today",
    retryable: false,
  });
  const bug = await run(new TypeError("x is undefined"));
  assert.deepEqual(bug.error, {
    kind: "handler_error",
    message: "TypeError: x is undefined",
    retryable: false,
  });
  const other = await run(new Error("disk full"));
  assert.deepEqual(other.error, {
    kind: "handler_error",
    message: "Error: disk full",
    retryable: true,
  });
  assert.ok(logs.some((l) => l["msg"] === "handler threw" && l["task_id"] === "t-1"));
});
