/** A worker agent: answers each task with one LLM completion under its own system prompt. */

import { AgentError } from "../agent_error.ts";
import type { Envelope } from "../protocol/envelope.ts";
import type { AgentContext, AgentModule, TaskOutcome } from "../agent_module.ts";

export function createWorker(name: string, systemPrompt: string): AgentModule {
  return {
    name,
    async onTask(task: Envelope, ctx: AgentContext): Promise<TaskOutcome> {
      const instruction = task.payload["instruction"];
      if (typeof instruction !== "string" || instruction.trim() === "") {
        throw new AgentError(
          "invalid_message",
          `task payload needs an "instruction" string`,
          { retryable: false },
        );
      }
      const context = typeof task.payload["context"] === "string" ? task.payload["context"] : "";
      const completion = await ctx.model.complete([
        { role: "system", content: systemPrompt },
        ...(context ? [{ role: "user" as const, content: `Context: ${context}` }] : []),
        { role: "user", content: instruction },
      ], ctx.signal);
      return { payload: { output: completion.text }, usage: completion.usage };
    },
  };
}

export const researcher: AgentModule = createWorker(
  "researcher",
  "Researcher. Gather the facts a request needs, with sources",
);
export const writer: AgentModule = createWorker(
  "writer",
  "Writer. Turn research notes into a clear answer",
);
export const coder: AgentModule = createWorker(
  "coder",
  "Coder. Write the code a request asks for, with a test",
);
