/**
 * Runs one task's handler against the task's deadline and turns what happens into the reply: a
 * `RESULT` with the handler's payload, or an `ERROR`: `deadline_exceeded` (the handler is then
 * aborted), the kind an `AgentError` names, or `handler_error` for anything else thrown.
 */

import type { AgentContext, TaskOutcome } from "./agent_module.ts";
import { AgentError } from "./agent_error.ts";
import { type Envelope, replyTo } from "./protocol/envelope.ts";

/**
 * The reply to `task`. `work` is started at once unless `deadline` (epoch milliseconds) has passed
 * already; `controller` aborts it when the deadline passes first
 */
export async function executeTask(
  task: Envelope,
  deadline: number,
  controller: AbortController,
  work: () => Promise<TaskOutcome>,
  log: AgentContext["log"],
): Promise<Envelope> {
  const fail = (kind: AgentError["kind"], message: string, retryable: boolean) =>
    replyTo(task, "ERROR", { error: { kind, message, retryable } });
  const remaining = deadline - Date.now();
  if (Number.isNaN(deadline) || remaining <= 0) {
    return fail("deadline_exceeded", `deadline ${task.deadline ?? ""} passed before start`, true);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((resolve) => {
    timer = setTimeout(() => resolve("expired"), remaining);
  });
  // Whatever `work` throws, even before its first await, becomes the task's ERROR
  const working = (async () => await work())();
  try {
    const outcome = await Promise.race([working, expired]);
    if (outcome === "expired") {
      controller.abort(
        new AgentError("deadline_exceeded", "deadline passed", { retryable: true }),
      );
      // the handler was abandoned at its deadline: deadline_exceeded reports it
      working.catch(() => {});
      return fail(
        "deadline_exceeded",
        `task ran past its deadline of ${new Date(deadline).toISOString()}`,
        true,
      );
    }
    return replyTo(task, "RESULT", {
      payload: outcome.payload,
      ...(outcome.usage ? { usage: outcome.usage } : {}),
    });
  } catch (err) {
    if (err instanceof AgentError) return fail(err.kind, err.message, err.retryable);
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    log("error", "handler threw", { task_id: task.task_id, error: message });
    // A TypeError is a bug: retrying the same task will not help. Anything else might.
    return fail("handler_error", message, !(err instanceof TypeError));
  } finally {
    clearTimeout(timer);
  }
}
