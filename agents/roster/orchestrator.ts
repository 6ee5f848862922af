/**
 * The orchestrator: plans a user request into steps, hands each step to a worker agent, waits for
 * its result (retrying on timeout or a retryable error), and answers the user with the outcome.
 */

import { AgentError } from "../agent_error.ts";
import type { Envelope, LlmUsage } from "../protocol/envelope.ts";
import type { AgentContext, AgentModule, TaskOutcome } from "../agent_module.ts";
import { isRecord } from "../is_record.ts";
import { backoffMs } from "../backoff.ts";
import { sleep } from "../sleep.ts";

export interface PlanStep {
  agent: string;
  instruction: string;
}

export interface OrchestratorOptions {
  /** How long one attempt at a step may take before it is retried */
  stepTimeoutMs: number;
  /** Attempts at a step, the first included */
  maxAttempts: number;
}

/** The steps for a request: an explicit `plan` in the payload, or the default pipeline */
export function planRequest(request: string, explicit: unknown): PlanStep[] {
  if (Array.isArray(explicit)) {
    return explicit.map((step, i) => {
      if (isRecord(step) && typeof step["agent"] === "string") {
        const instruction = typeof step["instruction"] === "string" ? step["instruction"] : request;
        return { agent: step["agent"], instruction };
      }
      if (typeof step === "string") return { agent: step, instruction: request };
      throw new AgentError("invalid_message", `plan step ${i} must name an agent`, {
        retryable: false,
      });
    });
  }
  const steps: PlanStep[] = [
    { agent: "researcher", instruction: `Research: ${request}` },
    { agent: "writer", instruction: `Write an answer to: ${request}` },
  ];
  if (/\b(code|script|function|program|implement|api|bug)\b/i.test(request)) {
    steps.push({ agent: "coder", instruction: `Write code for: ${request}` });
  }
  return steps;
}

function addUsage(total: LlmUsage | undefined, more: LlmUsage | undefined): LlmUsage | undefined {
  if (more === undefined) return total;
  if (total === undefined) return { ...more };
  return {
    model: total.model === more.model ? total.model : "mixed",
    input_tokens: total.input_tokens + more.input_tokens,
    output_tokens: total.output_tokens + more.output_tokens,
    cost_usd: Number((total.cost_usd + more.cost_usd).toFixed(8)),
    latency_ms: total.latency_ms + more.latency_ms,
  };
}

/**
 * The message id of one attempt at one step of a request, derived from the request's own id (a
 * name-based UUID, version 5 layout): a request resumed after a restart sends the same step again
 * under the same id, and the worker answers it from its done store
 */
export async function stepMessageId(
  requestId: string,
  step: number,
  attempt: number,
): Promise<string> {
  const name = new TextEncoder().encode(`${requestId}/${step}/${attempt}`);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-1", name)).slice(0, 16);
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...hash].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

export function createOrchestrator(options: OrchestratorOptions): AgentModule {
  /** Replies awaited, by the message id of the TASK they answer */
  const pending = new Map<string, (reply: Envelope) => void>();
  /** Replies that came before anyone waited for them (bounded) */
  const early = new Map<string, Envelope>();

  function awaitReply(messageId: string, until: number): Promise<Envelope | "timeout"> {
    const already = early.get(messageId);
    if (already !== undefined) {
      early.delete(messageId);
      return Promise.resolve(already);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve("timeout"), Math.max(0, until - Date.now()));
      pending.set(messageId, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }

  async function runStep(
    step: PlanStep,
    index: number,
    task: Envelope,
    context: string,
    ctx: AgentContext,
  ): Promise<{ output: string; usage?: LlmUsage; attempts: number }> {
    const taskId = `${task.task_id}.${index + 1}-${step.agent}`;
    let lastError = "no attempt made";
    for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
      const taskDeadline = task.deadline ? Date.parse(task.deadline) : Infinity;
      const deadline = new Date(Math.min(Date.now() + options.stepTimeoutMs, taskDeadline));
      const sent = await ctx.sendTask({
        message_id: await stepMessageId(task.message_id, index, attempt),
        target: step.agent,
        conversation_id: task.conversation_id,
        task_id: taskId,
        attempt,
        deadline,
        payload: { instruction: step.instruction, context },
      });
      ctx.log("info", "step handed off", { step: taskId, to: step.agent, attempt });
      // Waiting for the worker holds no work slot: only the orchestrator's own work does.
      const answer = await ctx.wait(
        abortable(awaitReply(sent.message_id, deadline.getTime() + 500), ctx.signal),
      ).finally(() => pending.delete(sent.message_id));
      if (answer === "timeout") {
        lastError = `no answer from "${step.agent}" by ${deadline.toISOString()}`;
        ctx.log("warn", "step timed out", { step: taskId, attempt });
        continue;
      }
      if (answer.type === "RESULT") {
        const output = typeof answer.payload["output"] === "string" ? answer.payload["output"] : "";
        return { output, attempts: attempt, ...(answer.usage ? { usage: answer.usage } : {}) };
      }
      const err = answer.error;
      lastError = `${err?.kind ?? "unknown"}: ${err?.message ?? "no message"}`;
      ctx.log("warn", "step failed", { step: taskId, attempt, error: lastError });
      if (!err?.retryable) break;
      await ctx.wait(sleep(backoffMs(attempt, 250, 2_000)));
    }
    throw new AgentError("handler_error", `step "${taskId}" failed: ${lastError}`, {
      retryable: false,
    });
  }

  return {
    name: "orchestrator",
    concurrency: 64,
    async onTask(task: Envelope, ctx: AgentContext): Promise<TaskOutcome> {
      const request = typeof task.payload["request"] === "string"
        ? task.payload["request"]
        : typeof task.payload["instruction"] === "string"
        ? task.payload["instruction"]
        : undefined;
      if (request === undefined) {
        throw new AgentError(
          "invalid_message",
          'a request needs a "request" string in its payload',
          {
            retryable: false,
          },
        );
      }
      const steps = planRequest(request, task.payload["plan"]);
      ctx.log("info", "planned request", {
        conversation_id: task.conversation_id,
        steps: steps.map((s) => s.agent),
      });
      let context = "";
      let usage: LlmUsage | undefined;
      const results: { agent: string; task_id: string; attempts: number; output: string }[] = [];
      for (const [i, step] of steps.entries()) {
        const r = await runStep(step, i, task, context, ctx);
        usage = addUsage(usage, r.usage);
        context = r.output;
        results.push({
          agent: step.agent,
          task_id: `${task.task_id}.${i + 1}-${step.agent}`,
          attempts: r.attempts,
          output: r.output,
        });
      }
      const answer = results.map((r) => `[${r.agent}] ${r.output}`).join("\n");
      return { payload: { answer, steps: results }, ...(usage ? { usage } : {}) };
    },
    onReply(reply: Envelope): Promise<void> {
      const id = reply.in_reply_to;
      if (id === undefined) return Promise.resolve();
      const waiting = pending.get(id);
      if (waiting !== undefined) {
        pending.delete(id);
        waiting(reply);
      } else {
        early.set(id, reply);
        if (early.size > 1_000) early.delete(early.keys().next().value ?? id);
      }
      return Promise.resolve();
    },
  };
}
