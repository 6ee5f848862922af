/**
 * The state as `state` and `replay` show it: the observer's state with each agent's status taken
 * from its processes, else its consumer groups (agent_status.ts), and without the fold's working
 * lists (latency samples, queue windows). Its lists are whole here: the answer cuts them at the
 * limit and counts what it left out beside each (`agents_omitted`...).
 */

import type { ObserverStateData } from "@mat/observer";
import { agentStatus } from "./agent_status.ts";

export interface StateView {
  messages_seen: number;
  malformed_seen: number;
  agents: Record<string, unknown>[];
  queues: Record<string, unknown>[];
  handoffs_open: ObserverStateData["handoffs_open"];
  handoffs_open_total: number;
  errors: ObserverStateData["errors"];
  errors_total: number;
  error_counts: ObserverStateData["error_counts"];
  usage: ObserverStateData["usage"];
  positions: ObserverStateData["positions"];
}

/** The view of a state folded with `userInbox` as the requester (no agent: its status unknown) */
export function stateView(state: ObserverStateData, userInbox: string): StateView {
  const processes = state.processes ?? [];
  return {
    messages_seen: state.messages_seen,
    malformed_seen: state.malformed_seen,
    agents: state.agents.map(({ recent_latencies_ms: _r, ...a }) => ({
      ...a,
      ...(a.agent === userInbox ? {} : agentStatus(a.agent, processes, state.queues)),
    })),
    queues: state.queues.map(({ window: _w, ...q }) => q),
    handoffs_open: state.handoffs_open,
    handoffs_open_total: state.handoffs_open.length,
    errors: state.errors,
    errors_total: state.errors.length,
    error_counts: state.error_counts,
    usage: state.usage,
    positions: state.positions,
  };
}
