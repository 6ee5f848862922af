/**
 * The `AgentContext` a handler gets: its signal and trace, the model, a log, `sendTask` to hand
 * work to another agent and `wait` to wait on it without holding a work slot.
 */

import type { AgentContext } from "./agent_module.ts";
import { AgentError } from "./agent_error.ts";
import { createEnvelope } from "./protocol/envelope.ts";
import type { ChatModel } from "./llm.ts";
import type { Outbox } from "./outbox.ts";
import type { TaskPool } from "./task_pool.ts";
import type { TraceContext } from "./trace_context.ts";

export interface ContextDeps {
  agent: string;
  model: ChatModel;
  outbox: Outbox;
  pool: TaskPool;
  log: AgentContext["log"];
}

/**
 * The context of one handler. `holdsSlot` when it runs a task, and so gives its work slot back
 * while it waits; a reply handler holds none
 */
export function createContext(
  deps: ContextDeps,
  signal: AbortSignal,
  trace: TraceContext,
  holdsSlot: boolean,
): AgentContext {
  const { agent, model, outbox, pool, log } = deps;
  return {
    wait: async <T>(promise: Promise<T>): Promise<T> => {
      if (!holdsSlot) return await promise;
      return await pool.waitWithoutSlot(promise);
    },
    agent,
    signal,
    model,
    trace,
    log,
    sendTask: async (task) => {
      if (!await outbox.hasQueue(task.target)) {
        throw new AgentError(
          "unknown_agent",
          `No agent "${task.target}": its queue "${outbox.queueOf(task.target)}" does not exist`,
          { retryable: false },
        );
      }
      const env = createEnvelope({
        ...(task.message_id !== undefined ? { message_id: task.message_id } : {}),
        type: "TASK",
        source: agent,
        target: task.target,
        conversation_id: task.conversation_id,
        task_id: task.task_id,
        payload: task.payload,
        attempt: task.attempt ?? 1,
        ...(task.deadline ? { deadline: task.deadline } : {}),
      });
      await outbox.send([outbox.address(env, trace)]);
      return env;
    },
  };
}
