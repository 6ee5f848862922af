/**
 * Rules over handoffs: a task whose reply never came is told apart from one answered late.
 * - `stuck_handoff`: tasks to an agent past their deadline (or far past its normal latency) with
 *   no reply recorded by the end of the window: the reply was never sent;
 * - `slow_agent`: the reply was sent, after the deadline;
 * - `handoff_loop`: tasks bouncing between two agents in one conversation;
 * - `requests_failed`: user requests answered with an ERROR or never answered. Every incident
 *   claims the failed requests of its conversations; what no cause claims stays on its own.
 */

import type { HandoffStuckRecord } from "@mat/observer";
import { duration, evidence, type Finding, noImpact, plural } from "../finding.ts";
import { groupBy } from "../group_by.ts";
import { rateSeverity, requestSeverity, share } from "../thresholds.ts";
import type { WindowFacts } from "../window_facts.ts";
import { requestsIn, tasksTo } from "../window_work.ts";

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

export function handoffRules(facts: WindowFacts, oracle: string): Finding[] {
  const out: Finding[] = [];
  // One stuck record per task message (the observer reports each once; a replayed one twice)
  const stuck = [...new Map(facts.stuck.map((s) => [s.task_message_id, s])).values()]
    .filter((s) => s.from !== facts.userInbox);
  for (const [agent, list] of groupBy(stuck, (s) => s.to)) {
    const late: HandoffStuckRecord[] = [];
    const never: HandoffStuckRecord[] = [];
    for (const s of list) (facts.replies.has(s.task_message_id) ? late : never).push(s);
    const conversations = (
      l: HandoffStuckRecord[],
    ) => [...new Set(l.map((s) => s.conversation_id))];
    // Tasks, not attempts: a task retried and stuck again is one task
    const tasks = (l: HandoffStuckRecord[]) => new Set(l.map((s) => s.task_id)).size;
    const received = tasksTo(facts, agent);
    if (never.length > 0) {
      const oldest = never[0];
      const open = new Set(facts.end.handoffs_open.map((h) => h.task_message_id));
      const stillOpen = never.filter((s) => open.has(s.task_message_id)).length;
      const n = tasks(never);
      const attempts = never.length > n ? ` (${plural(never.length, "attempt")})` : "";
      out.push({
        kind: "stuck_handoff",
        severity: rateSeverity(n, Math.max(received, never.length)),
        agent,
        process: null,
        summary: `${
          received > 0 ? share(n, received) : n
        } tasks to ${agent} never answered${attempts}: no reply was sent${
          oldest
            ? `; first: "${oldest.task_id}" from ${oldest.from}, unanswered after ${
              duration(oldest.age_ms)
            } (limit ${duration(oldest.limit_ms)})`
            : ""
        }`,
        short: `${plural(n, "task")} to ${agent} never answered`,
        since: oldest?.ts ?? null,
        until: stillOpen > 0 ? null : never.at(-1)?.ts ?? null,
        evidence: evidence(never.map((s) => s.seq)),
        next_commands: [
          ...(oldest ? [`${oracle} trace ${oldest.conversation_id}`] : []),
          `${oracle} errors -a ${agent}`,
          `${oracle} agents`,
        ],
        impact: noImpact(),
        conversations: conversations(never),
        tasks: never.map((s) => s.task_id),
      });
    }
    if (late.length > 0) {
      const replies = late.map((s) => facts.replies.get(s.task_message_id));
      const latency = median(replies.map((r) => r?.latency_ms ?? 0));
      const limit = median(late.map((s) => s.limit_ms));
      out.push({
        kind: "slow_agent",
        severity: rateSeverity(tasks(late), Math.max(received, late.length)) === "info"
          ? "info"
          : "warning",
        agent,
        process: null,
        summary: `${
          plural(late.length, "reply", "replies")
        } from ${agent} came past their limit: median ${duration(latency)} against ${
          duration(limit)
        }; the requester had given up or retried by then`,
        short: `${agent} answered late`,
        since: late[0]?.ts ?? null,
        until: replies.at(-1)?.ts ?? null,
        evidence: evidence([
          ...late.map((s) => s.seq),
          ...replies.map((r) => r?.seq ?? 0).filter((n) => n > 0),
        ]),
        next_commands: [
          `${oracle} agents`,
          ...(late[0] ? [`${oracle} trace ${late[0].conversation_id}`] : []),
        ],
        impact: noImpact(),
        conversations: conversations(late),
        tasks: late.map((s) => s.task_id),
      });
    }
  }
  for (const loop of facts.loops) {
    out.push({
      kind: "handoff_loop",
      severity: "critical",
      agent: loop.agents[0] ?? null,
      process: null,
      summary: `Tasks bounce between ${
        loop.agents.join(" and ")
      } in conversation "${loop.conversation_id}" (${loop.tasks} tasks)`,
      short: `tasks bounced between ${loop.agents.join(" and ")}`,
      since: loop.ts,
      until: null,
      evidence: evidence([loop.seq, loop.message_seq]),
      next_commands: [`${oracle} trace ${loop.conversation_id}`],
      impact: noImpact(),
      conversations: [loop.conversation_id],
      tasks: [],
    });
  }
  const failed = [...facts.requestsFailed];
  // The agent the requests were sent to: the entry agent, whatever it is called
  const entry = [...groupBy(failed, ([, f]) => f.to)].sort((a, b) => b[1].length - a[1].length)[0]
    ?.[0] ?? null;
  if (failed.length > 0) {
    const reasons = new Map<string, number>();
    for (const [, f] of failed) {
      const reason = f.reason.replace(/"[^"]*"/g, '"..."').slice(0, 120);
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    const top = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 2)
      .map(([r, n]) => `${n}x ${r}`).join("; ");
    const sent = Math.max(requestsIn(facts), failed.length);
    const severity = requestSeverity(failed.length, sent);
    out.push({
      kind: "requests_failed",
      severity,
      agent: entry,
      process: null,
      summary: `${share(failed.length, sent)} user requests failed: ${top}`,
      short: `${plural(failed.length, "user request")} failed`,
      since: failed.map(([, f]) => f.at).sort()[0] ?? null,
      until: failed.map(([, f]) => f.at).sort().at(-1) ?? null,
      evidence: evidence(failed.map(([, f]) => f.seq)),
      next_commands: [
        `${oracle} trace ${failed[0]?.[0] ?? ""}`,
        ...(entry !== null ? [`${oracle} errors -a ${entry}`] : []),
      ],
      impact: { ...noImpact(), requests_failed: failed.length },
      conversations: failed.map(([c]) => c),
      tasks: [],
    });
  }
  return out;
}
