/**
 * Errors as structured records. The agents do not report their own errors: each error is derived
 * from what the observer saw (an ERROR reply, a malformed record, a stuck handoff...). Occurrences
 * with the same fingerprint (category, kind, agent, and the message with numbers and ids blanked)
 * fold into one error whose `count`, `last_seen` and evidence grow.
 * Each fold's `kind` is one of the union `FoldKind` (`fold_kind.ts`), which the oracle switches
 * over exhaustively.
 *
 * | seen                       | severity            | category                            |
 * |----------------------------|---------------------|-------------------------------------|
 * | ERROR llm_rate_limit       | warning             | llm                                 |
 * | ERROR llm_error            | error               | llm                                 |
 * | ERROR tool_error           | error               | tool                                |
 * | ERROR handler_error/internal | error / critical  | agent                               |
 * | ERROR deadline_exceeded/timeout | error          | timeout                             |
 * | ERROR invalid_message      | error               | validation                          |
 * | ERROR unknown_agent        | error               | config                              |
 * | ERROR cancelled            | info                | agent                               |
 * | message_malformed          | error               | validation                          |
 * | handoff_stuck(s)           | error               | timeout                             |
 * | reply_orphaned             | warning             | handoff                             |
 * | message_duplicated         | info                | handoff                             |
 * | task_unconsumed            | critical            | config                              |
 * | handoff_loop               | critical            | handoff                             |
 * | queue STALL / STOP / ERR   | error / critical / error | agent / resource / network     |
 * | runtime restarted (OOMKilled) | critical / error  | resource / agent                    |
 * | runtime exited (crash)     | error               | agent                               |
 * | runtime crash_loop         | critical            | agent                               |
 * | runtime unschedulable / evicted | error          | resource                            |
 * | runtime image_pull_backoff | error               | config                              |
 * | runtime warning_event      | warning             | agent                               |
 * | runtime source_error       | warning             | network                             |
 */

import type { ErrorKind } from "@mat/agents/protocol";
import {
  agentErrorKindOf,
  type FoldKind,
  isQueueErrorStatus,
  k8sWarningKind,
  type QueueErrorStatus,
  queueKind,
  stuckKind,
} from "./fold_kind.ts";
import type {
  Body,
  Category,
  DiffRecord,
  ErrorFold,
  ErrorRecord,
  HandoffsStuckRecord,
  Position,
  Severity,
} from "./record_format.ts";
import { fnv1a } from "@mat/agents/support";

/** Evidence kept per error: the most recent offsets and event sequence numbers */
export const MAX_EVIDENCE = 10;

export interface Occurrence {
  severity: Severity;
  category: Category;
  kind: FoldKind;
  message: string;
  agent: string | null;
  task_id: string | null;
  conversation_id: string | null;
  offset?: Position;
  seq: number;
}

const ERROR_KIND_CLASS: Record<ErrorKind, [Severity, Category]> = {
  llm_rate_limit: ["warning", "llm"],
  llm_error: ["error", "llm"],
  tool_error: ["error", "tool"],
  handler_error: ["error", "agent"],
  internal: ["critical", "agent"],
  deadline_exceeded: ["error", "timeout"],
  timeout: ["error", "timeout"],
  invalid_message: ["error", "validation"],
  unknown_agent: ["error", "config"],
  cancelled: ["info", "agent"],
};

const QUEUE_STATUS_CLASS: Record<QueueErrorStatus, [Severity, Category]> = {
  STALL: ["error", "agent"],
  STOP: ["critical", "resource"],
  ERR: ["error", "network"],
};

/** The error occurrence a diff record stands for, if it stands for one */
export function occurrenceOf(record: DiffRecord): Occurrence | undefined {
  switch (record.type) {
    case "message": {
      if (record.unconsumed === true) {
        return {
          severity: "critical",
          category: "config",
          kind: "task_unconsumed",
          message: `Task sent to queue "${record.topic}" that no consumer group member reads`,
          agent: record.agent,
          task_id: record.task_id,
          conversation_id: record.conversation_id,
          offset: { topic: record.topic, partition: record.partition, offset: record.offset },
          seq: record.seq,
        };
      }
      if (record.msg_type !== "ERROR" || record.error === undefined) return undefined;
      // Always one of the agents' kinds: the envelope validator refuses any other, so a message
      // record this observer wrote never holds one
      const kind = agentErrorKindOf(record.error.kind);
      if (kind === undefined) return undefined;
      const [severity, category] = ERROR_KIND_CLASS[kind];
      return {
        severity,
        category,
        kind,
        message: record.error.message,
        agent: record.source,
        task_id: record.task_id,
        conversation_id: record.conversation_id,
        offset: { topic: record.topic, partition: record.partition, offset: record.offset },
        seq: record.seq,
      };
    }
    case "message_malformed":
      return {
        severity: "error",
        category: "validation",
        kind: "malformed_record",
        message: record.sender !== undefined
          ? `from ${record.sender} on ${record.agent ?? record.topic}'s queue: ${record.reason}`
          : `on ${record.agent ?? record.topic}'s queue: ${record.reason}`,
        agent: record.sender ?? record.agent,
        task_id: null,
        conversation_id: null,
        offset: { topic: record.topic, partition: record.partition, offset: record.offset },
        seq: record.seq,
      };
    case "handoff_stuck":
      return stuckOccurrence(record, record.seq);
    case "reply_orphaned":
      return {
        severity: "warning",
        category: "handoff",
        kind: "reply_orphaned",
        message: `${record.msg_type} answers task message "${record.in_reply_to}" never seen`,
        agent: record.source,
        task_id: record.task_id,
        conversation_id: record.conversation_id,
        seq: record.seq,
      };
    case "message_duplicated":
      return {
        severity: "info",
        category: "handoff",
        kind: "delivered_twice",
        message: `Message "${record.message_id}" delivered twice`,
        agent: null,
        task_id: null,
        conversation_id: null,
        offset: { topic: record.topic, partition: record.partition, offset: record.offset },
        seq: record.seq,
      };
    case "task_unconsumed":
      return {
        severity: "critical",
        category: "config",
        kind: "task_unconsumed",
        message: `Task sent to queue "${record.topic}" that no consumer group member reads`,
        agent: record.agent,
        task_id: null,
        conversation_id: null,
        seq: record.seq,
      };
    case "handoff_loop":
      return {
        severity: "critical",
        category: "handoff",
        kind: "handoff_loop",
        message: `Tasks bounce between ${record.agents.join(" and ")} (${record.tasks} tasks)`,
        agent: record.agents[0] ?? null,
        task_id: null,
        conversation_id: record.conversation_id,
        seq: record.seq,
      };
    case "queue_status_changed": {
      if (!isQueueErrorStatus(record.to)) return undefined;
      const [severity, category] = QUEUE_STATUS_CLASS[record.to];
      return {
        severity,
        category,
        kind: queueKind(record.to),
        message: record.group === ""
          ? `No consumer group reads ${record.agent}'s queue (${record.to}): ${record.reason}`
          : `Consumer group "${record.group}" is ${record.to}: ${record.reason}`,
        agent: record.agent,
        task_id: null,
        conversation_id: null,
        seq: record.seq,
      };
    }
    case "runtime_event":
      return runtimeOccurrence(record);
    default:
      return undefined;
  }
}

/** The occurrence of one stuck handoff (a `handoff_stuck` line, or one of a `handoffs_stuck`) */
export function stuckOccurrence(
  h: HandoffsStuckRecord["handoffs"][number],
  seq: number,
): Occurrence {
  return {
    severity: "error",
    category: "timeout",
    kind: stuckKind(h.reason),
    message: `Handoff from ${h.from} to ${h.to} unanswered after ${Math.round(h.age_ms)} ms`,
    agent: h.to,
    task_id: h.task_id,
    conversation_id: h.conversation_id,
    seq,
  };
}

function runtimeOccurrence(
  r: Extract<DiffRecord, { type: "runtime_event" }>,
): Occurrence | undefined {
  const who = `${r.source === "k8s" ? "Pod" : "Process"} "${r.process}" of ${r.agent ?? "unknown"}`;
  const how = [
    r.reason,
    r.exit_code !== undefined ? `exit code ${r.exit_code}` : undefined,
    r.signal,
  ].filter((x) => x !== undefined).join(", ");
  const lost = r.tasks_in_flight.length > 0
    ? `; ${r.tasks_in_flight.length} task(s) in flight`
    : "";
  const base = {
    agent: r.agent,
    task_id: r.tasks_in_flight[0]?.task_id ?? null,
    conversation_id: r.tasks_in_flight[0]?.conversation_id ?? null,
    seq: r.seq,
  };
  switch (r.kind) {
    case "restarted":
      return {
        ...base,
        severity: r.reason === "OOMKilled" ? "critical" : "error",
        category: r.reason === "OOMKilled" ? "resource" : "agent",
        kind: r.reason === "OOMKilled" ? "oom_killed" : "restarted",
        message: `${who} restarted (${how || "no reason given"})${lost}`,
      };
    case "exited":
      if (r.reason === "stopped" || (r.exit_code === 0 && r.signal === undefined)) return undefined;
      return {
        ...base,
        severity: "error",
        category: "agent",
        kind: "process_died",
        message: `${who} died (${how || "no reason given"})${lost}`,
      };
    case "crash_loop":
      return {
        ...base,
        severity: "critical",
        category: "agent",
        kind: "crash_loop",
        message: `${who} is crash-looping${r.message ? `: ${r.message}` : ""}`,
      };
    case "unschedulable":
    case "evicted":
      return {
        ...base,
        severity: "error",
        category: "resource",
        kind: r.kind,
        message: `${who} is ${r.kind}${r.message ? `: ${r.message}` : ""}`,
      };
    case "image_pull_backoff":
      return {
        ...base,
        severity: "error",
        category: "config",
        kind: r.kind,
        message: `${who} cannot pull its image${r.message ? `: ${r.message}` : ""}`,
      };
    case "warning_event":
      return {
        ...base,
        severity: "warning",
        category: "agent",
        kind: k8sWarningKind(r.reason ?? "warning"),
        message: `${who}: ${r.message ?? r.reason ?? "warning"}`,
      };
    case "source_error":
      return {
        ...base,
        severity: "warning",
        category: "network",
        kind: "runtime_source_error",
        message: `The ${r.source} runtime source cannot see the agents: ${r.message ?? "unknown"}`,
      };
    default:
      return undefined;
  }
}

/** Blanks what varies between repeats of one error: numbers, ids, quoted values */
function normalise(message: string): string {
  return message
    .replace(/"[^"]*"/g, '"_"')
    .replace(/[0-9a-f]{8}-[0-9a-f-]{27,}/gi, "<id>")
    .replace(/\d+(\.\d+)?/g, "#")
    .slice(0, 200);
}

/**
 * Fingerprints of recent raw texts: a flood repeats one message (a task to an unread queue, say)
 * and its normalising regexes are then most of the fold's cost. Cleared when full (bounded).
 */
const recentFingerprints = new Map<string, string>();
const RECENT_FINGERPRINTS = 1_000;

export function fingerprintOf(o: Occurrence): string {
  const raw = `${o.category}|${o.kind}|${o.agent ?? "-"}|${o.message}`;
  const known = recentFingerprints.get(raw);
  if (known !== undefined) return known;
  const fingerprint = computeFingerprint(o);
  if (recentFingerprints.size >= RECENT_FINGERPRINTS) recentFingerprints.clear();
  recentFingerprints.set(raw, fingerprint);
  return fingerprint;
}

function computeFingerprint(o: Occurrence): string {
  const text = `${o.category}|${o.kind}|${o.agent ?? "-"}|${normalise(o.message)}`;
  return `${o.category}:${o.kind}:${fnv1a(text).toString(16).padStart(8, "0")}`;
}

/** The `error` record for an occurrence, folded onto what is known of its fingerprint */
export function foldError(
  previous: ErrorFold | undefined,
  o: Occurrence,
  at: string,
): Body<ErrorRecord> {
  const offsets = [...(previous?.evidence.offsets ?? []), ...(o.offset ? [o.offset] : [])];
  const seqs = [...(previous?.evidence.seqs ?? []), o.seq];
  return {
    type: "error",
    fingerprint: previous?.fingerprint ?? fingerprintOf(o),
    severity: o.severity,
    category: o.category,
    kind: o.kind,
    message: o.message,
    agent: o.agent,
    task_id: o.task_id,
    conversation_id: o.conversation_id,
    first_seen: previous?.first_seen ?? at,
    last_seen: at,
    count: (previous?.count ?? 0) + 1,
    evidence: { offsets: offsets.slice(-MAX_EVIDENCE), seqs: seqs.slice(-MAX_EVIDENCE) },
  };
}
