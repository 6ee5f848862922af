/**
 * `llm`: LLM use per agent and model (calls, tokens, cost, average latency per call) with the
 * failed calls and their kinds, from the folded errors; and the agents whose replies never said
 * what they used (unknown, not zero).
 */

import type { Invocation } from "./cli_args.ts";
import type { Answer } from "./output_bound.ts";
import { cut, head } from "./output_document.ts";
import type { TimeMachine } from "./time_machine.ts";

export async function runLlm(tm: TimeMachine, inv: Invocation): Promise<Answer> {
  const at = await tm.stateAt();
  // Failed LLM calls per agent and kind, from the folded errors (an ERROR names no model)
  const failures = new Map<string, Map<string, number>>();
  for (const e of at.state.errors) {
    if (e.agent === null || !e.kind.startsWith("llm_")) continue;
    const kinds = failures.get(e.agent) ?? new Map<string, number>();
    kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + e.count);
    failures.set(e.agent, kinds);
  }
  const errorsByAgent = new Map(at.state.agents.map((a) => [a.agent, a.llm_errors]));
  const rows = at.state.usage.map((u) => ({ ...u }));
  for (const agent of failures.keys()) {
    if (rows.some((u) => u.agent === agent)) continue;
    rows.push({
      agent,
      model: "unknown",
      calls: 0,
      input_tokens: 0,
      output_tokens: 0,
      cost_usd: 0,
      latency_ms_total: 0,
    });
  }
  const usage = rows
    .filter((u) => inv.agent === undefined || u.agent === inv.agent)
    .map((u) => {
      // An agent's failures go on its first row (its only model, in the sample agents)
      const first = rows.find((r) => r.agent === u.agent) === u;
      const errors = first ? errorsByAgent.get(u.agent) ?? 0 : 0;
      const kinds = first ? failures.get(u.agent) ?? new Map<string, number>() : new Map();
      const failed = Math.max(errors, [...kinds.values()].reduce((n, c) => n + c, 0));
      return {
        agent: u.agent,
        model: u.model,
        calls: u.calls,
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cost_usd: Number(u.cost_usd.toFixed(6)),
        latency_ms_avg: u.calls ? Math.round(u.latency_ms_total / u.calls) : 0,
        llm_errors: failed,
        error_kinds: Object.fromEntries(kinds),
        error_rate: u.calls + failed ? Number((failed / (u.calls + failed)).toFixed(4)) : 0,
        // A row made for an agent's LLM failures alone: what it used is unknown, not zero
        ...(u.model === "unknown" && u.calls === 0 ? { usage_reported: false } : {}),
      };
    });
  // Agents that answered without ever saying what they used: unknown, which is not zero
  const inbox = at.foldOptions.options.userInbox;
  const withUsage = new Set(rows.map((u) => u.agent));
  const withoutUsage = at.state.agents
    .filter((a) =>
      a.agent !== inbox && !withUsage.has(a.agent) && a.tasks_completed + a.tasks_failed > 0 &&
      (inv.agent === undefined || a.agent === inv.agent)
    )
    .map((a) => ({ agent: a.agent, replies: a.tasks_completed + a.tasks_failed }));
  return (limit) => {
    const { shown, omitted } = cut(usage, limit);
    return {
      ...head(inv, at.asOf),
      usage: shown,
      total: usage.length,
      omitted,
      without_usage: withoutUsage,
    };
  };
}
