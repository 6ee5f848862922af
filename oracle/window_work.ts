/**
 * What the system did in the window: the work the rates of the rules are shares of. Each figure is
 * the difference of the observer's cumulative counters between the window's end and its start
 * (never below zero: a counter of an agent the start state had dropped counts from zero).
 */

import type { ObserverStateData } from "@mat/observer";
import type { WindowFacts } from "./window_facts.ts";

type AgentCounters = ObserverStateData["agents"][number];
type Counter = "messages_sent" | "messages_received" | "tasks_received";

function counter(state: ObserverStateData, agent: string, key: Counter): number {
  const a: AgentCounters | undefined = state.agents.find((x) => x.agent === agent);
  return a?.[key] ?? 0;
}

function delta(facts: WindowFacts, agent: string, key: Counter): number {
  return Math.max(0, counter(facts.end, agent, key) - counter(facts.start, agent, key));
}

/** Tasks the agent received in the window (every attempt) */
export function tasksTo(facts: WindowFacts, agent: string): number {
  return delta(facts, agent, "tasks_received");
}

/** Messages the agent sent in the window */
export function messagesFrom(facts: WindowFacts, agent: string): number {
  return delta(facts, agent, "messages_sent");
}

/** Every message the observer read in the window */
export function messagesIn(facts: WindowFacts): number {
  return Math.max(0, facts.end.messages_seen - facts.start.messages_seen);
}

/** User requests sent in the window: what the requester sent */
export function requestsIn(facts: WindowFacts): number {
  return messagesFrom(facts, facts.userInbox);
}

/** LLM calls the agent reported usage for in the window */
export function llmCalls(facts: WindowFacts, agent: string): number {
  const calls = (s: ObserverStateData) =>
    s.usage.filter((u) => u.agent === agent).reduce((n, u) => n + u.calls, 0);
  return Math.max(0, calls(facts.end) - calls(facts.start));
}
