/**
 * The stuck rule, read from the state: an open handoff past its `deadline` -> `handoff_stuck`
 * (`deadline_passed`); with no deadline reached, older than max(STUCK_AFTER_MS, 5x the p95 of the
 * agent's recent latencies) -> `handoff_stuck` (`slower_than_normal`). Reported once (the record
 * marks it stuck when applied); a late answer still completes it. A handoff whose agent said it
 * waits on a person (`waiting_on`: A2A input or auth required) is not stuck while it waits.
 */

import type { ObserverState } from "./observer_state.ts";
import type { Body, HandoffStuckRecord } from "./record_format.ts";

/** Latencies an agent needs before its p95 sets what is normal for it */
export const NORMAL_SAMPLES = 20;

/** How long a handoff to an agent may stay open before it is stuck, without a deadline */
export function normalLimitMs(state: ObserverState, agent: string): number {
  const samples = [...(state.agents.get(agent)?.recent_latencies_ms ?? [])].sort((a, b) => a - b);
  if (samples.length < NORMAL_SAMPLES) return state.options.stuckAfterMs;
  const p95 = samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.95))] ?? 0;
  return Math.max(state.options.stuckAfterMs, 5 * p95);
}

/** `handoff_stuck` events for open handoffs that just became stuck */
export function stuckHandoffs(state: ObserverState, now: Date): Body<HandoffStuckRecord>[] {
  const out: Body<HandoffStuckRecord>[] = [];
  const t = now.getTime();
  const limits = new Map<string, number>();
  for (const h of state.handoffs.values()) {
    // A task waiting on a person is no agent's delay
    if (h.stuck || h.waiting_on !== undefined) continue;
    const age = t - Date.parse(h.created_at);
    const fields = {
      task_message_id: h.task_message_id,
      task_id: h.task_id,
      conversation_id: h.conversation_id,
      from: h.from,
      to: h.to,
      attempt: h.attempt,
      age_ms: age,
    };
    const deadline = h.deadline === undefined ? undefined : Date.parse(h.deadline);
    let limit = limits.get(h.to);
    if (limit === undefined) {
      limit = normalLimitMs(state, h.to);
      limits.set(h.to, limit);
    }
    if (deadline !== undefined && t > deadline) {
      out.push({
        type: "handoff_stuck",
        ...fields,
        reason: "deadline_passed",
        limit_ms: deadline - Date.parse(h.created_at),
      });
    } else if (age > limit) {
      out.push({
        type: "handoff_stuck",
        ...fields,
        reason: "slower_than_normal",
        limit_ms: limit,
      });
    }
  }
  return out;
}
