/**
 * `diagnose`: ranked findings from the observer's state at the end of its history. Each rule
 * below reads the rebuilt state (folded errors, queues, open handoffs, agents) and says what is
 * broken, where, since when, with pointers to the evidence and the next commands worth running.
 *
 * | kind                  | from                                                                |
 * |-----------------------|---------------------------------------------------------------------|
 * | `agent_down`          | a queue whose group has no member while messages wait               |
 * | `agent_crash_loop`    | an agent process or pod restarted `CRASH_LOOP_RESTARTS`+ times      |
 * | `tasks_lost_in_crash` | tasks in flight on an agent when its process or pod died            |
 * | `stuck_handoff`       | open handoffs past their deadline                                   |
 * | `slow_agent`          | handoffs unanswered far longer than the agent's normal latency      |
 * | `queue_backlog`       | a group whose lag grows while it commits (Burrow WARN)              |
 * | `consumer_stalled`    | a group that stopped committing (Burrow STALL/STOP) or errs (ERR)   |
 * | `llm_rate_limited`    | `ERROR`s of kind `llm_rate_limit`                                   |
 * | `error_spike`         | `ERROR_SPIKE`+ errors of one kind from one agent in the window      |
 * | `malformed_messages`  | records that are not valid envelopes                                |
 * | `unroutable_task`     | tasks to a queue nobody reads, or to an agent with no queue         |
 * | `handoff_loop`        | tasks bouncing between agents in one conversation                   |
 * | `observer_degraded`   | unreadable lines in the history, or a history that stopped          |
 */

import { USER_INBOX } from "@mat/agents/protocol";
import type { ErrorFold, ObserverStateData, Position, Severity } from "@mat/observer";

export const FINDING_KINDS = [
  "agent_down",
  "agent_crash_loop",
  "tasks_lost_in_crash",
  "stuck_handoff",
  "slow_agent",
  "queue_backlog",
  "consumer_stalled",
  "llm_rate_limited",
  "error_spike",
  "malformed_messages",
  "unroutable_task",
  "handoff_loop",
  "observer_degraded",
] as const;
export type FindingKind = typeof FINDING_KINDS[number];

export interface Finding {
  kind: FindingKind;
  severity: Severity;
  agent: string | null;
  /** The pod or process concerned, when known */
  process: string | null;
  summary: string;
  /** ISO time the problem was first seen */
  since: string | null;
  evidence: { seqs: number[]; offsets: Position[] };
  next_commands: string[];
}

export type HealthStatus = "healthy" | "degraded" | "failing";

/** Errors of one kind from one agent within the window that make a spike */
export const ERROR_SPIKE = 3;
/** How far back from the end of the history errors count as recent */
export const RECENT_WINDOW_MS = 15 * 60_000;
export const CRASH_LOOP_RESTARTS = 3;
/** A history whose newest record is older than this is flagged as stopped */
export const STALE_HISTORY_MS = 2 * 60_000;

export interface DiagnoseContext {
  /** Time of the newest record in the history (the moment diagnosed) */
  asOf: number;
  /** Wall-clock now, to tell a stopped observer */
  now: number;
  /** True when neither history has a record */
  empty: boolean;
  skippedLines: number;
  skippedWhere: string[];
  /** The oracle command, for next_commands */
  oracle: string;
}

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, error: 1, warning: 2, info: 3 };

function evidenceOf(errors: ErrorFold[], max = 8): Finding["evidence"] {
  const seqs = [...new Set(errors.flatMap((e) => e.evidence.seqs))].sort((a, b) => b - a);
  const offsets = errors.flatMap((e) => e.evidence.offsets).slice(-max);
  return { seqs: seqs.slice(0, max), offsets };
}

function earliest(times: (string | null | undefined)[]): string | null {
  const valid = times.filter((t): t is string => typeof t === "string");
  return valid.length === 0 ? null : valid.reduce((a, b) => (a < b ? a : b));
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return out;
}

function total(errors: ErrorFold[]): number {
  return errors.reduce((n, e) => n + e.count, 0);
}

export function diagnose(state: ObserverStateData, ctx: DiagnoseContext): Finding[] {
  const o = ctx.oracle;
  const findings: Finding[] = [];
  const recent = state.errors.filter((e) => ctx.asOf - Date.parse(e.last_seen) <= RECENT_WINDOW_MS);

  // Queues: a group with no members while work waits is an agent that is down.
  // The user inbox is read by short-lived `submit` groups, not by an agent.
  const queues = state.queues.filter((q) => q.agent !== USER_INBOX);
  const consumed = new Set(queues.filter((q) => q.members > 0).map((q) => q.agent));
  for (const q of queues) {
    if (q.members === 0 && q.lag > 0 && !byAgentHasProcesses(state, q.agent)) {
      findings.push({
        kind: "agent_down",
        severity: "critical",
        agent: q.agent,
        process: null,
        summary:
          `No consumer in group "${q.group}": ${q.lag} message(s) wait on "${q.topic}" unread`,
        since: q.window[0]?.at ?? q.sampled_at,
        evidence: { seqs: [], offsets: [] },
        next_commands: [`${o} queues`, `${o} agents`, `${o} errors -a ${q.agent}`],
      });
    } else if (q.status === "STALL" || q.status === "STOP" || q.status === "ERR") {
      findings.push({
        kind: "consumer_stalled",
        severity: q.status === "STOP" ? "critical" : "error",
        agent: q.agent,
        process: null,
        summary: `Consumer group "${q.group}" is ${q.status} with lag ${q.lag}: ${q.status_reason}`,
        since: q.window[0]?.at ?? q.sampled_at,
        evidence: { seqs: [], offsets: [] },
        next_commands: [`${o} queues`, `${o} replay -m 10`, `${o} errors -a ${q.agent}`],
      });
    } else if (q.status === "WARN") {
      findings.push({
        kind: "queue_backlog",
        severity: "warning",
        agent: q.agent,
        process: null,
        summary: `Queue "${q.topic}" is backing up: lag ${q.lag} and growing (${q.status_reason})`,
        since: q.window[0]?.at ?? q.sampled_at,
        evidence: { seqs: [], offsets: [] },
        next_commands: [`${o} queues`, `${o} diffs -e queue_sample -l 10`],
      });
    }
  }

  // Pods and processes (runtime sources).
  const processes = state.processes ?? [];
  const openTasks = new Set(state.handoffs_open.map((h) => h.task_message_id));
  const runtimeErrors = (agent: string | null, kinds: string[]) =>
    state.errors.filter((e) => e.agent === agent && kinds.includes(e.kind));
  const byAgent = groupBy(processes, (p) => p.agent ?? "unknown");
  for (const [agent, procs] of byAgent) {
    const running = procs.filter((p) => p.status === "running");
    for (const p of procs) {
      const t = p.last_termination;
      const how = t
        ? [t.reason, t.exit_code !== null ? `exit code ${t.exit_code}` : null, t.signal]
          .filter((x) => x !== null).join(", ")
        : "";
      if (p.status === "crash_loop" || p.restart_count >= CRASH_LOOP_RESTARTS) {
        findings.push({
          kind: "agent_crash_loop",
          severity: "critical",
          agent: p.agent,
          process: p.process,
          summary: `${p.process} of ${agent} keeps dying: ${p.restart_count} restart(s)${
            t ? `, last ${how || "no reason"} at ${t.at}` : ""
          }`,
          since: p.started_at ?? t?.at ?? null,
          evidence: evidenceOf(
            runtimeErrors(p.agent, ["crash_loop", "restarted", "oom_killed", "process_died"]),
          ),
          next_commands: [`${o} agents`, `${o} diffs -e runtime_event`, `${o} errors -a ${agent}`],
        });
      }
      if (p.lost_tasks.length > 0) {
        const stillOpen = p.lost_tasks.filter((l) => openTasks.has(l.task_message_id));
        const first = p.lost_tasks[p.lost_tasks.length - 1];
        findings.push({
          kind: "tasks_lost_in_crash",
          severity: stillOpen.length > 0 ? "error" : "warning",
          agent: p.agent,
          process: p.process,
          summary: `${p.lost_tasks.length} task(s) in flight when ${p.process} of ${agent} died${
            how ? ` (${how})` : ""
          }: ${p.lost_tasks.slice(0, 3).map((l) => `"${l.task_id}"`).join(", ")}; ${
            stillOpen.length > 0
              ? `${stillOpen.length} still unanswered`
              : "all answered since (redelivered after the restart)"
          }`,
          since: first?.at ?? null,
          evidence: evidenceOf(runtimeErrors(p.agent, ["restarted", "oom_killed", "process_died"])),
          next_commands: [
            ...(first ? [`${o} trace ${first.conversation_id}`] : []),
            `${o} agents`,
            `${o} replay --after ${first?.at ?? "10m"}`,
          ],
        });
      }
    }
    const queue = queues.find((q) => q.agent === agent);
    const crashed = procs.some((p) =>
      p.status !== "running" && p.status !== "pending" &&
      !(p.status === "exited" && p.last_termination?.reason === "stopped")
    );
    if (running.length === 0 && (crashed || (queue?.lag ?? 0) > 0) && agent !== USER_INBOX) {
      const newest = procs.reduce((a, b) => (a.last_event_at > b.last_event_at ? a : b));
      findings.push({
        kind: "agent_down",
        severity: "critical",
        agent: newest.agent,
        process: newest.process,
        summary: `${agent} has no running ${
          newest.source === "k8s" ? "pod" : "process"
        }: ${newest.process} is ${newest.status}${
          queue && queue.lag > 0 ? `; ${queue.lag} message(s) wait on its queue` : ""
        }`,
        since: newest.last_event_at,
        evidence: evidenceOf(
          runtimeErrors(newest.agent, [
            "unschedulable",
            "evicted",
            "image_pull_backoff",
            "crash_loop",
            "process_died",
            "oom_killed",
          ]),
        ),
        next_commands: [`${o} agents`, `${o} diffs -e runtime_event`],
      });
    }
  }

  // Handoffs still open past their deadline (flagged by the observer, or due by the end).
  const stuck = state.handoffs_open.filter((h) =>
    h.stuck || (h.deadline !== undefined && Date.parse(h.deadline) < ctx.asOf)
  );
  const stuckAgents = new Set(stuck.map((h) => h.to));
  for (const [agent, hs] of groupBy(stuck, (h) => h.to)) {
    const oldest = hs.reduce((a, b) => (a.created_at < b.created_at ? a : b));
    findings.push({
      kind: "stuck_handoff",
      severity: "error",
      agent,
      process: null,
      summary:
        `${hs.length} handoff(s) to ${agent} unanswered; oldest: task "${oldest.task_id}" from ${oldest.from} since ${oldest.created_at}`,
      since: oldest.created_at,
      evidence: { seqs: hs.map((h) => h.started_seq).slice(0, 8), offsets: [] },
      next_commands: [
        `${o} trace ${oldest.conversation_id}`,
        `${o} errors -a ${agent}`,
        `${o} agents`,
      ],
    });
  }

  // Folded errors, by kind and agent.
  const byKindAgent = groupBy(recent, (e) => `${e.kind}|${e.agent ?? ""}`);
  for (const errors of byKindAgent.values()) {
    const first = errors[0];
    if (first === undefined) continue;
    const agent = first.agent;
    const count = total(errors);
    const since = earliest(errors.map((e) => e.first_seen));
    const evidence = evidenceOf(errors);
    const a = agent ?? "unknown";
    const base = { agent, process: null, since, evidence };
    switch (first.kind) {
      case "llm_rate_limit":
        findings.push({
          ...base,
          kind: "llm_rate_limited",
          severity: count >= ERROR_SPIKE ? "error" : "warning",
          summary: `${a} hit the LLM rate limit ${count} time(s): ${first.message}`,
          next_commands: [`${o} llm`, `${o} errors -a ${a}`],
        });
        break;
      case "malformed_record":
        findings.push({
          ...base,
          kind: "malformed_messages",
          severity: "error",
          summary: `${count} malformed record(s) ${first.message}`,
          next_commands: [`${o} diffs -e message_malformed`, `${o} errors -a ${a}`],
        });
        break;
      case "task_unconsumed":
      case "unknown_agent":
        // A queue read again by now: the tasks were picked up once its agent joined.
        if (first.kind === "task_unconsumed" && agent !== null && consumed.has(agent)) break;
        findings.push({
          ...base,
          kind: "unroutable_task",
          severity: first.kind === "task_unconsumed" ? "critical" : "error",
          summary: `${count} task(s) could not reach their agent: ${first.message}`,
          next_commands: [`${o} diffs -e task_unconsumed`, `${o} queues`],
        });
        break;
      case "handoff_loop":
        findings.push({
          ...base,
          kind: "handoff_loop",
          severity: "critical",
          summary: first.message,
          next_commands: [
            first.conversation_id
              ? `${o} trace ${first.conversation_id}`
              : `${o} diffs -e handoff_loop`,
          ],
        });
        break;
      case "stuck_slower_than_normal":
        findings.push({
          ...base,
          kind: "slow_agent",
          severity: "warning",
          summary: `${a} answered ${count} handoff(s) far slower than its normal latency`,
          next_commands: [`${o} agents`, `${o} diffs -e handoff_stuck`],
        });
        break;
      case "stuck_deadline_passed":
        // Stuck, then retried or answered late: still the fault to name, once per agent.
        if (agent !== null && stuckAgents.has(agent)) break;
        findings.push({
          ...base,
          kind: "stuck_handoff",
          severity: "error",
          summary:
            `${count} handoff(s) to ${a} went unanswered past their deadline: ${first.message}`,
          next_commands: [
            first.conversation_id
              ? `${o} trace ${first.conversation_id}`
              : `${o} diffs -e handoff_stuck`,
            `${o} errors -a ${a}`,
          ],
        });
        break;
      case "crash_loop":
      case "restarted":
      case "oom_killed":
      case "process_died":
      case "unschedulable":
      case "evicted":
      case "image_pull_backoff":
        break; // Reported through the processes above.
      case "delivered_twice":
      case "reply_orphaned":
      case "cancelled":
      case "queue_stall":
      case "queue_stop":
      case "queue_err":
        break; // Reported through the state (handoffs, queues) or not a fault on their own.
      default:
        if (count >= ERROR_SPIKE || first.severity === "critical") {
          findings.push({
            ...base,
            kind: "error_spike",
            severity: first.severity === "critical" ? "critical" : "error",
            summary: `${count} ${first.kind} error(s) from ${a}: ${first.message}`,
            next_commands: [`${o} errors -a ${a}`, `${o} replay -m 15`],
          });
        }
    }
  }

  // The history itself.
  if (ctx.empty) {
    findings.push({
      kind: "observer_degraded",
      severity: "warning",
      agent: null,
      process: null,
      summary: "The time machine is empty: the observer has not recorded anything here yet",
      since: null,
      evidence: { seqs: [], offsets: [] },
      next_commands: ["deno task observe", `${o} diagnose --data-dir <dir of the observer>`],
    });
  }
  if (ctx.skippedLines > 0) {
    findings.push({
      kind: "observer_degraded",
      severity: "warning",
      agent: null,
      process: null,
      summary: `${ctx.skippedLines} unreadable line(s) in the time machine, first at ${
        ctx.skippedWhere[0] ?? "?"
      }`,
      since: null,
      evidence: { seqs: [], offsets: [] },
      next_commands: [`${o} state`],
    });
  }
  if (!ctx.empty && ctx.now - ctx.asOf > STALE_HISTORY_MS) {
    findings.push({
      kind: "observer_degraded",
      severity: "info",
      agent: null,
      process: null,
      summary: `The history ends at ${new Date(ctx.asOf).toISOString()} (${
        Math.round((ctx.now - ctx.asOf) / 60_000)
      } min ago): the observer is not running, or this is an old copy`,
      since: new Date(ctx.asOf).toISOString(),
      evidence: { seqs: [], offsets: [] },
      next_commands: [`${o} replay -m 10`],
    });
  }
  return findings.sort((a, b) =>
    SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
    (a.since ?? "").localeCompare(b.since ?? "")
  );
}

function byAgentHasProcesses(state: ObserverStateData, agent: string): boolean {
  return (state.processes ?? []).some((p) => p.agent === agent);
}

export function statusOf(findings: Finding[]): HealthStatus {
  if (findings.some((f) => f.severity === "critical" || f.severity === "error")) return "failing";
  if (findings.some((f) => f.severity === "warning")) return "degraded";
  return "healthy";
}
