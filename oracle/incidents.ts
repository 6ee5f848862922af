/**
 * Incidents: the findings of a window grouped by cause. Each incident has one root cause and the
 * findings it explains (its symptoms), so a symptom is never shown as a peer of its cause.
 *
 * A finding is explained by another when the other is more fundamental (a lower LEVEL: the broker,
 * then pods and processes, then consumers, then what agents answer, then queues backing up, then
 * failed requests) and they are linked:
 * - the same agent, at overlapping times (a crash loop explains its agent's consumer gone, its
 *   handoffs stuck, its queue backing up); or
 * - a shared conversation (a rate-limited coder explains the orchestrator's failed requests); or
 * - the broker being unreachable, at overlapping times, for anything.
 * Each finding goes to the most fundamental, then earliest, cause; a cause explained in turn
 * passes its symptoms to its own root. Findings of the same kind and agent merge first.
 *
 * Failed user requests are claimed by the incident whose conversations hold them; only the
 * requests no cause claims make an incident of their own (`requests_failed`). Incidents rank by
 * impact (user requests failed, tasks lost, messages waiting), then severity, then time. An
 * incident whose root is `info` (over, cost nothing) is a note, not an incident.
 */

import { compareSeverity, mostSevere, type Severity } from "@mat/observer";
import type { Finding, FindingKind, HealthStatus, Impact } from "./finding.ts";
import { requestSeverity } from "./thresholds.ts";

const LEVEL: Record<FindingKind, number> = {
  broker_unavailable: 0,
  agent_crash_loop: 1,
  agent_crashed: 1,
  agent_restarted: 1,
  agent_down: 2,
  consumer_stalled: 2,
  agent_saturated: 2,
  group_churn: 2,
  unroutable_task: 2,
  handoff_loop: 2,
  llm_rate_limited: 3,
  malformed_messages: 3,
  stuck_handoff: 3,
  slow_agent: 3,
  // The sender's doing: upstream of what its receiver's queue and replies show
  expired_before_sent: 1,
  error_spike: 3,
  queue_backlog: 4,
  requests_failed: 5,
  observer_degraded: 6,
};

/** A finding's place in the order of causes (secondary findings come with the consequences) */
function levelOf(f: Finding): number {
  return f.secondary ? LEVEL.queue_backlog : LEVEL[f.kind];
}

/** How long before a cause's start a symptom may be seen (clocks, sampling) and still be its */
const EARLY_MS = 10_000;
/** How long after a cause ended its symptoms may still show (deadlines, retries, sampling) */
const LATE_MS = 60_000;

/**
 * What an outage of the broker can cause: agents unable to read or answer, and what waited on
 * them. Not a loop, a rate limit, malformed records, an agent's own errors, a crash or a queue
 * nobody reads: those have causes of their own, and an outage beside them explains none.
 */
const BROKER_SYMPTOMS: ReadonlySet<FindingKind> = new Set<FindingKind>([
  "consumer_stalled",
  "agent_saturated",
  "agent_down",
  "queue_backlog",
  "stuck_handoff",
  "slow_agent",
  "requests_failed",
]);
/** A symptom of an outage with no conversation in common is seen within this long of it */
const BROKER_EARLY_MS = 2_000;
const BROKER_LATE_MS = 10_000;

export interface Incident {
  root: Finding;
  symptoms: Finding[];
  impact: Impact;
  severity: Severity;
  /** One line telling the chain: cause -> what followed -> what users saw */
  chain: string;
  /** Resolved when the root cause ended before the end of the window */
  resolved: boolean;
}

function time(t: string | null, fallback: number): number {
  const ms = t === null ? NaN : Date.parse(t);
  return Number.isNaN(ms) ? fallback : ms;
}

/** Merges findings of the same kind and agent into one */
export function mergeDuplicates(findings: Finding[]): Finding[] {
  const byKey = new Map<string, Finding>();
  for (const f of findings) {
    const key = `${f.kind}\u0000${f.agent ?? ""}\u0000${f.secondary ? "2" : "1"}`;
    const seen = byKey.get(key);
    if (seen === undefined) {
      byKey.set(key, { ...f });
      continue;
    }
    const worst = compareSeverity(f.severity, seen.severity) < 0 ? f : seen;
    const first = time(f.since, Infinity) < time(seen.since, Infinity) ? f : seen;
    const ongoing = seen.until === null || f.until === null;
    byKey.set(key, {
      ...worst,
      since: first.since,
      until: ongoing ? null : [seen.until ?? "", f.until ?? ""].sort().at(-1) ?? null,
      summary: worst === seen ? seen.summary : f.summary,
      evidence: {
        seqs: [...new Set([...seen.evidence.seqs, ...f.evidence.seqs])].sort((a, b) => b - a)
          .slice(0, 8),
        offsets: [...seen.evidence.offsets, ...f.evidence.offsets].slice(-8),
        seqs_total: seen.evidence.seqs_total + f.evidence.seqs_total,
      },
      impact: {
        requests_failed: seen.impact.requests_failed + f.impact.requests_failed,
        tasks_lost: seen.impact.tasks_lost + f.impact.tasks_lost,
        messages_waiting: Math.max(seen.impact.messages_waiting, f.impact.messages_waiting),
        requests_delayed: seen.impact.requests_delayed + f.impact.requests_delayed,
      },
      conversations: [...new Set([...seen.conversations, ...f.conversations])],
      tasks: [...new Set([...seen.tasks, ...f.tasks])],
    });
  }
  return [...byKey.values()];
}

/** Whether `cause` explains `symptom` */
export function explains(cause: Finding, symptom: Finding): boolean {
  if (cause.secondary || levelOf(cause) >= levelOf(symptom)) return false;
  const start = time(cause.since, -Infinity) - EARLY_MS;
  const end = cause.until === null ? Infinity : time(cause.until, Infinity) + LATE_MS;
  const at = time(symptom.since, start);
  const overlaps = at >= start && at <= end;
  if (cause.kind === "broker_unavailable") {
    if (!BROKER_SYMPTOMS.has(symptom.kind)) return false;
    const mine = new Set(cause.conversations);
    if (symptom.conversations.some((c) => mine.has(c))) return true;
    const since = time(cause.since, -Infinity) - BROKER_EARLY_MS;
    const until = cause.until === null ? Infinity : time(cause.until, Infinity) + BROKER_LATE_MS;
    return at >= since && at <= until;
  }
  if (cause.agent !== null && cause.agent === symptom.agent && overlaps) return true;
  if (symptom.conversations.length > 0 && cause.conversations.length > 0) {
    const mine = new Set(cause.conversations);
    if (symptom.conversations.some((c) => mine.has(c))) return at >= start;
  }
  return false;
}

function chainOf(root: Finding, symptoms: Finding[], impact: Impact): string {
  const parts = [root.short];
  const seen = new Set<string>([root.short]);
  for (const s of [...symptoms].sort((a, b) => levelOf(a) - levelOf(b))) {
    if (s.kind === "requests_failed" || seen.has(s.short)) continue;
    seen.add(s.short);
    parts.push(s.short);
  }
  if (impact.tasks_lost > 0 && !root.short.includes("holding")) {
    parts.splice(1, 0, `${impact.tasks_lost} task(s) lost`);
  }
  if (impact.requests_failed > 0) parts.push(`${impact.requests_failed} user request(s) failed`);
  return parts.slice(0, 6).join(" -> ");
}

export interface Grouped {
  /** Incidents of warning or worse, ranked */
  incidents: Incident[];
  /** Info-level findings nothing explains: worth a line, not an incident */
  notes: Finding[];
  /** Findings before grouping (after merging duplicates) */
  findings: number;
}

/** What the incident builder knows of the window beside its findings */
export interface GroupContext {
  /** User requests sent in the window */
  requests: number;
}

export function groupIncidents(all: Finding[], context: GroupContext = { requests: 0 }): Grouped {
  const findings = mergeDuplicates(all);
  const requests = findings.filter((f) => f.kind === "requests_failed");
  const ordered = findings.filter((f) => f.kind !== "requests_failed").sort((a, b) =>
    levelOf(a) - levelOf(b) || time(a.since, 0) - time(b.since, 0)
  );
  const rootOf = new Map<Finding, Finding>();
  const symptoms = new Map<Finding, Finding[]>();
  for (const f of ordered) {
    const cause = ordered.find((c) => rootOf.has(c) && explains(c, f));
    const root = cause === undefined ? f : rootOf.get(cause) ?? cause;
    rootOf.set(f, root);
    if (root === f) symptoms.set(f, []);
    else symptoms.get(root)?.push(f);
  }
  // Failed user requests: claimed by the incident holding their conversation
  const failed = requests.flatMap((r) => r.conversations);
  const claimed = new Map<Finding, string[]>();
  const unclaimed: string[] = [];
  for (const conversation of failed) {
    // The incident holding it; a cause of its own before an outage it was merely in flight during
    const holders = [...symptoms.keys()].filter((r) =>
      [r, ...(symptoms.get(r) ?? [])].some((f) => f.conversations.includes(conversation))
    );
    const root = holders.find((r) => r.kind !== "broker_unavailable") ?? holders[0];
    if (root === undefined) unclaimed.push(conversation);
    else claimed.set(root, [...(claimed.get(root) ?? []), conversation]);
  }
  const request = requests[0];
  if (request !== undefined && unclaimed.length > 0) {
    const alone: Finding = {
      ...request,
      conversations: unclaimed,
      impact: { ...request.impact, requests_failed: unclaimed.length },
      summary: unclaimed.length === failed.length
        ? request.summary
        : `${unclaimed.length} more user request(s) failed with no other cause recorded: ${request.summary}`,
    };
    symptoms.set(alone, []);
    claimed.set(alone, unclaimed);
  }
  const incidents: Incident[] = [];
  const notes: Finding[] = [];
  for (const [root, list] of symptoms) {
    const members = [root, ...list];
    const impact: Impact = {
      requests_failed: claimed.get(root)?.length ?? 0,
      tasks_lost: members.reduce((n, f) => n + f.impact.tasks_lost, 0),
      messages_waiting: Math.max(...members.map((f) => f.impact.messages_waiting)),
      requests_delayed: members.reduce((n, f) => n + f.impact.requests_delayed, 0),
    };
    // An ongoing incident is as severe as its worst symptom; one that is over, as its cause, or a
    // warning when what followed it was worse (what it caused is never dropped with it); one
    // that failed user requests as their share of all requests says.
    const worst = members.reduce<Severity>((s, f) => mostSevere(s, f.severity), root.severity);
    const own = root.until === null
      ? worst
      : mostSevere(root.severity, compareSeverity(worst, "warning") <= 0 ? "warning" : worst);
    const severity = impact.requests_failed > 0
      ? mostSevere(own, requestSeverity(impact.requests_failed, context.requests))
      : own;
    if (severity === "info") {
      notes.push(root);
      continue;
    }
    incidents.push({
      root,
      symptoms: list,
      impact,
      severity,
      chain: chainOf(root, list, impact),
      resolved: root.until !== null,
    });
  }
  incidents.sort((a, b) =>
    b.impact.requests_failed - a.impact.requests_failed ||
    b.impact.tasks_lost - a.impact.tasks_lost ||
    b.impact.messages_waiting - a.impact.messages_waiting ||
    b.impact.requests_delayed - a.impact.requests_delayed ||
    compareSeverity(a.severity, b.severity) ||
    time(a.root.since, 0) - time(b.root.since, 0)
  );
  return { incidents, notes, findings: findings.length };
}

export function statusOf(incidents: Incident[]): HealthStatus {
  if (incidents.some((i) => compareSeverity(i.severity, "error") <= 0)) return "failing";
  if (incidents.length > 0) return "degraded";
  return "healthy";
}
