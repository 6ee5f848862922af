/**
 * What an agent is to the loop that runs it: a name and its handlers (`AgentModule`), what a
 * handler works with (`AgentContext`) and what it answers (`TaskOutcome`).
 */

import type { Envelope, LlmUsage } from "./protocol/envelope.ts";
import type { ChatModel } from "./llm.ts";
import type { TraceContext } from "./trace_context.ts";

export interface TaskOutcome {
  payload: Record<string, unknown>;
  usage?: LlmUsage;
}

export interface NewTask {
  /**
   * The TASK's message id. A task resumed after a restart sends its steps again with the same ids,
   * so a worker that already answered one answers from its done store instead of running it again
   */
  message_id?: string;
  target: string;
  conversation_id: string;
  task_id: string;
  payload: Record<string, unknown>;
  attempt?: number;
  deadline?: Date;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface AgentContext {
  readonly agent: string;
  /** Aborted when the task's deadline passes or the agent shuts down */
  readonly signal: AbortSignal;
  readonly model: ChatModel;
  readonly trace: TraceContext;
  /** Sends a `TASK` to another agent's queue; AgentError `unknown_agent` if it has none */
  sendTask(task: NewTask): Promise<Envelope>;
  /**
   * Waits for `promise` (a reply from another agent, a back-off) without holding a work slot: the
   * concurrency limit bounds work, not conversations waiting. Resolves or rejects as it does.
   */
  wait<T>(promise: Promise<T>): Promise<T>;
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

/** An agent: a name and its message handlers */
export interface AgentModule {
  readonly name: string;
  /** Tasks worked on at once (default `AGENT_CONCURRENCY` or 4); tasks waiting in `wait` do not count */
  readonly concurrency?: number;
  onTask(task: Envelope, ctx: AgentContext): Promise<TaskOutcome>;
  /** A `RESULT` or `ERROR` answering a task this agent sent */
  onReply?(reply: Envelope, ctx: AgentContext): Promise<void>;
}
