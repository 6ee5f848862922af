/**
 * The oracle's commands, by name: each reads the time machine and returns one JSON-ready document,
 * the same data the text renderer prints. Lists are cut at `--limit` and say how many were left
 * out. `diagnose` and `trace` have files of their own (diagnose.ts, trace.ts).
 */

import { USER_INBOX } from "@mat/agents/protocol";
import {
  compareSeverity,
  type DiffRecord,
  type ErrorFold,
  type ObserverStateData,
  queueKey,
  type QueueSampleRecord,
} from "@mat/observer";
import type { Invocation } from "./cli_args.ts";
import { runDiagnose as diagnoseWindow } from "./diagnose.ts";
import type { TimeMachine } from "./time_machine.ts";
import { lagTime } from "./lag_time.ts";
import { rebuiltFrom } from "./state_replay.ts";
import { cut, type Document, head, iso } from "./output_document.ts";
import { runTrace } from "./trace.ts";
import { windowOf as historyWindow } from "./window_facts.ts";
import { replayWindow, windowRecords } from "./window_records.ts";

const QUEUE_SAMPLES: ReadonlySet<DiffRecord["type"]> = new Set(["queue_sample"] as const);
const ERRORS: ReadonlySet<DiffRecord["type"]> = new Set(["error"] as const);

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
    // The user inbox has no consumer group of an agent: older observers (always `user`) folded
    // its status as errors
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

export async function runReplay(tm: TimeMachine, inv: Invocation): Promise<Document> {
  const [after, before] = replayWindow(tm, inv);
  const startState = after === undefined ? undefined : (await tm.stateAt(after)).state;
  const { shown, total } = await windowRecords(tm, after, before, inv.limit);
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
  const { shown, total } = await windowRecords(tm, inv.after, inv.before, inv.limit, type);
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
  const [from, to] = historyWindow(tm, {});
  const at = await tm.stateAt();
  // The window's samples, for lag in time (backlog age, trend)
  const series = await tm.readWindow(from, to, { types: QUEUE_SAMPLES }, async (lines) => {
    const series = new Map<string, QueueSampleRecord[]>();
    for await (const line of lines) {
      const record = tm.typed(line);
      if (record?.type !== "queue_sample") continue;
      const key = queueKey(record);
      series.set(key, [...(series.get(key) ?? []), record]);
    }
    return series;
  });
  // One row per queue and group reading it (group "" for a queue no group reads)
  const inbox = at.foldOptions.options.userInbox;
  const queues = at.state.queues.filter((q) => q.agent !== inbox).map((q) => {
    const time = lagTime(series.get(queueKey(q)) ?? []);
    return {
      agent: q.agent,
      topic: q.topic,
      group: q.group,
      group_source: q.group_source ?? null,
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
  const inbox = at.foldOptions.options.userInbox;
  const agents = at.state.agents.filter((a) => a.agent !== inbox).map((
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
        // A row made for an agent's LLM failures alone: what it used is unknown, not zero
        ...(u.model === "unknown" && u.calls === 0 ? { usage_reported: false } : {}),
      };
    });
  const { shown, omitted } = cut(usage, inv.limit);
  // Agents that answered without ever saying what they used: unknown, which is not zero
  const inbox = at.foldOptions.options.userInbox;
  const withUsage = new Set(rows.map((u) => u.agent));
  const withoutUsage = at.state.agents
    .filter((a) =>
      a.agent !== inbox && !withUsage.has(a.agent) && a.tasks_completed + a.tasks_failed > 0 &&
      (inv.agent === undefined || a.agent === inv.agent)
    )
    .map((a) => ({ agent: a.agent, replies: a.tasks_completed + a.tasks_failed }));
  return {
    ...head(inv, at.asOf),
    usage: shown,
    total: usage.length,
    omitted,
    without_usage: withoutUsage,
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
