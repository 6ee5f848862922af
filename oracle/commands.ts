/**
 * The oracle's commands: each reads the time machine and returns one JSON-ready document, the
 * same data the text renderer prints. Lists are cut at `--limit` and say how many were left out.
 */

import { USER_INBOX } from "@mat/agents/protocol";
import {
  compareSeverity,
  type DiffRecord,
  type ErrorFold,
  type ObserverStateData,
  type QueueSampleRecord,
} from "@mat/observer";
import type { Invocation } from "./cli_args.ts";
import { runDiagnose as diagnoseWindow } from "./diagnose.ts";
import type { TimeMachine } from "./time_machine.ts";
import { lagTime } from "./lag_time.ts";
import { ReadReport, type ReportJson } from "./read_report.ts";
import { rebuiltFrom } from "./state_replay.ts";
import { windowOf as historyWindow } from "./window_facts.ts";

const QUEUE_SAMPLES: ReadonlySet<DiffRecord["type"]> = new Set(["queue_sample"] as const);
const ERRORS: ReadonlySet<DiffRecord["type"]> = new Set(["error"] as const);

export const OUTPUT_SCHEMA_ID = "oracle-output/v2";

export interface Document {
  schema: string;
  command: string;
  generated_at: string;
  data_dir: string;
  /** Time of the newest record taken into account */
  as_of: string | null;
  /** Lines skipped as unreadable while answering, in either history */
  skipped_lines: number;
  /** The same by kind, and where the first of them are */
  skipped: ReportJson["skipped"];
  /** Records whose time or seq goes back, and where the first of them are */
  out_of_order: ReportJson["out_of_order"];
  [key: string]: unknown;
}

function iso(ms: number): string | null {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

function head(inv: Invocation, asOf: number): Document {
  return {
    schema: OUTPUT_SCHEMA_ID,
    command: inv.command,
    generated_at: new Date().toISOString(),
    data_dir: inv.dataDir,
    as_of: iso(asOf),
    // Filled in once the command has read all it reads (main.ts)
    skipped_lines: 0,
    ...new ReadReport().toJson(),
  };
}

function cut<T>(items: T[], limit: number): { shown: T[]; omitted: number } {
  return { shown: items.slice(0, limit), omitted: Math.max(0, items.length - limit) };
}

const ORACLE = "deno task oracle";

export function runDiagnose(tm: TimeMachine, inv: Invocation): Promise<Document> {
  return diagnoseWindow(tm, inv, (asOf) => head(inv, asOf), { now: Date.now(), oracle: ORACLE });
}

function inWindow(t: string, after?: number, before?: number): boolean {
  const ms = Date.parse(t);
  return (after === undefined || ms >= after) && (before === undefined || ms <= before);
}

export async function runErrors(tm: TimeMachine, inv: Invocation): Promise<Document> {
  let errors: ErrorFold[];
  let asOf: number;
  if (inv.after !== undefined || inv.before !== undefined) {
    // Occurrences in the window: the newest fold of each fingerprint among `error` records.
    [errors, asOf] = await tm.readWindow(
      inv.after,
      inv.before,
      { types: ERRORS },
      async (lines) => {
        const folds = new Map<string, ErrorFold>();
        let newest = NaN;
        for await (const line of lines) {
          const record = tm.typed(line);
          if (record?.type !== "error") continue;
          newest = Date.parse(record.ts);
          const { schema_version: _v, seq: _s, ts: _t, type: _type, ...fold } = record;
          folds.set(fold.fingerprint, fold);
        }
        return [[...folds.values()], newest];
      },
    );
  } else {
    const at = await tm.stateAt();
    errors = at.state.errors;
    asOf = at.asOf;
  }
  const filtered = errors
    // The user inbox has no consumer group of an agent: older observers folded its status as errors
    .filter((e) => !(e.agent === USER_INBOX && e.kind.startsWith("queue_")))
    .filter((e) => inv.severity === undefined || e.severity === inv.severity)
    .filter((e) => inv.agent === undefined || e.agent === inv.agent)
    .filter((e) => inWindow(e.last_seen, inv.after, inv.before))
    .sort((a, b) =>
      compareSeverity(a.severity, b.severity) ||
      b.last_seen.localeCompare(a.last_seen)
    );
  const { shown, omitted } = cut(filtered, inv.limit);
  return {
    ...head(inv, asOf),
    filters: {
      severity: inv.severity ?? null,
      agent: inv.agent ?? null,
      after: iso(inv.after ?? NaN),
      before: iso(inv.before ?? NaN),
    },
    errors: shown,
    total: filtered.length,
    occurrences: filtered.reduce((n, e) => n + e.count, 0),
    omitted,
  };
}

/** A compact view of the state for `replay` and `state` */
function stateView(state: ObserverStateData, limit: number): Record<string, unknown> {
  const handoffs = cut(state.handoffs_open, limit);
  const errors = cut(state.errors, limit);
  return {
    messages_seen: state.messages_seen,
    malformed_seen: state.malformed_seen,
    agents: state.agents.map(({ recent_latencies_ms: _r, ...a }) => a),
    queues: state.queues.map(({ window: _w, ...q }) => q),
    handoffs_open: handoffs.shown,
    handoffs_open_total: state.handoffs_open.length,
    errors: errors.shown,
    errors_total: state.errors.length,
    error_counts: state.error_counts,
    usage: state.usage,
    positions: state.positions,
  };
}

export async function runState(tm: TimeMachine, inv: Invocation): Promise<Document> {
  const at = await tm.stateAt(inv.at);
  return {
    ...head(inv, at.asOf),
    at: iso(inv.at ?? at.asOf),
    rebuilt_from: rebuiltFrom(at),
    state: stateView(at.state, inv.limit),
  };
}

/** `replay -m N` counts back from the end of the history, not from the wall clock */
async function windowOf(
  tm: TimeMachine,
  inv: Invocation,
): Promise<[number | undefined, number | undefined]> {
  if (inv.minutes !== undefined) {
    const end = await tm.lastTime();
    const last = Number.isFinite(end) ? end : Date.now();
    return [last - inv.minutes * 60_000, last];
  }
  return [inv.after, inv.before];
}

/**
 * The first `limit` records of a window (of one type), and how many it holds: past the limit,
 * lines are counted from their headers, not parsed
 */
function collect(
  tm: TimeMachine,
  after: number | undefined,
  before: number | undefined,
  limit: number,
  type?: string,
): Promise<{ shown: DiffRecord[]; total: number }> {
  const options = type === undefined ? {} : { types: new Set([type]) };
  return tm.readWindow(after, before, options, async (lines, tally) => {
    const shown: DiffRecord[] = [];
    for await (const line of lines) {
      const record = tm.typed(line);
      if (record !== undefined) shown.push(record);
      if (shown.length >= limit) tally.counting = true;
    }
    return { shown, total: shown.length + tally.count };
  });
}

export async function runReplay(tm: TimeMachine, inv: Invocation): Promise<Document> {
  const [after, before] = await windowOf(tm, inv);
  const startState = after === undefined ? undefined : (await tm.stateAt(after)).state;
  const { shown, total } = await collect(tm, after, before, inv.limit);
  return {
    ...head(inv, shown.length ? Date.parse(shown[shown.length - 1]?.ts ?? "") : NaN),
    window: { after: iso(after ?? NaN), before: iso(before ?? NaN) },
    state_at_start: startState ? stateView(startState, 10) : null,
    events: shown,
    total,
    omitted: total - shown.length,
  };
}

export async function runDiffs(tm: TimeMachine, inv: Invocation): Promise<Document> {
  const type = inv.eventType;
  const { shown, total } = await collect(tm, inv.after, inv.before, inv.limit, type);
  return {
    ...head(inv, shown.length ? Date.parse(shown[shown.length - 1]?.ts ?? "") : NaN),
    filters: {
      event_type: type ?? null,
      after: iso(inv.after ?? NaN),
      before: iso(inv.before ?? NaN),
    },
    events: shown,
    total,
    omitted: total - shown.length,
  };
}

export async function runQueues(tm: TimeMachine, inv: Invocation): Promise<Document> {
  const [from, to] = await historyWindow(tm, {});
  const at = await tm.stateAt();
  // The window's samples, for lag in time (backlog age, trend)
  const series = await tm.readWindow(from, to, { types: QUEUE_SAMPLES }, async (lines) => {
    const series = new Map<string, QueueSampleRecord[]>();
    for await (const line of lines) {
      const record = tm.typed(line);
      if (record?.type !== "queue_sample") continue;
      series.set(record.agent, [...(series.get(record.agent) ?? []), record]);
    }
    return series;
  });
  const queues = at.state.queues.filter((q) => q.agent !== USER_INBOX).map((q) => {
    const time = lagTime(series.get(q.agent) ?? []);
    return {
      agent: q.agent,
      topic: q.topic,
      group: q.group,
      status: q.status,
      status_reason: q.status_reason,
      depth: q.partitions.reduce((n, p) => n + Number(p.high), 0),
      lag: q.lag,
      oldest_unconsumed_age_ms: time?.oldest_unconsumed_age_ms ?? null,
      older_than_window: time?.older_than_window ?? false,
      lag_trend: time?.trend ?? "empty",
      lag_window: time ? { first: time.lag_first, max: time.lag_max, last: time.lag_last } : null,
      group_state: q.group_state,
      consumers: q.members,
      partitions: q.partitions.map((p) => ({
        ...p,
        oldest_unconsumed_age_ms: time?.partitions.find((x) =>
          x.partition === p.partition
        )?.oldest_unconsumed_age_ms ??
          null,
      })),
      sampled_at: q.sampled_at,
    };
  });
  const { shown, omitted } = cut(queues, inv.limit);
  return {
    ...head(inv, at.asOf),
    window: { after: iso(from), before: iso(to) },
    queues: shown,
    total: queues.length,
    omitted,
  };
}

export async function runAgents(tm: TimeMachine, inv: Invocation): Promise<Document> {
  const at = await tm.stateAt();
  const agents = at.state.agents.filter((a) => a.agent !== USER_INBOX).map((
    { recent_latencies_ms, ...a },
  ) => {
    const sorted = [...recent_latencies_ms].sort((x, y) => x - y);
    const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return {
      ...a,
      latency_ms_p50: sorted.length ? p(0.5) ?? null : null,
      latency_ms_p95: sorted.length ? p(0.95) ?? null : null,
      processes: (at.state.processes ?? []).filter((proc) => proc.agent === a.agent).map((
        proc,
      ) => ({
        process: proc.process,
        source: proc.source,
        status: proc.status,
        ready: proc.ready,
        restart_count: proc.restart_count,
        started_at: proc.started_at,
        last_termination: proc.last_termination,
        tasks_lost: proc.lost_tasks.length,
        memory_bytes: proc.memory_bytes,
      })),
    };
  });
  const { shown, omitted } = cut(agents, inv.limit);
  return { ...head(inv, at.asOf), agents: shown, total: agents.length, omitted };
}

export async function runLlm(tm: TimeMachine, inv: Invocation): Promise<Document> {
  const at = await tm.stateAt();
  // Failed LLM calls per agent and kind, from the folded errors (an ERROR names no model)
  const failures = new Map<string, Map<string, number>>();
  for (const e of at.state.errors) {
    if (e.agent === null || !e.kind.startsWith("llm_")) continue;
    const kinds = failures.get(e.agent) ?? new Map<string, number>();
    kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + e.count);
    failures.set(e.agent, kinds);
  }
  const errorsByAgent = new Map(at.state.agents.map((a) => [a.agent, a.llm_errors]));
  const rows = at.state.usage.map((u) => ({ ...u }));
  for (const agent of failures.keys()) {
    if (rows.some((u) => u.agent === agent)) continue;
    rows.push({
      agent,
      model: "unknown",
      calls: 0,
      input_tokens: 0,
      output_tokens: 0,
      cost_usd: 0,
      latency_ms_total: 0,
    });
  }
  const usage = rows
    .filter((u) => inv.agent === undefined || u.agent === inv.agent)
    .map((u) => {
      // An agent's failures go on its first row (its only model, in the sample agents)
      const first = rows.find((r) => r.agent === u.agent) === u;
      const errors = first ? errorsByAgent.get(u.agent) ?? 0 : 0;
      const kinds = first ? failures.get(u.agent) ?? new Map<string, number>() : new Map();
      const failed = Math.max(errors, [...kinds.values()].reduce((n, c) => n + c, 0));
      return {
        agent: u.agent,
        model: u.model,
        calls: u.calls,
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cost_usd: Number(u.cost_usd.toFixed(6)),
        latency_ms_avg: u.calls ? Math.round(u.latency_ms_total / u.calls) : 0,
        llm_errors: failed,
        error_kinds: Object.fromEntries(kinds),
        error_rate: u.calls + failed ? Number((failed / (u.calls + failed)).toFixed(4)) : 0,
      };
    });
  const { shown, omitted } = cut(usage, inv.limit);
  return { ...head(inv, at.asOf), usage: shown, total: usage.length, omitted };
}

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
          hops.set(r.message_id, {
            task_id: r.task_id,
            from: r.source,
            to: r.target,
            attempt: r.attempt,
            started_at: r.ts,
            started_seq: r.seq,
            outcome: "open",
            latency_ms: null,
            error: null,
          });
        }
        break;
      case "handoff_started":
      case "handoff_retried":
        hops.set(r.task_message_id, {
          task_id: r.task_id,
          from: r.from,
          to: r.to,
          attempt: r.attempt,
          started_at: r.ts,
          started_seq: r.seq,
          outcome: "open",
          latency_ms: null,
          error: null,
        });
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

export type Runner = (tm: TimeMachine, inv: Invocation) => Promise<Document>;

export const RUNNERS: Record<Invocation["command"], Runner> = {
  diagnose: runDiagnose,
  errors: runErrors,
  replay: runReplay,
  queues: runQueues,
  diffs: runDiffs,
  state: runState,
  trace: runTrace,
  agents: runAgents,
  llm: runLlm,
};
