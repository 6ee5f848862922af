/**
 * The oracle's commands, by name: each reads the time machine once and returns its answer, the
 * JSON-ready document at any limit, the same data the text renderer prints. A command cuts its
 * main list at the limit and says how many it left out (`omitted`, `total`); every other list is
 * cut by `boundLists` (output_bound.ts). `diagnose`, `trace`, `agents` and `llm` have files of
 * their own.
 */

import { USER_INBOX } from "@mat/agents/protocol";
import {
  compareSeverity,
  type DiffRecord,
  type ErrorFold,
  queueKey,
  type QueueSampleRecord,
} from "@mat/observer";
import type { Invocation } from "./cli_args.ts";
import { runAgents } from "./agents_command.ts";
import { runDiagnose as diagnoseWindow } from "./diagnose.ts";
import { runLlm } from "./llm_command.ts";
import type { Answer } from "./output_bound.ts";
import type { TimeMachine } from "./time_machine.ts";
import { lagTime } from "./lag_time.ts";
import { rebuiltFrom } from "./state_replay.ts";
import { cut, head, iso } from "./output_document.ts";
import { stateView } from "./state_view.ts";
import { runTrace } from "./trace.ts";
import { windowOf as historyWindow } from "./window_facts.ts";
import { replayWindow, windowRecords } from "./window_records.ts";

const QUEUE_SAMPLES: ReadonlySet<DiffRecord["type"]> = new Set(["queue_sample"] as const);
const ERRORS: ReadonlySet<DiffRecord["type"]> = new Set(["error"] as const);

const ORACLE = "deno task oracle";

/** diagnose bounds itself (diagnose.ts): its answer is the same document at any limit */
export async function runDiagnose(tm: TimeMachine, inv: Invocation): Promise<Answer> {
  const doc = await diagnoseWindow(tm, inv, (asOf) => head(inv, asOf), {
    now: Date.now(),
    oracle: ORACLE,
  });
  return () => structuredClone(doc);
}

function inWindow(t: string, after?: number, before?: number): boolean {
  const ms = Date.parse(t);
  return (after === undefined || ms >= after) && (before === undefined || ms <= before);
}

export async function runErrors(tm: TimeMachine, inv: Invocation): Promise<Answer> {
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
  return (limit) => {
    const { shown, omitted } = cut(filtered, limit);
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
  };
}

export async function runState(tm: TimeMachine, inv: Invocation): Promise<Answer> {
  const at = await tm.stateAt(inv.at);
  const view = stateView(at.state, at.foldOptions.options.userInbox);
  return () => ({
    ...head(inv, at.asOf),
    at: iso(inv.at ?? at.asOf),
    rebuilt_from: rebuiltFrom(at),
    state: view,
  });
}

/** The first `limit` of the records read, and as of the newest of them */
function eventsAt(inv: Invocation, read: { shown: DiffRecord[]; total: number }, limit: number) {
  const shown = read.shown.slice(0, limit);
  return {
    ...head(inv, shown.length ? Date.parse(shown[shown.length - 1]?.ts ?? "") : NaN),
    events: shown,
    total: read.total,
    omitted: read.total - shown.length,
  };
}

export async function runReplay(tm: TimeMachine, inv: Invocation): Promise<Answer> {
  const [after, before] = replayWindow(tm, inv);
  const start = after === undefined ? undefined : await tm.stateAt(after);
  const view = start && stateView(start.state, start.foldOptions.options.userInbox);
  const read = await windowRecords(tm, after, before, inv.limit);
  return (limit) => ({
    ...eventsAt(inv, read, limit),
    window: { after: iso(after ?? NaN), before: iso(before ?? NaN) },
    state_at_start: view ?? null,
  });
}

export async function runDiffs(tm: TimeMachine, inv: Invocation): Promise<Answer> {
  const type = inv.eventType;
  const read = await windowRecords(tm, inv.after, inv.before, inv.limit, type);
  return (limit) => ({
    ...eventsAt(inv, read, limit),
    filters: {
      event_type: type ?? null,
      after: iso(inv.after ?? NaN),
      before: iso(inv.before ?? NaN),
    },
  });
}

export async function runQueues(tm: TimeMachine, inv: Invocation): Promise<Answer> {
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
      // What waits for the group: each partition's end offset minus its committed offset (minus
      // the log start where it committed none), summed; the end offsets alone are no depth
      depth: q.partitions.reduce((n, p) => n + p.lag, 0),
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
  return (limit) => {
    const { shown, omitted } = cut(queues, limit);
    return {
      ...head(inv, at.asOf),
      window: { after: iso(from), before: iso(to) },
      queues: shown,
      total: queues.length,
      omitted,
    };
  };
}

export type Runner = (tm: TimeMachine, inv: Invocation) => Promise<Answer>;

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
