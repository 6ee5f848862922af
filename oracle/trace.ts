/**
 * `trace <id>`: the hops of one conversation or task (an id, or a task id and its sub-tasks), in
 * the order they started, each with its outcome, and a verdict naming where it stopped. Reads the
 * whole diff history, parsing only the lines that quote the id.
 */

import type { Invocation } from "./cli_args.ts";
import { cut, type Document, head } from "./output_document.ts";
import type { TimeMachine } from "./time_machine.ts";

interface Hop {
  task_id: string;
  from: string;
  to: string;
  attempt: number;
  started_at: string;
  started_seq: number;
  outcome: "completed" | "failed" | "stuck" | "open";
  latency_ms: number | null;
  error: string | null;
}

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

export async function runTrace(tm: TimeMachine, inv: Invocation): Promise<Document> {
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
  const problem = all.find((h) => h.outcome === "failed" || h.outcome === "stuck") ??
    all.find((h) => h.outcome === "open");
  const finalHop = all.at(-1);
  const verdict = events === 0
    ? `No record mentions "${id}"`
    : problem
    ? `Stopped at ${problem.from} -> ${problem.to} (task "${problem.task_id}", attempt ${problem.attempt}): ${problem.outcome}${
      problem.error ? ` (${problem.error})` : ""
    }`
    : finalHop
    ? `Completed: last hop ${finalHop.from} -> ${finalHop.to} answered`
    : "Seen, but no handoff recorded";
  const { shown, omitted } = cut(all, inv.limit);
  return {
    ...head(inv, last),
    id,
    conversation_id: conversation,
    verdict,
    hops: shown,
    total: all.length,
    omitted,
    events,
  };
}
