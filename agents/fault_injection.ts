/**
 * Where the loop injects the faults of an agent's `FaultPlan` (`AGENT_FAULTS`, see faults.ts):
 * before a task's handler runs (crash mid-task, memory, slow, hang, error) and around its reply
 * (malformed, drop, crash after the reply).
 */

import type { AgentContext } from "./agent_module.ts";
import { AgentError } from "./agent_error.ts";
import type { Envelope } from "./protocol/envelope.ts";
import { type FaultPlan, holdMemory } from "./faults.ts";
import type { Outbox } from "./outbox.ts";
import { sleep } from "./sleep.ts";
import { SENDER_HEADER } from "./topics.ts";

export class FaultInjector {
  constructor(
    readonly plan: FaultPlan,
    readonly outbox: Outbox,
    readonly log: AgentContext["log"],
  ) {}

  get empty(): boolean {
    return this.plan.empty;
  }

  /**
   * Before the handler runs: kills the process, holds memory until the process dies, waits, hangs
   * until `signal` aborts, or throws an injected retryable AgentError
   */
  async beforeHandler(task: Envelope, payloadText: string, signal: AbortSignal): Promise<void> {
    if (this.plan.empty) return;
    if (this.plan.take("crash", payloadText, "mid_task")) {
      this.log("warn", "fault: crashing mid-task", { task_id: task.task_id });
      await sleep(50);
      Deno.kill(Deno.pid, "SIGKILL");
    }
    const memory = this.plan.take("memory", payloadText);
    if (memory) {
      this.log("warn", "fault: holding memory", { task_id: task.task_id, mb: memory.mb });
      await holdMemory(memory.mb);
    }
    const slow = this.plan.take("slow", payloadText);
    if (slow) {
      this.log("warn", "fault: slowing down", { task_id: task.task_id, ms: slow.ms });
      await sleep(slow.ms);
    }
    if (this.plan.take("hang", payloadText)) {
      this.log("warn", "fault: hanging", { task_id: task.task_id });
      await new Promise((_, reject) =>
        signal.addEventListener("abort", () => {
          const reason = signal.reason instanceof AgentError
            ? signal.reason.kind
            : String(signal.reason);
          this.log("warn", "fault: hang aborted", { task_id: task.task_id, reason });
          reject(signal.reason);
        })
      );
    }
    const error = this.plan.take("error", payloadText);
    if (error) {
      const message = error.errorKind === "llm_rate_limit"
        ? "LLM rate limit exceeded (HTTP 429): retry after 2s (injected fault)"
        : `injected fault: ${error.errorKind}`;
      throw new AgentError(error.errorKind, message, { retryable: true });
    }
  }

  /**
   * With the reply stored and not sent yet: may send a record that is not JSON to the sender
   * first; "drop" when the reply is not to be sent at all
   */
  async beforeReply(task: Envelope, payloadText: string): Promise<"send" | "drop"> {
    if (this.plan.take("malformed", payloadText)) {
      this.log("warn", "fault: sending a malformed record", { task_id: task.task_id });
      await this.outbox.send([{
        topic: this.outbox.queueOf(task.source),
        key: task.conversation_id,
        value: `{"type":"RESULT","task_id":"${task.task_id}",`,
        headers: { [SENDER_HEADER]: this.outbox.agent },
      }]);
    }
    if (this.plan.take("drop", payloadText)) {
      this.log("warn", "fault: dropping the reply", { task_id: task.task_id });
      return "drop";
    }
    return "send";
  }

  /** With the reply sent and the task not marked finished yet: may kill the process */
  afterReply(payloadText: string): void {
    if (this.plan.take("crash", payloadText, "after_reply")) {
      this.log("warn", "fault: crashing after the reply, before the task is marked finished");
      Deno.kill(Deno.pid, "SIGKILL");
    }
  }
}
