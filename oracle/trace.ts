/**
 * `trace <id>`: the hops of one conversation or task (an id, or a task id and its sub-tasks), in
 * the order they started, each with its outcome, and a verdict naming the request and, when it
 * did not complete, the hop whose failure reached its requester (trace_blame.ts). Reads the whole
 * diff history, parsing only the lines that quote the id.
 */

import type { Invocation } from "./cli_args.ts";
import type { Answer } from "./output_bound.ts";
import { cut, head } from "./output_document.ts";
import type { TimeMachine } from "./time_machine.ts";
import { blame, type TraceHop as Hop } from "./trace_blame.ts";

/** A hop just opened by its TASK (or its handoff record) at `at` */
function openHop(
  h: Pick<Hop, "task_id" | "from" | "to" | "attempt">,
  at: { ts: string; seq: number },
): Hop {
  return {
    task_id: h.task_id,
    from: h.from,
    to: h.to,
    attempt: h.attempt,
    started_at: at.ts,
    started_seq: at.seq,
    outcome: "open",
    latency_ms: null,
    error: null,
  };
}

export async function runTrace(tm: TimeMachine, inv: Invocation): Promise<Answer> {
  const id = inv.id ?? "";
  const hops = new Map<string, Hop>();
  let conversation: string | null = null;
  let events = 0;
  let last = NaN;
  const quoted = JSON.stringify(id);
  for await (
    const { record } of tm.records({ from: tm.diff.start }, {
      prefilter: (t) => t.includes(quoted),
    })
  ) {
    const r = record;
    const names = (x: { conversation_id?: unknown; task_id?: unknown }) =>
      x.conversation_id === id ||
      (typeof x.task_id === "string" && (x.task_id === id || x.task_id.startsWith(`${id}.`)));
    if (r.type === "handoffs_stuck") {
      for (const h of r.handoffs) {
        const hop = names(h) ? hops.get(h.task_message_id) : undefined;
        if (hop && hop.outcome === "open") hop.outcome = "stuck";
      }
      continue;
    }
    const matches = ("conversation_id" in r && r.conversation_id === id) ||
      ("task_id" in r && typeof r.task_id === "string" &&
        (r.task_id === id || r.task_id.startsWith(`${id}.`)));
    if (!matches) continue;
    events++;
    last = Date.parse(r.ts);
    if ("conversation_id" in r && typeof r.conversation_id === "string") {
      conversation = r.conversation_id;
    }
    switch (r.type) {
      case "message":
        // A TASK's message that opened its handoff (the `handoff_started` of older histories)
        if (r.handoff === "started") {
          const { task_id, attempt, source: from, target: to } = r;
          hops.set(r.message_id, openHop({ task_id, from, to, attempt }, r));
        }
        break;
      case "handoff_started":
      case "handoff_retried":
        hops.set(r.task_message_id, openHop(r, r));
        break;
      case "handoff_completed":
      case "handoff_failed": {
        const hop = hops.get(r.task_message_id);
        if (hop) {
          hop.outcome = r.type === "handoff_completed" ? "completed" : "failed";
          hop.latency_ms = r.latency_ms;
          if (r.type === "handoff_failed") hop.error = `${r.error_kind}: ${r.error_message}`;
        }
        break;
      }
      case "handoff_stuck": {
        const hop = hops.get(r.task_message_id);
        if (hop && hop.outcome === "open") hop.outcome = "stuck";
        break;
      }

      default:
        break;
    }
  }
  const all = [...hops.values()];
  const { request, blamed, chain } = blame(all);
  const verdict = events === 0
    ? `No record mentions "${id}"`
    : request === undefined
    ? "Seen, but no handoff recorded"
    : verdictOf(request, blamed);
  return (limit) => {
    const { shown, omitted } = cut(all, limit);
    return {
      ...head(inv, last),
      id,
      conversation_id: conversation,
      verdict,
      request: request ? hopRef(request) : null,
      blamed: blamed ? hopRef(blamed) : null,
      blame_chain: chain,
      hops: shown,
      total: all.length,
      omitted,
      events,
    };
  };
}

/** A hop as the verdict names it */
function hopRef(h: Hop) {
  const { task_id, from, to, attempt, outcome, error } = h;
  return { task_id, from, to, attempt, outcome, error };
}

function said(h: Hop): string {
  const how = h.outcome === "open" ? "never answered" : h.outcome;
  return `${how}${h.error ? ` (${h.error})` : ""}`;
}

function verdictOf(request: Hop, blamed: Hop | undefined): string {
  const asked =
    `request "${request.task_id}" (${request.from} -> ${request.to}, attempt ${request.attempt})`;
  if (blamed === undefined) return `Completed: ${asked} answered`;
  if (blamed === request) {
    return `Stopped at ${request.from} -> ${request.to} (task "${request.task_id}", attempt ${request.attempt}): ${
      said(request)
    }, no hop under it failed`;
  }
  return `Stopped at ${blamed.from} -> ${blamed.to} (task "${blamed.task_id}", attempt ${blamed.attempt}): ${
    said(blamed)
  }; that failure reached the requester: ${asked} ${said(request)}`;
}
