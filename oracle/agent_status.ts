/**
 * Whether an agent is up, from the facts that say so, in this order:
 * 1. its pods or processes (runtime sources): up while one of them runs (`running`, restarts
 *    included), down when none does;
 * 2. else its queue's consumer groups, as last sampled: up with a member in one of them, down with
 *    none;
 * 3. else unknown.
 * The reason names the facts; `consumers` counts the group members beside it, so a process that
 * runs with no consumer left in its group shows as both.
 */

import type { ObserverStateData, ProcessData } from "@mat/observer";

type QueueData = ObserverStateData["queues"][number];

export type AgentUp = "up" | "down" | "unknown";
export type AgentStatusSource = "processes" | "consumer_group" | "none";

export interface AgentStatus {
  status: AgentUp;
  status_source: AgentStatusSource;
  status_reason: string;
  /** Members of the groups reading its queue at their last sample; null when none was sampled */
  consumers: number | null;
}

function exitOf(p: ProcessData): string {
  const t = p.last_termination;
  if (t === null || p.status === "running") return "";
  const parts = [
    t.reason,
    t.exit_code === null ? null : `code ${t.exit_code}`,
    t.signal,
  ].filter((x): x is string => x !== null);
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}

/** An agent's status from its processes, else its consumer groups (see the rules above) */
export function agentStatus(
  agent: string,
  processes: readonly ProcessData[],
  queues: readonly QueueData[],
): AgentStatus {
  const mine = queues.filter((q) => q.agent === agent);
  const consumers = mine.length === 0 ? null : mine.reduce((n, q) => n + q.members, 0);
  const own = processes.filter((p) => p.agent === agent);
  if (own.length > 0) {
    const running = own.filter((p) => p.status === "running");
    if (running.length > 0) {
      return {
        status: "up",
        status_source: "processes",
        status_reason: `${running.length} of ${own.length} process(es) running: ${
          running.map((p) => p.process).join(", ")
        }`,
        consumers,
      };
    }
    const last = own.reduce((a, b) => (b.last_event_at > a.last_event_at ? b : a));
    return {
      status: "down",
      status_source: "processes",
      status_reason: `no process running: ${last.process} ${last.status}${exitOf(last)}`,
      consumers,
    };
  }
  if (consumers !== null) {
    return {
      status: consumers > 0 ? "up" : "down",
      status_source: "consumer_group",
      status_reason: consumers > 0
        ? `${consumers} consumer(s) in its group(s), no process seen`
        : `no consumer in ${mine.map((q) => q.group === "" ? "(no group)" : q.group).join(", ")}`,
      consumers,
    };
  }
  return {
    status: "unknown",
    status_source: "none",
    status_reason: "no process and no consumer group seen",
    consumers,
  };
}
