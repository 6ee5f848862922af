/**
 * A finding: one thing a rule saw in the window of history diagnosed (a crash, a frozen consumer,
 * a burst of errors...), with what it touched (agents, conversations, tasks) so that the incident
 * builder can tell which findings explain which.
 *
 * | kind                  | what the record shows                                                |
 * |-----------------------|----------------------------------------------------------------------|
 * | `broker_unavailable`  | every queue unreadable at once: the broker did not answer            |
 * | `agent_crash_loop`    | an agent's process or pod died again and again                       |
 * | `agent_crashed`       | an agent's process died (or its pod was deleted) holding work, or  |
 * |                       | exited with an error                                                 |
 * | `agent_restarted`     | an agent's process was killed while idle and came back               |
 * | `agent_down`          | no running process, or no consumer left in its group, while work waits|
 * | `consumer_stalled`    | a consumer alive but frozen: in its group (or its process running),  |
 * |                       | not committing, lag growing                                          |
 * | `group_churn`         | a consumer group whose members keep joining and leaving (rebalancing)|
 * | `agent_saturated`     | an agent's queue backs up while the replies it waits for sit in it   |
 * | `unroutable_task`     | tasks on a queue no consumer ever read, or to an agent with no queue |
 * | `queue_backlog`       | a consumer that commits but falls behind (Burrow WARN)               |
 * | `stuck_handoff`       | tasks whose reply was never sent                                     |
 * | `slow_agent`          | replies sent, but past their deadline or far slower than normal      |
 * | `expired_before_sent` | tasks sent with their deadline already past: the sender's doing      |
 * | `llm_rate_limited`    | `ERROR`s of kind `llm_rate_limit`                                    |
 * | `error_spike`         | many errors of one kind from one agent                               |
 * | `malformed_messages`  | records that are not valid envelopes                                 |
 * | `handoff_loop`        | tasks bouncing between agents in one conversation                    |
 * | `requests_failed`     | user requests that failed with no other cause in the record          |
 * | `observer_degraded`   | unreadable lines, an empty or stopped history, a runtime source blind|
 */

import type { Position, Severity } from "@mat/observer";

export const FINDING_KINDS = [
  "broker_unavailable",
  "agent_crash_loop",
  "agent_crashed",
  "agent_restarted",
  "agent_down",
  "consumer_stalled",
  "agent_saturated",
  "group_churn",
  "unroutable_task",
  "queue_backlog",
  "stuck_handoff",
  "slow_agent",
  "expired_before_sent",
  "llm_rate_limited",
  "error_spike",
  "malformed_messages",
  "handoff_loop",
  "requests_failed",
  "observer_degraded",
] as const;
export type FindingKind = typeof FINDING_KINDS[number];

/** What a finding cost the users of the system */
export interface Impact {
  /** User requests answered with an ERROR, or never answered */
  requests_failed: number;
  /** Tasks in flight on a process when it died */
  tasks_lost: number;
  /** Messages waiting unread on a queue at the end of the window (the worst moment if resolved) */
  messages_waiting: number;
  /** User requests in flight that waited on it (an outage of the broker), answered or not */
  requests_delayed: number;
}

export interface Finding {
  kind: FindingKind;
  severity: Severity;
  agent: string | null;
  /** The pod or process concerned, when known */
  process: string | null;
  summary: string;
  /** A few words for the incident's chain line, e.g. `coder crash-looped (SIGKILL x4)` */
  short: string;
  /** ISO time the problem was first seen in the window */
  since: string | null;
  /** ISO time it ended, or null while it is ongoing at the end of the window */
  until: string | null;
  /** The newest seqs and offsets (at most 8 of each), and how many seqs there were in all */
  evidence: { seqs: number[]; offsets: Position[]; seqs_total: number };
  next_commands: string[];
  impact: Impact;
  /** Conversations and tasks it touched: what links it to the findings it explains */
  conversations: string[];
  tasks: string[];
  /**
   * Only ever a consequence (an agent busy or waiting on replies from others): it never explains
   * another finding, and ranks among the consequences
   */
  secondary?: true;
}

/** `unknown`: no incident found, but the history read cannot support "healthy" (diagnose.ts) */
export type HealthStatus = "healthy" | "degraded" | "failing" | "unknown";

export function noImpact(): Impact {
  return { requests_failed: 0, tasks_lost: 0, messages_waiting: 0, requests_delayed: 0 };
}

/** The evidence of a finding: the newest seqs first, at most `max` of each */
export function evidence(seqs: number[], offsets: Position[] = [], max = 8): Finding["evidence"] {
  const unique = [...new Set(seqs)];
  return {
    seqs: unique.sort((a, b) => b - a).slice(0, max),
    offsets: offsets.slice(-max),
    seqs_total: unique.length,
  };
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Milliseconds as a short human duration: `850 ms`, `12 s`, `4.5 min` */
export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
