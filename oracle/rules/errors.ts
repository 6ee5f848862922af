/**
 * Rules over the error occurrences of the window (`error` records), grouped by kind and agent.
 * An agent answering `deadline_exceeded` (its own handler out of time) is slow (`slow_agent`).
 * The kinds other rules read from richer records are left to them: handoffs stuck, pods and
 * processes, queue statuses, tasks on unread queues. The ERROR a user request was answered with
 * is the request's failure (`requests_failed`), not an error of the entry agent's own, when it
 * passes on a failure further down its conversation; with none, it is the entry agent's own.
 */

import {
  type ErrorRecord,
  type FoldKind,
  foldKindOf,
  isK8sWarningKind,
  unhandledKind,
} from "@mat/observer";
import {
  duration,
  evidence,
  type Finding,
  type FindingKind,
  noImpact,
  plural,
} from "../finding.ts";
import { groupBy } from "../group_by.ts";
import { rateSeverity, share, THRESHOLDS } from "../thresholds.ts";
import type { WindowFacts } from "../window_facts.ts";
import { llmCalls, messagesIn, tasksTo } from "../window_work.ts";
import { expiredSplit } from "./expiry.ts";

type Role =
  | { rule: FindingKind }
  | { rule: "spike" }
  | { rule: "elsewhere" };

/**
 * What each error kind the observer folds is, for this rule: every kind handled (a kind the
 * observer adds is a compile error here until it is)
 */
function roleOf(kind: FoldKind): Role {
  switch (kind) {
    case "llm_rate_limit":
      return { rule: "llm_rate_limited" };
    case "malformed_record":
      return { rule: "malformed_messages" };
    case "unknown_agent":
      return { rule: "unroutable_task" };
    case "runtime_source_error":
      return { rule: "observer_degraded" };
    // The agent's own handler ran out of time: it is too slow (or hangs)
    case "deadline_exceeded":
    case "timeout":
      return { rule: "slow_agent" };
    // Errors of the agents' own work: a fault when they repeat (or one is critical)
    case "llm_error":
    case "tool_error":
    case "handler_error":
    case "invalid_message":
    case "internal":
      return { rule: "spike" };
    // Read from richer records by the other rules, or no fault on their own
    case "handoff_loop":
    case "stuck_deadline_passed":
    case "stuck_slower_than_normal":
    case "task_unconsumed":
    case "crash_loop":
    case "restarted":
    case "oom_killed":
    case "process_died":
    case "unschedulable":
    case "evicted":
    case "image_pull_backoff":
    case "delivered_twice":
    case "reply_orphaned":
    case "cancelled":
    case "queue_stall":
    case "queue_stop":
    case "queue_err":
      return { rule: "elsewhere" };
    default:
      // Kubernetes Warning events: the process rules read the pods' own records
      if (isK8sWarningKind(kind)) return { rule: "elsewhere" };
      return unhandledKind(kind);
  }
}

/**
 * The role of a kind read from the history. A kind this oracle does not know (a newer observer's,
 * or a newer agent's ERROR kind) is an error like any other: it makes a spike when it repeats.
 */
function roleOfRecorded(kind: string): Role {
  const known = foldKindOf(kind);
  return known === undefined ? { rule: "spike" } : roleOf(known);
}

export function errorRules(facts: WindowFacts, oracle: string): Finding[] {
  const out: Finding[] = [];
  // The ERRORs that answered user requests are the requests' failures when they pass on a
  // failure further down (a task of the conversation to another agent failed or went stuck);
  // with none, the agent the user asked failed on its own, and its error is its own.
  const deeper = new Set(
    [...facts.failed, ...facts.stuck].filter((h) => h.from !== facts.userInbox)
      .map((h) => h.conversation_id),
  );
  const own = facts.errors.filter((e) =>
    !(e.conversation_id !== null && deeper.has(e.conversation_id) &&
      facts.requestsFailed.get(e.conversation_id)?.task_id === e.task_id)
  );
  for (const errors of groupBy(own, (e) => `${e.kind}\u0000${e.agent ?? ""}`).values()) {
    const first = errors[0];
    if (first === undefined) continue;
    const role = roleOfRecorded(first.kind);
    if (role.rule === "elsewhere") continue;
    // A line may stand for several occurrences coalesced within one sync interval
    const count = errors.reduce((n, e) => n + (e.occurrences ?? 1), 0);
    const agent = first.agent;
    const a = agent ?? "an unknown sender";
    const last = errors.at(-1)?.ts ?? null;
    // Seen up to the window's end: still going on
    const ongoing = last === null || Date.parse(last) >= facts.to - THRESHOLDS.ongoing_ms;
    const tasks = agent === null ? 0 : tasksTo(facts, agent);
    const base = {
      agent,
      process: null,
      since: first.ts,
      until: ongoing ? null : last,
      evidence: evidence(
        errors.flatMap((e) => e.evidence.seqs.slice(-1)),
        errors.flatMap((e: ErrorRecord) => e.evidence.offsets.slice(-1)),
      ),
      impact: noImpact(),
      // A coalesced line names the conversations of all the occurrences it stands for
      conversations: [
        ...new Set(
          errors.flatMap((e) => [e.conversation_id, ...(e.conversation_ids ?? [])])
            .filter((c) => c !== null),
        ),
      ],
      tasks: [...new Set(errors.map((e) => e.task_id).filter((t) => t !== null))],
    };
    switch (role.rule) {
      case "llm_rate_limited": {
        // Each task makes a call at least; a rate-limited call reports no usage
        const calls = Math.max(tasks, (agent === null ? 0 : llmCalls(facts, agent)) + count);
        out.push({
          ...base,
          kind: "llm_rate_limited",
          severity: rateSeverity(count, calls),
          summary: `${a} hit the LLM rate limit on ${share(count, calls)} calls${
            ongoing ? ", to the end of the window" : ""
          }: ${first.message}`,
          short: `${a} rate-limited by its LLM (${count}x)`,
          next_commands: [`${oracle} llm`, `${oracle} errors -a ${a}`],
        });
        break;
      }
      case "malformed_messages": {
        const seen = messagesIn(facts) + count;
        out.push({
          ...base,
          kind: "malformed_messages",
          severity: rateSeverity(count, seen),
          summary: `${share(count, seen)} records malformed: ${first.message}`,
          short: `${count} malformed record(s) from ${a}`,
          next_commands: [`${oracle} diffs -e message_malformed`, `${oracle} errors -a ${a}`],
        });
        break;
      }
      case "unroutable_task":
        out.push({
          ...base,
          kind: "unroutable_task",
          severity: "error",
          summary: `${plural(count, "task")} could not reach their agent: ${first.message}`,
          short: `tasks sent to an agent with no queue`,
          next_commands: [`${oracle} errors -a ${a}`, `${oracle} queues`],
        });
        break;
      case "slow_agent": {
        // Who expired them: the sender (a deadline already past when the task was made), the
        // queue (it expired waiting), or the agent itself (it expired while running)
        const split = agent === null ? undefined : expiredSplit(facts, agent, errors);
        const running = split === undefined ? count : count - split.before.length -
          split.queued.length;
        const of = Math.max(tasks, count);
        for (const [from, list] of split?.bySender ?? []) {
          const late = list.map((f) =>
            Date.parse(f.task_created_at ?? "") - Date.parse(f.deadline ?? "")
          );
          const median = late.sort((x, y) => x - y)[Math.floor(late.length / 2)] ?? 0;
          out.push({
            ...base,
            agent: from,
            kind: "expired_before_sent",
            severity: rateSeverity(list.length, of),
            summary: `${from} sent ${share(list.length, of)} tasks to ${a} with their deadline ` +
              `already past when they were made (median ${duration(median)} before): ${from} ` +
              `set it, or its clock is behind; ${a} refused them (${first.kind}) through no ` +
              `fault of its own`,
            short: `${from} sent tasks already past their deadline`,
            since: list[0]?.ts ?? base.since,
            evidence: evidence(list.map((f) => f.seq)),
            conversations: [...new Set(list.map((f) => f.conversation_id))],
            tasks: [...new Set(list.map((f) => f.task_id))],
            next_commands: [
              `${oracle} trace ${list[0]?.conversation_id ?? ""}`,
              `${oracle} errors -a ${a}`,
            ],
          });
        }
        if (split !== undefined && split.queued.length > 0) {
          const q = split.queued;
          out.push({
            ...base,
            kind: "queue_backlog",
            severity: rateSeverity(q.length, of),
            summary: `${share(q.length, of)} tasks to ${a} expired waiting in its queue ` +
              `(${first.kind}): its consumer was behind while they waited`,
            short: `${a}'s tasks expired in its queue`,
            since: q[0]?.ts ?? base.since,
            evidence: evidence(q.map((f) => f.seq)),
            conversations: [...new Set(q.map((f) => f.conversation_id))],
            tasks: [...new Set(q.map((f) => f.task_id))],
            next_commands: [`${oracle} queues`, `${oracle} errors -a ${a}`],
          });
        }
        if (running <= 0) break;
        out.push({
          ...base,
          kind: "slow_agent",
          severity: rateSeverity(running, of),
          summary: `${a} ran out of time on ${share(running, of)} tasks: ${first.message}`,
          short: `${a} ran out of time (${running}x ${first.kind})`,
          next_commands: [`${oracle} agents`, `${oracle} errors -a ${a}`],
        });
        break;
      }
      case "observer_degraded":
        out.push({
          ...base,
          kind: "observer_degraded",
          severity: "warning",
          summary: first.message,
          short: "the observer could not see the agents' runtime",
          next_commands: [`${oracle} diffs -e runtime_event`],
        });
        break;
      case "spike": {
        const critical = first.severity === "critical";
        if (count < THRESHOLDS.min_events && !critical) break;
        const of = Math.max(tasks, count);
        out.push({
          ...base,
          kind: "error_spike",
          severity: critical ? "critical" : rateSeverity(count, of),
          summary: `${a} failed ${share(count, of)} tasks with ${first.kind}: ${first.message}`,
          short: `${a} failed ${plural(count, "task")} (${first.kind})`,
          next_commands: [`${oracle} errors -a ${a}`, `${oracle} replay -m 15`],
        });
        break;
      }
      default:
        break;
    }
  }
  return out;
}
