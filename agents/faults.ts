/**
 * Fault injection, the same knobs for the demo, the tests and anyone reproducing a bug.
 *
 * `AGENT_FAULTS` holds `;`-separated rules `agent=fault(opt=value,...)`, for example
 * `researcher=crash;writer=slow(ms=3000);coder=error(kind=llm_rate_limit,times=2)`.
 *
 * | fault      | effect                                                              | options            |
 * |------------|---------------------------------------------------------------------|--------------------|
 * | `crash`    | the process kills itself with SIGKILL mid-task (or after replying)  | `at`, `times` (1)  |
 * | `hang`     | the handler never returns; the loop answers `deadline_exceeded`     | `times`            |
 * | `slow`     | the handler waits `ms` (default 5000) before working                | `ms`, `times`      |
 * | `error`    | the task fails with `kind` (default `llm_rate_limit`)               | `kind`, `times`    |
 * | `malformed`| a record that is not JSON is sent to the sender's queue, then the reply | `times`        |
 * | `drop`     | the reply is never sent                                             | `times`            |
 * | `memory`   | the handler allocates and touches `mb` MiB (default 1024) and holds it: | `mb`, `times`  |
 * |            | a container's memory limit then has the kernel OOM-kill the agent    |                    |
 *
 * Every fault takes `match=TEXT` (only tasks whose payload contains TEXT) and `times=N` (at most N
 * times; for `crash` counted across restarts with the `AGENT_RESTART_COUNT` the supervisor sets).
 */

import { ERROR_KINDS, type ErrorKind } from "./protocol/envelope.ts";
import { sleep } from "./sleep.ts";

export const FAULT_KINDS = [
  "crash",
  "hang",
  "slow",
  "error",
  "malformed",
  "drop",
  "memory",
] as const;
export type FaultKind = typeof FAULT_KINDS[number];

export interface FaultRule {
  agent: string;
  fault: FaultKind;
  times: number;
  match?: string;
  ms: number;
  /** MiB the `memory` fault allocates */
  mb: number;
  errorKind: ErrorKind;
  at: "mid_task" | "after_reply";
}

const RULE = /^([a-z][a-z0-9_-]*)\s*=\s*([a-z]+)\s*(?:\((.*)\))?$/;

/** Parses `AGENT_FAULTS`; throws SyntaxError naming the rule that is wrong */
export function parseFaults(spec: string | undefined): FaultRule[] {
  if (spec === undefined || spec.trim() === "") return [];
  return spec.split(";").map((s) => s.trim()).filter((s) => s !== "").map((text) => {
    const m = RULE.exec(text);
    if (m === null) {
      throw new SyntaxError(`Cannot parse fault rule "${text}": expected agent=fault(opt=value)`);
    }
    const [, agent = "", faultName = "", optText = ""] = m;
    const fault = FAULT_KINDS.find((f) => f === faultName);
    if (fault === undefined) {
      throw new SyntaxError(
        `Unknown fault "${faultName}" in "${text}": expected one of ${FAULT_KINDS.join(", ")}`,
      );
    }
    const rule: FaultRule = {
      agent,
      fault,
      times: fault === "crash" ? 1 : Infinity,
      ms: 5000,
      mb: 1024,
      errorKind: "llm_rate_limit",
      at: "mid_task",
    };
    for (const part of optText.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
      const eq = part.indexOf("=");
      const key = eq < 0 ? part : part.slice(0, eq).trim();
      const value = eq < 0 ? "" : part.slice(eq + 1).trim();
      if (key === "times" || key === "ms" || key === "mb") {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) {
          throw new SyntaxError(`Fault option "${key}" needs a whole number, got "${value}"`);
        }
        rule[key] = n;
      } else if (key === "match") {
        rule.match = value;
      } else if (key === "kind") {
        const kind = ERROR_KINDS.find((k) => k === value);
        if (kind === undefined) {
          throw new SyntaxError(`Unknown error kind "${value}" in "${text}"`);
        }
        rule.errorKind = kind;
      } else if (key === "at") {
        if (value !== "mid_task" && value !== "after_reply") {
          throw new SyntaxError(
            `Fault option "at" must be mid_task or after_reply, got "${value}"`,
          );
        }
        rule.at = value;
      } else {
        throw new SyntaxError(`Unknown fault option "${key}" in "${text}"`);
      }
    }
    return rule;
  });
}

/**
 * Allocates `mb` MiB outside the V8 heap and writes every page, so the memory is resident (an
 * untouched allocation costs nothing), then holds it until the process dies: under a container
 * memory limit the kernel OOM-kills the process, which is the point.
 */
export async function holdMemory(mb: number): Promise<never> {
  const held: Uint8Array[] = [];
  for (let i = 0; i < mb; i++) {
    held.push(new Uint8Array(1 << 20).fill(1));
    // Let the loop breathe, so the process is killed mid-task rather than before it logged
    if (i % 16 === 15) await sleep(1);
  }
  return await new Promise<never>(() => {
    // Held until the process is killed: nothing resolves this
    globalThis.setInterval(() => held.length, 60_000);
  });
}

/** Decides, task by task, which of an agent's fault rules fire. */
export class FaultPlan {
  private readonly fired = new Map<FaultRule, number>();

  constructor(private readonly rules: FaultRule[], private readonly restartCount = 0) {}

  static fromEnv(
    agent: string,
    env: { get(key: string): string | undefined } = Deno.env,
  ): FaultPlan {
    const rules = parseFaults(env.get("AGENT_FAULTS")).filter((r) => r.agent === agent);
    const restarts = Number(env.get("AGENT_RESTART_COUNT") ?? "0");
    return new FaultPlan(rules, Number.isInteger(restarts) ? restarts : 0);
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The rule of this kind that fires for this task, counting it as fired */
  take(fault: FaultKind, payloadText: string, at?: FaultRule["at"]): FaultRule | undefined {
    for (const rule of this.rules) {
      if (rule.fault !== fault || (at !== undefined && rule.at !== at)) continue;
      if (rule.match !== undefined && !payloadText.includes(rule.match)) continue;
      const used = (this.fired.get(rule) ?? 0) + (fault === "crash" ? this.restartCount : 0);
      if (used >= rule.times) continue;
      this.fired.set(rule, (this.fired.get(rule) ?? 0) + 1);
      return rule;
    }
    return undefined;
  }
}
