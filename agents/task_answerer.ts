/**
 * Answers a task once. A task the done store has answered already gets its stored reply again,
 * not a second run; one running already is left alone. Otherwise it runs against its deadline,
 * its reply is synced to the done store before it is sent, and only once sent is it marked
 * finished in the pending store: a crash in between resumes it at the restart, and the done store
 * then resends the same reply rather than running the task again.
 */

import type { AgentContext, TaskOutcome } from "./agent_module.ts";
import type { DoneStore } from "./done_store.ts";
import type { Envelope } from "./protocol/envelope.ts";
import type { FaultInjector } from "./fault_injection.ts";
import type { Outbox } from "./outbox.ts";
import type { PendingStore } from "./pending_store.ts";
import { executeTask } from "./task_executor.ts";
import type { TraceContext } from "./trace_context.ts";

export interface TaskAnswererDeps {
  done: DoneStore;
  pending: PendingStore;
  outbox: Outbox;
  faults: FaultInjector;
  /** The tasks running now, by message id, with what aborts each */
  running: Map<string, AbortController>;
  /** Deadline of a task that carries none, after its creation */
  taskTimeoutMs: number;
  /** Runs the agent's handler on a task */
  onTask(task: Envelope, signal: AbortSignal, trace: TraceContext): Promise<TaskOutcome>;
  log: AgentContext["log"];
}

export class TaskAnswerer {
  constructor(readonly deps: TaskAnswererDeps) {}

  /** Answers `task`; `where` (the record's coordinates, when it came from one) goes in the log */
  async answer(
    task: Envelope,
    trace: TraceContext,
    where: Record<string, unknown> = {},
  ): Promise<void> {
    const { done, pending, outbox, faults, running, log } = this.deps;
    const stored = done.get(task.message_id);
    if (stored !== undefined) {
      log("info", "task delivered again; resending its stored reply, not executing", {
        message_id: task.message_id,
        task_id: task.task_id,
        ...where,
      });
      await outbox.send(stored);
      await pending.finish(task.message_id);
      return;
    }
    if (running.has(task.message_id)) {
      log("info", "task already running; duplicate delivery ignored", {
        message_id: task.message_id,
      });
      return;
    }
    const deadline = task.deadline !== undefined
      ? Date.parse(task.deadline)
      : Date.parse(task.created_at) + this.deps.taskTimeoutMs;
    const payloadText = JSON.stringify(task.payload);
    const controller = new AbortController();
    running.set(task.message_id, controller);
    let reply: Envelope;
    try {
      reply = await executeTask(task, deadline, controller, async () => {
        await faults.beforeHandler(task, payloadText, controller.signal);
        return await this.deps.onTask(task, controller.signal, trace);
      }, log);
    } finally {
      running.delete(task.message_id);
    }
    const replies = [outbox.address(reply, trace)];
    await done.put(task.message_id, replies);
    if (await faults.beforeReply(task, payloadText) === "drop") {
      await pending.finish(task.message_id);
      return;
    }
    await outbox.send(replies);
    log("info", "task answered", {
      task_id: task.task_id,
      type: reply.type,
      attempt: task.attempt,
      ...(reply.error ? { error_kind: reply.error.kind } : {}),
    });
    faults.afterReply(payloadText);
    // Finished only once sent: a crash before this resumes it, and the done store resends the
    // reply (the same message, which receivers know by its id) rather than running it again
    await pending.finish(task.message_id);
  }
}
