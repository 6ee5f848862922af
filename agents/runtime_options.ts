/**
 * The knobs of the agent loop: each one given by the caller, else read from the environment, else
 * its default. A bad value in the environment is a RangeError naming the variable.
 */

import type { FaultPlan } from "./faults.ts";
import type { Bus } from "./kafka_bus.ts";
import type { ChatModel } from "./llm.ts";
import { topicPrefix } from "./topics.ts";

export interface RuntimeOptions {
  bus: Bus;
  model: ChatModel;
  faults?: FaultPlan;
  /** Where the done store lives (default `AGENTS_STATE_DIR` or `./.agents`) */
  stateDir?: string;
  prefix?: string;
  /** Deadline of a task that carries none */
  taskTimeoutMs?: number;
  concurrency?: number;
  sessionTimeoutMs?: number;
  /** Tasks accepted and not answered yet, at most (default `AGENT_MAX_IN_FLIGHT` or 2,000) */
  maxInFlight?: number;
  /** How long shutdown waits for tasks in flight before aborting them */
  shutdownGraceMs?: number;
  log?: (line: Record<string, unknown>) => void;
}

/** Default AGENT_MAX_IN_FLIGHT: tasks accepted and not answered yet, per agent process */
export const DEFAULT_MAX_IN_FLIGHT = 2_000;

/** Every knob with its value settled */
export interface RuntimeSettings {
  prefix: string;
  stateDir: string;
  taskTimeoutMs: number;
  concurrency: number;
  maxInFlight: number;
  sessionTimeoutMs: number;
  shutdownGraceMs: number;
  log: (line: Record<string, unknown>) => void;
}

interface Env {
  get(key: string): string | undefined;
}

/** A whole number above 0 from the environment, the fallback when unset; a bad value throws */
function envNumber(env: Env, key: string, fallback: number): number {
  const raw = env.get(key);
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw.trim());
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new RangeError(`${key} must be a whole number above 0, got "${raw}"`);
  }
  return n;
}

/**
 * Settles every knob; `moduleConcurrency` is the agent's own default, between the caller's
 * `concurrency` and `AGENT_CONCURRENCY`
 */
export function resolveRuntimeOptions(
  options: Omit<RuntimeOptions, "bus" | "model" | "faults">,
  moduleConcurrency: number | undefined,
  env: Env = Deno.env,
): RuntimeSettings {
  return {
    prefix: options.prefix ?? topicPrefix(env),
    stateDir: options.stateDir ?? (env.get("AGENTS_STATE_DIR") || "./.agents"),
    taskTimeoutMs: options.taskTimeoutMs ?? envNumber(env, "AGENT_TASK_TIMEOUT_MS", 60_000),
    concurrency: options.concurrency ?? moduleConcurrency ??
      envNumber(env, "AGENT_CONCURRENCY", 4),
    maxInFlight: options.maxInFlight ??
      envNumber(env, "AGENT_MAX_IN_FLIGHT", DEFAULT_MAX_IN_FLIGHT),
    sessionTimeoutMs: options.sessionTimeoutMs ??
      envNumber(env, "AGENT_SESSION_TIMEOUT_MS", 10_000),
    shutdownGraceMs: options.shutdownGraceMs ??
      envNumber(env, "AGENT_SHUTDOWN_GRACE_MS", 10_000),
    log: options.log ?? ((line) => console.log(JSON.stringify(line))),
  };
}
